"""Tests for the command line (ganlab.cli): help, train/resume, sample, info, Ctrl-C, errors.

Most commands run in-process through ``ganlab.cli.main`` (a subprocess costs seconds of torch
import); the Ctrl-C test runs ``python -m ganlab`` for real.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import UNPICKLED, Sneaky, fill, remount_read_only, run_cli
from PIL import Image

from ganlab import checkpoint as ckpt
from ganlab.cli import main
from ganlab.presets import preset

TINY = ["--profile", "tiny", "--no-progress"]


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny DCGAN trained for 4 steps, with --gif."""
    out = tmp_path_factory.mktemp("cli") / "dcgan"
    assert main(["train", "dcgan", "--steps", "4", "--out", str(out), "--gif", *TINY]) == 0
    return out


# ---------------------------------------------------------------- help
@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--help"], ["train", "sample", "info"]),
        (["train", "--help"], ["--data", "--steps", "--out", "--profile", "--device", "--resume",
                               "--seed", "--batch-size", "--resolution", "--loss", "--amp",
                               "--compile",
                               "--download", "--data-root", "--gif", "--no-progress",
                               "vanilla", "dcgan", "lsgan", "progan", "r3gan",
                               "relativistic", "loss.r1_weight"]),
        (["sample", "--help"], ["--n", "--seed", "--out", "--device", "--no-ema"]),
        (["info", "--help"], ["--json"]),
    ],
)
def test_help(argv: list[str], words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(argv, capsys)
    assert code == 0
    for word in words:
        assert word in out


# ---------------------------------------------------------------- train, resume, sample, info
def test_train_writes_a_run(dcgan_run: Path) -> None:
    state = ckpt.load_checkpoint(dcgan_run)
    tiny = preset("dcgan", profile="tiny")
    assert state["step"] == 4
    assert state["images_seen"] == 4 * tiny.train.batch_size
    assert (dcgan_run / "config.json").is_file()
    frames = sorted((dcgan_run / "samples").glob("*.png"))
    with Image.open(dcgan_run / "progress.gif") as im:
        assert getattr(im, "n_frames", 1) == len(frames) >= 1


def test_resume_equals_one_long_run(dcgan_run: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    split = tmp_path / "split"
    shutil.copytree(dcgan_run, split)
    code, _, err = run_cli(["train", "dcgan", "--steps", 8, "--out", split, "--resume",
                            "--no-progress"], capsys)
    assert code == 0, err
    whole = tmp_path / "whole"
    code, _, err = run_cli(["train", "dcgan", "--steps", 8, "--out", whole, *TINY], capsys)
    assert code == 0, err
    a, b = ckpt.load_checkpoint(split), ckpt.load_checkpoint(whole)
    assert a["step"] == b["step"] == 8
    for part in ("G", "D"):
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs"


def test_sample_is_deterministic_and_depends_on_seed(dcgan_run: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    paths = [tmp_path / f"{name}.png" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (3, 3, 4)):
        code, _, err = run_cli(["sample", dcgan_run, "--n", 10, "--seed", seed, "--out", path],
                               capsys)
        assert code == 0, err
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()
    r = preset("dcgan", profile="tiny").arch.resolution
    per_row = math.ceil(math.sqrt(10))
    rows = math.ceil(10 / per_row)
    with Image.open(paths[0]) as im:
        assert im.size == (per_row * (r + 2) + 2, rows * (r + 2) + 2)


def _expected_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, C) uint8, written out here, not taken from ganlab."""
    x = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def test_sample_npz_from_a_run_holds_the_raw_images(dcgan_run: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from ganlab.training import load_run

    paths = {seed: tmp_path / f"s{seed}.npz" for seed in (3, 4)}
    for seed, path in paths.items():
        code, _, err = run_cli(["sample", dcgan_run, "--n", 10, "--seed", seed, "--out", path],
                               capsys)
        assert code == 0, err
        assert f"wrote {path}" in err
    r = preset("dcgan", profile="tiny").arch.resolution
    with np.load(paths[3]) as f:
        assert list(f.keys()) == ["images"]
        images = f["images"]
    assert images.dtype == np.uint8 and images.shape == (10, r, r, 3)
    expected = _expected_uint8(load_run(dcgan_run).sample(10, seed=3))
    assert np.array_equal(images, expected)
    with np.load(paths[4]) as f:
        assert not np.array_equal(f["images"], images)  # another seed, other samples
    assert images.std() > 0  # not a constant image


@pytest.mark.parametrize("name", ["dcgan_digits32", "progan_shapes32"])
def test_sample_a_shipped_generator(name: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from ganlab.pretrained import load_pretrained
    from ganlab.training import sample_z

    p = load_pretrained(name)
    c, r = p.config.arch.image_shape[0], p.config.arch.resolution
    out = tmp_path / "raw.npz"
    code, _, err = run_cli(["sample", f"pretrained:{name}", "--n", 6, "--seed", 2, "--out", out],
                           capsys)
    assert code == 0, err
    with np.load(out) as f:
        images = f["images"]
    assert images.shape == (6, r, r, c) and images.dtype == np.uint8
    with torch.no_grad():
        expected = _expected_uint8(p.G(sample_z(6, p.config.arch.latent_dim, seed=2)))
    assert np.array_equal(images, expected)
    grid = tmp_path / "grid.png"  # and a PNG grid, as for a run
    code, _, err = run_cli(["sample", f"pretrained:{name}", "--n", 4, "--out", grid], capsys)
    assert code == 0, err
    with Image.open(grid) as im:
        assert im.size == (2 * (r + 2) + 2, 2 * (r + 2) + 2)


def test_info_reports_progress(dcgan_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["info", dcgan_run], capsys)
    assert code == 0
    assert "step 4" in out and "dcgan" in out
    code, out, _ = run_cli(["info", dcgan_run, "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["checkpoint"]["step"] == 4
    assert info["config"]["model"] == "dcgan"


def test_train_points_with_a_run_directory(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    # The CLI's own example: ganlab train lsgan --data ring8 --steps 3000 --out runs/ring
    code, _, err = run_cli(["train", "lsgan", "--data", "ring8", "--steps", 3, "--out",
                            tmp_path / "ring", *TINY], capsys)
    assert code == 0, err
    assert ckpt.load_checkpoint(tmp_path / "ring")["step"] == 3


# ---------------------------------------------------------------- Ctrl-C
def test_ctrl_c_saves_a_checkpoint_and_resumes(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "GANLAB_PROFILE"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganlab", "train", "dcgan", "--profile", "tiny", "--steps",
         "100000", "--out", str(out), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint.pt").exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted at step" in stdout

    code, text, _ = run_cli(["info", out, "--json"], capsys)
    assert code == 0
    step = json.loads(text)["checkpoint"]["step"]
    assert 0 < step < 100_000
    assert ckpt.load_checkpoint(out)["step"] == step

    code, _, err = run_cli(["train", "dcgan", "--out", out, "--resume", "--steps", step + 2,
                            "--no-progress"], capsys)
    assert code == 0, err
    assert ckpt.load_checkpoint(out)["step"] == step + 2


# ---------------------------------------------------------------- errors a user can fix
def _corrupt_copy(run: Path, tmp_path: Path) -> Path:
    bad = tmp_path / "bad_run"
    shutil.copytree(run, bad)
    data = (bad / "checkpoint.pt").read_bytes()
    (bad / "checkpoint.pt").write_bytes(data[: len(data) // 3])
    return bad


def _mnist_root(tmp_path: Path) -> Path:
    return tmp_path / "no_data_here"


def _altered_copy(run: Path, tmp_path: Path, what: str) -> Path:
    """A copy of ``run`` with one thing wrong with it."""
    bad = tmp_path / f"bad_{what}"
    shutil.copytree(run, bad)
    config = json.loads((bad / "config.json").read_text())
    if what == "pickle":
        torch.save({"format": ckpt.FORMAT, "version": ckpt.VERSION, "G": Sneaky()},
                   bad / "checkpoint.pt")
    elif what == "future":
        config["version"] = 99
        (bad / "config.json").write_text(json.dumps(config))
    elif what == "garbage":
        (bad / "config.json").write_bytes(b"\x00\x01 not json")
    elif what == "ckpt_dir":
        (bad / "checkpoint.pt").unlink()
        (bad / "checkpoint.pt").mkdir()
    elif what == "empty":
        (bad / "checkpoint.pt").write_bytes(b"")
    return bad


def _file(tmp_path: Path) -> Path:
    (tmp_path / "a_file").write_text("not a directory")
    return tmp_path / "a_file"


def _bad_images(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder


ERRORS = {
    "unknown model": (lambda t, r: ["train", "stylegan", "--out", t / "o"], ["stylegan"]),
    "unknown data set": (lambda t, r: ["train", "dcgan", "--data", "imagenet", "--out", t / "o",
                                       *TINY], ["imagenet"]),
    "steps 0": (lambda t, r: ["train", "dcgan", "--steps", "0", "--out", t / "o", *TINY],
                ["--steps"]),
    "negative batch size": (lambda t, r: ["train", "dcgan", "--batch-size", "-1", "--out",
                                          t / "o", *TINY], ["--batch-size"]),
    "dcgan resolution 48": (lambda t, r: ["train", "dcgan", "--resolution", "48", "--out",
                                          t / "o", *TINY], ["48"]),
    "unknown profile option": (lambda t, r: ["train", "dcgan", "--profile", "huge", "--out",
                                             t / "o"], ["huge"]),
    "resume nothing": (lambda t, r: ["train", "dcgan", "--resume", "--out", t / "o", *TINY],
                       ["nothing to resume"]),
    "resume other model": (lambda t, r: ["train", "vanilla", "--resume", "--out", r, *TINY],
                           ["dcgan"]),
    "sample corrupt": (lambda t, r: ["sample", _corrupt_copy(r, t), "--out", t / "x.png"],
                       ["corrupt"]),
    "info corrupt": (lambda t, r: ["info", _corrupt_copy(r, t)], ["corrupt"]),
    "sample not a run": (lambda t, r: ["sample", t, "--out", t / "x.png"], ["not a ganlab run"]),
    "info not a run": (lambda t, r: ["info", t], ["not a ganlab run"]),
    "mnist offline": (lambda t, r: ["train", "vanilla", "--data", "mnist", "--data-root",
                                    _mnist_root(t), "--out", t / "o", *TINY],
                      ["mnist", "download"]),
    # Hostile or damaged runs: every command names the file and refuses.
    "sample pickle": (lambda t, r: ["sample", _altered_copy(r, t, "pickle"), "--out",
                                    t / "x.png"], ["asks to run code", "checkpoint.pt"]),
    "info pickle": (lambda t, r: ["info", _altered_copy(r, t, "pickle")], ["asks to run code"]),
    "resume pickle": (lambda t, r: ["train", "dcgan", "--resume", "--out",
                                    _altered_copy(r, t, "pickle"), "--no-progress"],
                      ["asks to run code"]),
    "sample future config": (lambda t, r: ["sample", _altered_copy(r, t, "future"), "--out",
                                           t / "x.png"], ["config.json", "newer ganlab", "99"]),
    "info future config": (lambda t, r: ["info", _altered_copy(r, t, "future")],
                           ["config.json", "newer ganlab"]),
    "resume future config": (lambda t, r: ["train", "dcgan", "--resume", "--out",
                                           _altered_copy(r, t, "future"), "--no-progress"],
                             ["config.json", "newer ganlab"]),
    "info garbage config": (lambda t, r: ["info", _altered_copy(r, t, "garbage")],
                            ["config.json", "not valid JSON"]),
    "resume garbage config": (lambda t, r: ["train", "dcgan", "--resume", "--out",
                                            _altered_copy(r, t, "garbage"), "--no-progress"],
                              ["config.json", "not valid JSON"]),
    "sample checkpoint is a directory": (lambda t, r: ["sample", _altered_copy(r, t, "ckpt_dir"),
                                                       "--out", t / "x.png"],
                                         ["checkpoint.pt", "directory where a file should be"]),
    "info empty checkpoint": (lambda t, r: ["info", _altered_copy(r, t, "empty")],
                              ["checkpoint.pt", "corrupt"]),
    "info a file": (lambda t, r: ["info", _file(t)], ["a_file", "is a file"]),
    "info missing": (lambda t, r: ["info", t / "nowhere"], ["nowhere", "does not exist"]),
    # Inputs of the wrong kind.
    "sample out not png": (lambda t, r: ["sample", r, "--out", t / "grid.jpg"],
                           ["grid.jpg", ".png", ".npz"]),
    "sample unknown pretrained": (
        lambda t, r: ["sample", "pretrained:nope", "--out", t / "x.npz"],
        ["'nope'", "pretrained:dcgan_shapes64", "run directory"]),
    "sample no samples": (lambda t, r: ["sample", r, "--n", 0, "--out", t / "x.npz"],
                          ["--n", "positive", "got 0"]),
    "sample npz too many": (lambda t, r: ["sample", r, "--n", 1_000_000, "--out", t / "x.npz"],
                            ["--n", "100000"]),
    "sample out is a directory": (lambda t, r: ["sample", r, "--out", t], [
        "directory where a file should be"]),
    "sample too many": (lambda t, r: ["sample", r, "--n", 1_000_000, "--out", t / "x.png"],
                        ["--n", "10000"]),
    "sample unknown device": (lambda t, r: ["sample", r, "--device", "gpu", "--out",
                                            t / "x.png"], ["gpu", "device"]),
    "train unknown device": (lambda t, r: ["train", "dcgan", "--device", "tpu", "--out", t / "o",
                                           *TINY], ["tpu", "device"]),
    "train out under a file": (lambda t, r: ["train", "dcgan", "--steps", 1, "--out",
                                             _file(t) / "o", *TINY],
                               ["a_file", "file where a directory should be"]),
    "train images that are not": (lambda t, r: ["train", "dcgan", "--data",
                                                f"folder:{_bad_images(t)}", "--out", t / "o",
                                                *TINY], ["holiday.jpg", "not a readable image"]),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_are_one_line_with_exit_code_2(case: str, dcgan_run: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    make, words = ERRORS[case]
    before = ckpt.load_checkpoint(dcgan_run)["step"]
    code, out, err = run_cli(make(tmp_path, dcgan_run), capsys)
    assert code == 2
    text = out + err
    assert "Traceback" not in text
    error_lines = [line for line in text.splitlines() if "error:" in line]
    assert len(error_lines) == 1, text
    for word in words:
        assert word in error_lines[0]
    if case == "mnist offline":
        assert str(_mnist_root(tmp_path).resolve()) in error_lines[0]
    # A failed command leaves no half-made run behind and does not touch existing ones.
    assert not (tmp_path / "o").exists()
    assert ckpt.load_checkpoint(dcgan_run)["step"] == before
    assert not (tmp_path / "x.png").exists()
    assert UNPICKLED == []


def test_unknown_profile_in_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GANLAB_PROFILE", "huge")
    code, out, err = run_cli(["train", "dcgan", "--out", tmp_path / "o", "--no-progress"], capsys)
    assert code == 2
    assert "Traceback" not in out + err
    (line,) = [line for line in err.splitlines() if "error:" in line]
    assert "huge" in line and "tiny" in line and "GANLAB_PROFILE" in line


def test_non_ganlab_output_directory_is_untouched(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    code, _, err = run_cli(["train", "dcgan", "--steps", 2, "--out", out, *TINY], capsys)
    assert code == 2
    (line,) = [line for line in err.splitlines() if "error:" in line]
    assert "not empty" in line
    assert sorted(p.name for p in out.iterdir()) == ["holiday.jpg"]
    assert (out / "holiday.jpg").read_bytes() == b"\xff\xd8 not really a jpeg"


def test_cuda_requested_without_cuda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = run_cli(["train", "dcgan", "--device", "cuda", "--steps", 2, "--out",
                            tmp_path / "o", *TINY], capsys)
    assert code == 2
    (line,) = [line for line in err.splitlines() if "error:" in line]
    assert "CUDA" in line
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- --resume keeps the run's settings
def _resume(run: Path, tmp_path: Path, extra: list, capsys) -> tuple[int, str, str, Path]:
    copy = tmp_path / "resumed"
    shutil.copytree(run, copy)
    code, out, err = run_cli(["train", "dcgan", "--resume", "--out", copy, "--steps", 5,
                              "--no-progress", *extra], capsys)
    return code, out, err, copy


@pytest.mark.parametrize(
    ("extra", "option", "detail"),
    [
        (["--seed", 3], "--seed 3", "train.seed 0 -> 3"),
        (["--batch-size", 8], "--batch-size 8", "train.batch_size 16 -> 8"),
        (["--loss", "wgan_gp"], "--loss wgan_gp", "loss.name 'nonsaturating' -> 'wgan_gp'"),
        (["--data", "digits"], "--data digits", "data.name 'shapes' -> 'digits'"),
        (["--resolution", 32], "--resolution 32", "arch.resolution 16 -> 32"),
        (["--profile", "default"], "--profile default", "arch.d_width 8 -> 32"),
        (["--lr-g", "1e-3"], "--lr-g 0.001", "train.lr_g 0.0002 -> 0.001"),
        (["--ema", "0.99"], "--ema 0.99", "train.ema 0.0 -> 0.99"),
        (["--augment", "cutout"], "--augment cutout", "train.augment '' -> 'cutout'"),
        (["--set", "arch.g_width=4"], "--set arch.g_width=4", "arch.g_width 8 -> 4"),
    ],
)
def test_resume_refuses_options_that_change_the_run(extra: list, option: str, detail: str,
                                                    dcgan_run: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    before = (dcgan_run / "checkpoint.pt").read_bytes()
    code, out, err, copy = _resume(dcgan_run, tmp_path, extra, capsys)
    assert code == 2
    (line,) = [line for line in (out + err).splitlines() if "error:" in line]
    assert f"cannot resume {copy} with {option} ({detail}" in line
    assert "another --out" in line
    assert (copy / "checkpoint.pt").read_bytes() == before
    assert (copy / "config.json").read_bytes() == (dcgan_run / "config.json").read_bytes()


def test_resume_accepts_the_run_s_own_values(dcgan_run: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    # The command that made the run, with --resume added, continues it.
    code, out, err, copy = _resume(dcgan_run, tmp_path, ["--profile", "tiny", "--seed", 0,
                                                         "--batch-size", 16, "--data", "shapes",
                                                         "--resolution", 16, "--loss",
                                                         "nonsaturating", "--lr-g", "2e-4",
                                                         "--lr-d", "2e-4", "--ema", "0",
                                                         "--augment", "none", "--set",
                                                         "arch.d_width=8"],
                                 capsys)
    assert code == 0, err
    assert "resume:" not in out + err
    assert ckpt.load_checkpoint(copy)["step"] == 5


def test_resume_applies_amp_and_data_location_and_says_so(
        dcgan_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = tmp_path / "my_data"
    code, out, err, copy = _resume(dcgan_run, tmp_path, ["--amp", "off", "--data-root", where,
                                                         "--download"], capsys)
    assert code == 0, err
    said = [line for line in (out + err).splitlines() if line.startswith("resume:")]
    assert said == ["resume: data.download changed from False to True",
                    f"resume: data.root changed from 'data' to '{where}'",
                    "resume: train.amp changed from 'auto' to 'off'"]
    config = ckpt.read_config(copy)
    assert (config.train.amp, config.data.root, config.data.download) == ("off", str(where), True)
    assert config.train.steps == 5 and ckpt.load_checkpoint(copy)["step"] == 5


def test_train_help_documents_each_option_under_resume(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["train", "--help"], capsys)
    assert code == 0
    text = " ".join(out.split())
    section = text[text.index("with --resume the run keeps"):]
    for option in ("--steps", "--amp", "--compile", "--data-root", "--download", "--device",
                   "--gif",
                   "--no-progress", "--data", "--profile", "--resolution", "--loss",
                   "--batch-size", "--seed"):
        assert option in section, option
    assert "refused" in section and "applied" in section


# ---------------------------------------------------------------- the full profile offline
def test_full_profile_offline_stops_before_training(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import urllib.request

    # The command as a user types it, with every download routed to a closed port.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GANLAB_PROFILE", "full")
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(urllib.request, "_opener", None)
    for model, name in (("dcgan", "celeba"), ("vanilla", "mnist")):
        code, out, err = run_cli(["train", model, "--out", f"runs/{model}", "--no-progress"],
                                 capsys)
        assert code == 2
        assert "Traceback" not in out + err and "training " not in out + err
        (line,) = [line for line in (out + err).splitlines() if "error:" in line]
        assert f"data set {name!r} was not found in {tmp_path / 'data'}" in line
        assert "could not be downloaded" in line and "To get it" in line
        assert "digits, mnist-5k, shapes, ring8, grid25" in line
        assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------- a full disk, for real
def test_a_full_disk_during_training(small_tmpfs, capsys: pytest.CaptureFixture[str]) -> None:
    disk = small_tmpfs(2 << 20)
    out = disk / "run"
    code, _, err = run_cli(["train", "dcgan", "--steps", 2, "--out", out, *TINY], capsys)
    assert code == 0, err
    before = (out / "checkpoint.pt").read_bytes()
    assert len(before) > 200_000
    fill(disk, leave=65536)  # room for config.json and a sample grid, not for a checkpoint
    code, text, err = run_cli(["train", "dcgan", "--steps", 4, "--out", out, "--resume",
                               "--no-progress"], capsys)
    assert code == 2
    assert "Traceback" not in text + err
    (line,) = [line for line in err.splitlines() if "error:" in line]
    assert f"could not write {out / 'checkpoint.pt'}: no space left on the device" in line
    assert "is unchanged; resume from it with --resume" in line
    assert (out / "checkpoint.pt").read_bytes() == before
    assert [p.name for p in out.rglob("*") if ".tmp" in p.name] == []


def test_writing_a_sample_grid_to_a_read_only_disk(dcgan_run: Path, small_tmpfs,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    disk = small_tmpfs(1 << 20)
    remount_read_only(disk)
    code, _, err = run_cli(["sample", dcgan_run, "--out", disk / "grid.png"], capsys)
    assert code == 2
    (line,) = [line for line in err.splitlines() if "error:" in line]
    assert f"{disk / 'grid.png'}: the file system is read-only" in line


# ---------------------------------------------------------------- errors from deep inside
@pytest.mark.parametrize(
    ("error", "words"),
    [
        (PermissionError(13, "Permission denied", "/srv/runs/x/samples"),
         ["could not use /srv/runs/x/samples: permission denied"]),
        (OSError(5, "Input/output error", "/mnt/disk/checkpoint.pt"),
         ["/mnt/disk/checkpoint.pt", "Input/output error", "check the disk"]),
        (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
         ["out of memory", "--batch-size"]),
        (RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate "
                      "memory: you tried to allocate 1099511627776 bytes."),
         ["out of memory"]),
    ],
)
def test_errors_raised_deep_inside_are_one_line(error: Exception, words: list[str],
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from ganlab.training import Trainer

    def fail(self, steps=None):
        raise error

    monkeypatch.setattr(Trainer, "fit", fail)
    code, out, err = run_cli(["train", "dcgan", "--steps", 1, "--out", tmp_path / "o", *TINY],
                             capsys)
    assert code == 2
    (line,) = [line for line in (out + err).splitlines() if "error:" in line]
    for word in words:
        assert word in line


def test_a_bug_still_shows_its_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    # Only errors a user can fix become one line; a programming error must stay visible.
    from ganlab.training import Trainer

    def fail(self, steps=None):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x3 and 5x6)")

    monkeypatch.setattr(Trainer, "fit", fail)
    with pytest.raises(RuntimeError, match="mat1 and mat2"):
        main(["train", "dcgan", "--steps", "1", "--out", str(tmp_path / "o"), *TINY])


def test_train_sets_learning_rates_and_ema(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "dcgan", "--profile", "tiny", "--steps", 2, "--out", out,
                            "--lr-g", "1e-3", "--lr-d", "5e-4", "--ema", "0.9",
                            "--no-progress"], capsys)
    assert code == 0, err
    train = json.loads((out / "config.json").read_text())["train"]
    assert (train["lr_g"], train["lr_d"], train["ema"]) == (1e-3, 5e-4, 0.9)


def test_train_sets_compile_and_a_resume_may_change_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "dcgan", "--profile", "tiny", "--steps", 2, "--out", out,
                            "--compile", "off", "--no-progress"], capsys)
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["train"]["compile"] == "off"
    code, out_text, err = run_cli(["train", "dcgan", "--resume", "--out", out, "--steps", 3,
                                   "--compile", "auto", "--no-progress"], capsys)
    assert code == 0, err
    assert "resume: train.compile changed from 'off' to 'auto'" in out_text + err
    assert json.loads((out / "config.json").read_text())["train"]["compile"] == "auto"


def test_train_refuses_an_unknown_compile_mode(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["train", "dcgan", "--out", tmp_path / "r", "--compile", "maybe"],
                           capsys)
    assert code == 2 and "invalid choice: 'maybe'" in err


def test_train_sets_the_augmentation_policy(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "dcgan", "--profile", "tiny", "--steps", 2, "--out", out,
                            "--augment", " translation, cutout", "--no-progress"], capsys)
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["train"]["augment"] == \
        "translation,cutout"


def test_train_sets_any_config_field(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "progan", "--profile", "tiny", "--out", out,
                            "--set", "arch.images_per_fade=16", "--set", "arch.batch_sizes=4",
                            "--set", "train.lr_g=3e-3", "--set", "loss.gp_weight=5",
                            "--no-progress"], capsys)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    arch = config["arch"]
    assert (arch["images_per_fade"], arch["batch_sizes"]) == (16, [4])
    assert (config["train"]["lr_g"], config["loss"]["gp_weight"]) == (3e-3, 5.0)
    # The run still lasts exactly its growth schedule: 32 images at 4x4, then 16 + 32 at 8x8 and
    # at 16x16, four images a step.
    assert config["train"]["steps"] == (32 + 2 * (16 + 32)) // 4
    assert ckpt.load_checkpoint(out)["step"] == config["train"]["steps"]


def test_progan_resolution_sets_the_length_of_the_run() -> None:
    # --resolution 64 adds a stage: the run must last until its schedule ends, not the preset's.
    from ganlab.cli import build_parser, config_from_args
    from ganlab.models.progan import steps_for_schedule, total_images

    args = build_parser().parse_args(["train", "progan", "--profile", "default", "--resolution",
                                      "64", "--out", "unused"])
    config = config_from_args(args)
    assert config.arch.resolution == 64
    assert config.train.steps == steps_for_schedule(config.arch)
    assert config.train.steps * 16 == total_images(config.arch)  # one batch size, 16
    assert config.train.steps > preset("progan", profile="default").train.steps


@pytest.mark.parametrize(("value", "message"), [
    ("arch.g_width", "expected SECTION.FIELD=VALUE such as arch.max_channels=64, got "
     "'arch.g_width'"),
    ("model.x=1", "unknown config section 'model' in 'model.x=1'; choose from arch, data, loss, "
     "train"),
    ("train.steps=9", "set the number of steps with --steps, not --set train.steps"),
    ("arch.nope=3", "DCGANConfig has no field 'nope' (arch.nope); valid: arch.resolution, "),
    ("arch.g_width=-2", "DCGANConfig.g_width must be a positive integer, got -2"),
])
def test_train_rejects_bad_settings(value: str, message: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["train", "dcgan", "--profile", "tiny", "--out", tmp_path / "r",
                              "--set", value], capsys)
    assert code == 2
    assert message in out + err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--lr-g", "0", "a learning rate must lie in (0, 1), got 0"),
    ("--lr-d", "fast", "expected a learning rate such as 2e-4, got 'fast'"),
    ("--ema", "1", "an EMA decay must lie in [0, 1) (0: off), got 1"),
    ("--augment", "translation,flip", "unknown augmentation 'flip': choose from translation, "
     "cutout, color"),
])
def test_train_rejects_bad_rates(option: str, value: str, message: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["train", "dcgan", "--profile", "tiny", "--out", tmp_path / "r",
                              option, value], capsys)
    assert code == 2
    assert message in out + err
    assert not (tmp_path / "r").exists()
