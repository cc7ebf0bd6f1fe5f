"""The generators shipped in ganlab/pretrained: each loads safely, matches its recorded config and
command, and generates images of the right shape.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shlex

import pytest
import torch

from ganlab import pretrained as pt
from ganlab.cli import build_parser, config_from_args
from ganlab.config import RunConfig
from ganlab.latent import generate
from ganlab.training import sample_z

EXPECTED = {  # name: (model, data, resolution, channels)
    "dcgan_digits32": ("dcgan", "digits", 32, 1),
    "dcgan_mnist32": ("dcgan", "mnist-5k", 32, 1),
    "dcgan_shapes64": ("dcgan", "shapes", 64, 3),
    "progan_shapes32": ("progan", "shapes", 32, 3),
    "r3gan_shapes32": ("r3gan", "shapes", 32, 3),
}
MAX_TOTAL_BYTES = 5_000_000

MANIFEST = json.loads((pt.PRETRAINED_DIR / pt.MANIFEST_NAME).read_text())["models"]


def test_the_course_generators_are_all_there():
    assert set(EXPECTED) <= set(pt.pretrained_names())


def test_total_size_is_small():
    total = sum((pt.PRETRAINED_DIR / info["file"]).stat().st_size for info in MANIFEST.values())
    assert total <= MAX_TOTAL_BYTES, f"pretrained weights take {total / 1e6:.1f} MB"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_file_is_weights_only_and_matches_manifest(name):
    info = MANIFEST[name]
    path = pt.PRETRAINED_DIR / info["file"]
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == info["sha256"]
    assert len(data) == info["bytes"]
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert state["format"] == pt.PRETRAINED_FORMAT
    assert set(state) == {"format", "version", "config", "G", "step", "images_seen"}
    assert state["step"] == info["step"] and state["images_seen"] == info["images_seen"]
    config = RunConfig.from_dict(state["config"])
    model, data_name, resolution, channels = EXPECTED[name]
    assert (config.model, config.data.name) == (model, data_name) == (info["model"], info["data"])
    assert config.arch.resolution == resolution == info["resolution"]
    assert config.arch.image_shape == (channels, resolution, resolution)
    assert config.arch.latent_dim == info["latent_dim"]
    floats = [v for v in state["G"].values() if v.is_floating_point()]
    assert sum(v.numel() for v in floats) == info["stored_values"]
    assert all(v.dtype == getattr(torch, info["dtype"]) for v in floats)


def config_of_command(command: str) -> RunConfig:
    """The RunConfig that ``ganlab train ...`` builds for a new run."""
    argv = shlex.split(command)
    assert argv[:2] == ["ganlab", "train"], command
    return config_from_args(build_parser().parse_args(argv[1:] + ["--out", "unused"]))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_command_builds_the_stored_config(name):
    """Re-running the manifest's command trains exactly this configuration."""
    info = MANIFEST[name]
    state = torch.load(pt.PRETRAINED_DIR / info["file"], map_location="cpu", weights_only=True)
    stored = RunConfig.from_dict(state["config"])
    expected = config_of_command(info["command"])
    hint = (f"the presets behind `{info['command']}` changed since {info['file']} was trained; "
            f"re-create it with `scripts/train_pretrained.sh {name}`")
    assert stored.model == expected.model, hint
    assert stored.arch == expected.arch, hint
    # How often a run logs, snapshots and checkpoints does not change its weights.
    cadence = ("log_every", "sample_every", "checkpoint_every", "checkpoint_minutes")
    assert (dataclasses.replace(stored.train, **{f: getattr(expected.train, f) for f in cadence})
            == expected.train), hint
    assert stored.loss == expected.loss, hint
    for field in ("name", "resolution", "size", "seed"):
        assert getattr(stored.data, field) == getattr(expected.data, field), hint
    assert state["step"] == stored.train.steps, "the run stopped before its last step"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loads_as_float32_and_generates_images(name):
    p = pt.load_pretrained(name)
    assert not p.G.training
    assert all(t.dtype == torch.float32 for t in p.G.parameters())
    _, _, resolution, channels = EXPECTED[name]
    z = sample_z(8, p.config.arch.latent_dim, seed=0)
    x = generate(p.G, z)
    assert x.shape == (8, channels, resolution, resolution)
    assert torch.isfinite(x).all()
    # A trained G: different seeds give different pictures, not one blob or noise of zeros.
    assert x.std(0).mean() > 0.05
    if p.config.model == "progan":
        for stage in range(p.config.arch.num_stages):
            small = p.G(z, stage=stage, alpha=0.5 if stage else 1.0)
            side = 4 * 2**stage
            assert small.shape == (8, channels, side, side)


# What each shipped generator scores on 1,000 samples of latent seed 1 as a share of real by the
# course's judges (ganlab/pretrained/scores.json, the table in ganlab/pretrained/README.md), less
# a margin: a file that regressed to blobs fails here. The shape judge is the one shipped in
# ganlab/judges (a judge trained where it is used depends on the thread count).
SCORES = json.loads((pt.PRETRAINED_DIR / "scores.json").read_text())


@pytest.mark.parametrize("name", sorted(SCORES["models"]))
def test_shipped_generators_draw_what_their_judge_recognises(name):
    from ganlab import metrics

    p = pt.load_pretrained(name)
    x = generate(p.G, sample_z(1000, p.config.arch.latent_dim, seed=1))
    vs = metrics.recognition_vs_real(x, p.config.data.name)
    recorded = SCORES["models"][name]
    assert vs.of_real >= recorded["course_of_real"] - 0.05, (name, str(vs), recorded)
    assert vs.real_share == pytest.approx(recorded["course_real"])
    if isinstance(vs.samples, metrics.DigitRecognition):
        assert vs.samples.classes == 10, vs


def test_every_judged_generator_is_scored_and_the_readme_shows_scores_json():
    import importlib.util
    from pathlib import Path

    from ganlab import metrics

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("score_pretrained",
                                                  root / "scripts/score_pretrained.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    judged = {name for name in MANIFEST
              if metrics.recognisable(pt.load_pretrained(name).config.data.name,
                                      pt.load_pretrained(name).config.data.resolution)}
    assert set(SCORES["models"]) == judged
    text = (pt.PRETRAINED_DIR / "README.md").read_text()
    block = text.split(module.BEGIN, 1)[1].split(module.END, 1)[0]
    assert block.strip() == module.render(SCORES).strip(), (
        "ganlab/pretrained/README.md's table is not scores.json: run python "
        "scripts/score_pretrained.py")


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(ValueError, match="dcgan_digits32"):
        pt.load_pretrained("stylegan_ffhq")


def test_the_files_are_package_data():
    """A non-editable install ships what pyproject's package-data names: every file the manifest
    lists, and the manifest itself, must match a glob of the ganlab.pretrained package."""
    import fnmatch
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    block = re.search(r"^\[tool\.setuptools\.package-data\]\n(.*?)(?:^\[|\Z)", text, re.M | re.S)
    assert block, "pyproject.toml has no [tool.setuptools.package-data]"
    line = re.search(r'^"?ganlab\.pretrained"?\s*=\s*\[(.*?)\]', block.group(1), re.M)
    assert line, "no package-data entry for ganlab.pretrained"
    globs = re.findall(r'"([^"]+)"', line.group(1))
    names = [info["file"] for info in MANIFEST.values()] + [pt.MANIFEST_NAME]
    for name in names:
        assert any(fnmatch.fnmatch(name, g) for g in globs), f"{name} would not be installed"


# ---------------------------------------------------------------- hostile or broken files
def _copy_registry(tmp_path, name="dcgan_digits32"):
    import shutil

    manifest = json.loads((pt.PRETRAINED_DIR / "manifest.json").read_text())
    manifest["models"] = {name: manifest["models"][name]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    shutil.copy(pt.PRETRAINED_DIR / manifest["models"][name]["file"], tmp_path)
    return tmp_path / manifest["models"][name]["file"]


def test_a_file_that_asks_to_run_code_is_refused_without_running_it(tmp_path):
    from conftest import UNPICKLED, Sneaky

    from ganlab.checkpoint import CheckpointError

    path = _copy_registry(tmp_path)
    torch.save({"format": pt.PRETRAINED_FORMAT, "config": Sneaky()}, path)
    before = len(UNPICKLED)
    with pytest.raises(CheckpointError, match="cannot be read.*refused.*train_pretrained"):
        pt.load_pretrained("dcgan_digits32", directory=tmp_path)
    assert len(UNPICKLED) == before  # the pickled call never ran


@pytest.mark.parametrize("content, match", [
    (b"not a torch file at all", "cannot be read"),
    (None, "is missing.*train_pretrained"),
])
def test_corrupt_or_missing_files_name_the_path_and_the_fix(tmp_path, content, match):
    from ganlab.checkpoint import CheckpointError

    path = _copy_registry(tmp_path)
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match) as err:
        pt.load_pretrained("dcgan_digits32", directory=tmp_path)
    assert str(path) in str(err.value)


def test_foreign_or_broken_weights_are_refused(tmp_path):
    from ganlab.checkpoint import CheckpointError

    path = _copy_registry(tmp_path)
    state = torch.load(path, weights_only=True)
    torch.save({"format": "something-else"}, path)
    with pytest.raises(CheckpointError, match="not a ganlab pretrained generator"):
        pt.load_pretrained("dcgan_digits32", directory=tmp_path)
    state["G"] = {k: v[..., :1] if v.dim() else v for k, v in state["G"].items()}  # wrong shapes
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="broken config or weights"):
        pt.load_pretrained("dcgan_digits32", directory=tmp_path)
