"""Tests for ganlab.training.rundir: one process trains in a run directory at a time.

The lock is tested between real processes: ``python -m ganlab train`` (or a small helper that
holds a run directory through the Python API) in a subprocess, and this test process trying the
same directory through the CLI and the Python API. The other run-directory rules (fresh runs,
resume, damaged files, full and read-only disks) are in tests/test_training.py and
tests/test_cli.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli

from ganlab import checkpoint as ckpt
from ganlab.presets import preset
from ganlab.training import RunDirBusyError, RunDirError, Trainer
from ganlab.training.rundir import LOCK_NAME

ROOT = Path(__file__).resolve().parents[1]
RING = ["lsgan", "--data", "ring8", "--profile", "tiny", "--device", "cpu", "--no-progress"]
RESUME = ["lsgan", "--device", "cpu", "--no-progress", "--resume"]  # the run's own settings
WAIT_S = 120  # a subprocess imports torch first: seconds on a loaded CI machine

# Holds DIR through the Python API, as a notebook kernel would, until its stdin closes (then exits
# normally) or it is killed.
HOLDER = """
import sys
from ganlab.training import Trainer
trainer = Trainer(None, out_dir=sys.argv[1], device="cpu", progress=False, resume=True)
print("holding", flush=True)
sys.stdin.read()
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "GANLAB_PROFILE"}
    env["OMP_NUM_THREADS"] = "1"  # the trainer and the processes that start beside it share 2 cores
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _ring_config(**overrides):  # noqa: ANN202 - a RunConfig
    values = dict(train__batch_size=32, data__size=2000, train__n_samples=32, train__steps=3)
    values.update(overrides)
    return preset("lsgan", "ring8", profile="tiny", **values)


def _saved_run(out: Path) -> bytes:
    with Trainer(_ring_config(), out_dir=out, device="cpu", progress=False) as trainer:
        trainer.fit()
    return (out / ckpt.CHECKPOINT_NAME).read_bytes()


def _holder_pid(out: Path) -> int | None:
    try:
        return json.loads((out / LOCK_NAME).read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def _wait(proc: subprocess.Popen, done, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + WAIT_S
    while not done():
        assert proc.poll() is None, f"the other process ended first: {proc.communicate()}"
        assert time.monotonic() < deadline, f"no {what} within {WAIT_S} s"
        time.sleep(0.05)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_a_busy_run_directory_is_refused_and_names_its_holder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganlab", "train", *RING, "--steps", "10000000", "--out", str(out),
         "--set", "train.sample_every=10000000", "--set", "train.checkpoint_every=200"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        _wait(proc, lambda: (out / ckpt.CHECKPOINT_NAME).exists(), "checkpoint")
        assert _holder_pid(out) == proc.pid
        holder = f"PID {proc.pid} on {socket.gethostname()}"
        # A second `ganlab train`, a real process: exit status 2 and one line naming the holder.
        second = subprocess.run(
            [sys.executable, "-m", "ganlab", "train", *RESUME, "--steps", "5", "--out", str(out)],
            capture_output=True, text=True, env=_env(), timeout=WAIT_S)
        assert second.returncode == 2, second.stderr
        (line,) = second.stderr.strip().splitlines()
        assert line.startswith(f"ganlab train: error: {out} is in use by another process "
                               f"({holder}, since "), line
        assert "ganlab train lsgan --data ring8" in line and "choose another --out" in line
        # The Python API, from this process: RunDirBusyError, a RunDirError.
        with pytest.raises(RunDirBusyError, match=f"is in use by another process .{holder}"):
            Trainer(None, out_dir=out, device="cpu", progress=False, resume=True)
        assert issubclass(RunDirBusyError, RunDirError)
        assert _holder_pid(out) == proc.pid  # the refused attempts left the lock alone
        # Ctrl-C: the holder saves, exits and releases the directory.
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=WAIT_S)
        assert proc.returncode == 130, stderr
    finally:
        _stop(proc)
    assert not (out / LOCK_NAME).exists()
    step = ckpt.load_checkpoint(out)["step"]
    code, _, err = run_cli(["train", *RESUME, "--steps", step + 2, "--out", out],
                           capsys)
    assert code == 0, err
    assert "took over" not in err  # nothing stale: the holder had released it
    assert ckpt.load_checkpoint(out)["step"] == step + 2
    assert not (out / LOCK_NAME).exists()  # released at the end of `ganlab train`


def test_a_python_holder_releases_at_its_normal_exit(tmp_path: Path) -> None:
    out = tmp_path / "run"
    before = _saved_run(out)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())
    try:
        assert proc.stdout.readline().strip() == "holding", proc.communicate()
        assert _holder_pid(out) == proc.pid
        with pytest.raises(RunDirBusyError, match=f"PID {proc.pid} on"):
            Trainer(None, out_dir=out, device="cpu", progress=False, resume=True)
        _, stderr = proc.communicate("", timeout=WAIT_S)  # closes its stdin: it exits normally
        assert proc.returncode == 0, stderr
    finally:
        _stop(proc)
    assert not (out / LOCK_NAME).exists()
    assert (out / ckpt.CHECKPOINT_NAME).read_bytes() == before  # nobody wrote while refused


def test_the_lock_of_a_killed_process_is_taken_over_with_a_note(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    _saved_run(out)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())
    try:
        assert proc.stdout.readline().strip() == "holding", proc.communicate()
        proc.send_signal(signal.SIGKILL)  # no chance to release: the lock file stays
        proc.communicate(timeout=WAIT_S)
    finally:
        _stop(proc)
    assert _holder_pid(out) == proc.pid
    code, _, err = run_cli(["train", *RESUME, "--steps", 5, "--out", out], capsys)
    assert code == 0, err
    notes = [line for line in err.splitlines() if "took over" in line]
    assert len(notes) == 1, err
    assert notes[0].startswith(f"{out}: took over the lock of PID {proc.pid} on "
                               f"{socket.gethostname()}, since "), notes[0]
    assert notes[0].endswith("which no longer holds it (it ended without releasing it, e.g. "
                             "killed)"), notes[0]
    assert ckpt.load_checkpoint(out)["step"] == 5
    assert not (out / LOCK_NAME).exists()


def test_exceptions_release_and_a_failed_new_run_leaves_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from ganlab.training import TrainingDiverged

    out = tmp_path / "run"
    _saved_run(out)

    def diverge(self, steps=None):  # noqa: ANN001, ANN202
        assert _holder_pid(out) == os.getpid()  # held while it trains
        raise TrainingDiverged("loss_D became NaN/inf at step 4")

    monkeypatch.setattr(Trainer, "fit", diverge)
    code, _, err = run_cli(["train", *RESUME, "--steps", 5, "--out", out], capsys)
    assert code == 2 and "became NaN" in err
    assert not (out / LOCK_NAME).exists()
    with pytest.raises(TrainingDiverged), Trainer(None, out_dir=out, device="cpu",
                                                  progress=False, resume=True) as trainer:
        trainer.fit()
    assert not (out / LOCK_NAME).exists()
    # A new run that fails before it starts (here: its data) leaves no directory behind.
    new = tmp_path / "runs" / "new"
    with pytest.raises(ValueError, match="expects"):
        Trainer(_ring_config(), out_dir=new, device="cpu", progress=False,
                data=_image_data())
    assert not (tmp_path / "runs").exists()


def _image_data():  # noqa: ANN202 - a TensorData of images, which the ring's MLP refuses
    from ganlab.data import load

    return load("shapes", resolution=4, size=8)


def test_trainers_of_one_process_share_the_directory(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = Trainer(_ring_config(), out_dir=out, device="cpu", progress=False)
    first.fit()
    second = Trainer(None, out_dir=out, device="cpu", progress=False, resume=True)
    assert _holder_pid(out) == os.getpid()
    first.close()
    assert _holder_pid(out) == os.getpid()  # the second one still holds it
    with pytest.raises(RunDirError, match="this Trainer was closed"):
        first.fit(5)
    second.fit(5)
    second.close()
    assert not (out / LOCK_NAME).exists()
    assert ckpt.load_checkpoint(out)["step"] == 5


def test_a_lock_left_in_an_empty_directory_does_not_block_a_new_run(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_NAME).write_text(json.dumps({"pid": 999999, "host": "elsewhere",
                                             "since": "2020-01-01 00:00:00",
                                             "command": "ganlab train lsgan"}) + "\n")
    with Trainer(_ring_config(), out_dir=out, device="cpu", progress=False) as trainer:
        trainer.fit()
    err = capfd.readouterr().err
    assert (f"{out}: took over the lock of PID 999999 on elsewhere, since 2020-01-01 00:00:00: "
            "ganlab train lsgan, which no longer holds it") in err
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.json", "samples"]
