"""Tests for ``ganlab eval`` (ganlab.cli + ganlab.evaluation.evaluate_source): the table with its
real-data floors, JSON, determinism, pretrained generators and the errors a user can fix.

A small shape judge (seconds to train) stands in for the full one (about a minute) through the
judge registry; everything else is what the command does.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import run_cli

from ganlab import evaluation, metrics
from ganlab.cli import main
from ganlab.evaluation import Judge

TINY = ["--profile", "tiny", "--no-progress"]
SCORES = ("FD", "KIDx1e3", "density", "coverage", "SWDx1e3", "copyZ")


@pytest.fixture(autouse=True)
def small_shape_judge(monkeypatch: pytest.MonkeyPatch) -> Judge:
    judge = Judge("small shape judge (test)",
                  lambda: metrics.shape_classifier(32, n=1024, steps=60), 32, 3)
    monkeypatch.setitem(evaluation.JUDGES, "shapes", judge)
    return judge


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny DCGAN on 16x16 shapes (its training set holds 512 images)."""
    out = tmp_path_factory.mktemp("eval") / "dcgan"
    assert main(["train", "dcgan", "--steps", "2", "--out", str(out), *TINY]) == 0
    return out


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "ring"
    assert main(["train", "lsgan", "--data", "ring8", "--steps", "2", "--out", str(out),
                 *TINY]) == 0
    return out


def test_help_lists_eval(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["--help"], capsys)
    assert code == 0 and "eval" in out
    code, out, _ = run_cli(["eval", "--help"], capsys)
    assert code == 0
    for word in ("--n", "--seed", "--json", "pretrained:NAME", "floor", "protocol", "shapes",
                 "ring8"):
        assert word in out, word


def test_eval_prints_every_metric_beside_its_floor(dcgan_run: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["eval", dcgan_run, "--n", 100], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert "real floor" in lines[0]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[2:] if line.split()
            and line.split()[0] in SCORES}
    assert set(rows) == set(SCORES)
    for score, floor in rows.values():
        assert math.isfinite(float(score)) and math.isfinite(float(floor))
    protocol = lines[-1]
    for word in ("protocol: n=100", "shapes 16px size 512 seed 0 (training set)",
                 "[0, 100) (floor [100, 200))", "small shape judge", "sha256:",
                 "bilinear 16->32 px", "seed 0"):
        assert word in protocol, (word, protocol)


def test_eval_json_is_deterministic_and_follows_the_seed(dcgan_run: Path, tmp_path: Path,
                                                         capsys) -> None:
    paths = [tmp_path / f"{i}.json" for i in range(3)]
    for path, seed in zip(paths, (0, 0, 1)):
        code, _, err = run_cli(["eval", dcgan_run, "--n", 60, "--seed", seed, "--json", path],
                               capsys)
        assert code == 0, err
    a, b, c = (json.loads(p.read_text()) for p in paths)
    assert a == b
    assert a["protocol"]["seed"] == 0 and c["protocol"]["seed"] == 1
    assert a["scores"] != c["scores"]
    assert set(SCORES) <= set(a["scores"]) and set(a["scores"]) == set(a["floors"])
    assert a["source"] == str(dcgan_run) and a["protocol"]["n"] == 60
    code, out, _ = run_cli(["eval", dcgan_run, "--n", 60, "--json", "-"], capsys)
    assert code == 0 and json.loads(out) == a


def test_eval_of_a_point_run_reports_modes(ring_run: Path, capsys) -> None:
    code, out, err = run_cli(["eval", ring_run, "--n", 500], capsys)
    assert code == 0, err
    assert "modes" in out and "HQ%" in out and "SWDx1e3" not in out
    floor_modes = next(line for line in out.splitlines() if line.startswith("modes")).split()[2]
    assert floor_modes == "8"
    assert "the points themselves" in out


def test_eval_pretrained(capsys) -> None:
    code, out, err = run_cli(["eval", "pretrained:progan_shapes32", "--n", 50], capsys)
    assert code == 0, err
    assert "shapes 32px size 8192 seed 0 (training set)" in out and "resize none" in out
    # The judge's verdict as a share of real, with held-out real shapes as its floor.
    rows = {line.split()[0]: line.split()[1:3] for line in out.splitlines() if line.strip()}
    assert float(rows["of_real"][1]) == 1.0 and 0.5 < float(rows["of_real"][0]) <= 1.05
    assert float(rows["recognised"][1]) > 0.95
    assert "judge: " in out and "of real (held-out real shapes at 32 px" in out


@pytest.mark.parametrize(
    ("source", "extra", "pattern"),
    [
        ("pretrained:dcgan_digits32", [], r"no judge .* 'digits'.*shapes.*ring8, grid25"),
        ("pretrained:nope", [], r"no pretrained generator 'nope'; available: pretrained:"),
        ("DCGAN", ["--n", "300"], r"--n 300 is too many .* 512 examples.*--n 256 or fewer"),
        ("missing", [], r"nothing does not exist: evaluate a run directory .*pretrained:"),
    ],
)
def test_eval_errors_say_what_to_do(source: str, extra: list[str], pattern: str,
                                    dcgan_run: Path, tmp_path: Path, capsys) -> None:
    import re

    if source == "DCGAN":
        source = str(dcgan_run)
    elif source == "missing":
        source = str(tmp_path / "nothing")
    code, _, err = run_cli(["eval", source, *extra], capsys)
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("ganlab eval: error: ")]
    assert len(errors) == 1 and err.strip().endswith(errors[0]), err  # one line, no traceback
    assert re.search(pattern, errors[0]), err


def test_evaluate_source_matches_evaluate_on_the_same_samples(dcgan_run: Path) -> None:
    from ganlab.data import load_config
    from ganlab.training import load_run

    result = evaluation.evaluate_source(dcgan_run, n=40, seed=3)
    run = load_run(dcgan_run)
    samples = run.sample(40, seed=3)
    data = load_config(run.config.data)
    direct = evaluation.evaluate(samples, data, n=40, seed=3,
                                 reference=evaluation.describe_data(run.config.data, len(data)))
    assert direct.scores == result.scores and direct.protocol == result.protocol
    assert torch.equal(evaluation.generate_samples(run.G, 40, 3), samples)
