"""docs/quality.md is rendered from committed results, and its verdicts follow the targets."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _script():
    path = ROOT / "scripts" / "quality_table.py"
    spec = importlib.util.spec_from_file_location("quality_table", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _runs(model: str, of_real: list[float], **extra) -> list[dict]:
    return [{"model": model, "seed": s, "of_real": v, **{k: x[s] for k, x in extra.items()}}
            for s, v in enumerate(of_real)]


def test_committed_doc_matches_the_results_it_is_rendered_from() -> None:
    assert _script().main(["--check"]) == 0, "run python scripts/quality_table.py"


def test_every_row_source_is_committed_and_holds_its_runs() -> None:
    q = _script()
    for row in q.ROWS:
        runs = q.runs_of(row)
        assert runs and all("of_real" in r for r in runs), row.where
        if row.source != q.PRETRAINED:
            assert sorted(r["seed"] for r in runs) == [0, 1, 2], row.where  # three seeds


def test_targets_are_judged_on_the_mean_over_seeds(tmp_path: Path) -> None:
    q = _script()
    (tmp_path / "r.json").write_text(json.dumps(
        _runs("a", [0.70, 0.80, 0.78], kl_uniform=[0.02, 0.07, 0.03])
        + _runs("b", [0.76, 0.77, 0.80])))
    row = q.Row("x", "r.json", "a", "cmd", {"of_real": (">=", 0.75), "kl_uniform": ("<=", 0.05)})
    v = q.verdicts(row, q.runs_of(row, tmp_path), tmp_path)
    assert v["of_real"][1] is True          # mean 0.76 >= 0.75 though seed 0 is below
    assert v["kl_uniform"][1] is True       # mean 0.04 <= 0.05 though seed 1 is above
    strict = q.Row("x", "r.json", "a", "cmd", {"of_real": (">=", 0.77)})
    assert q.verdicts(strict, q.runs_of(strict, tmp_path), tmp_path)["of_real"] == (0.77, False)
    # a bound read from another model in the same file: b's mean 0.777 is above a's 0.76
    versus = q.Row("x", "r.json", "a", "cmd", {"of_real": (">=", "mean:b")})
    bound, met = q.verdicts(versus, q.runs_of(versus, tmp_path), tmp_path)["of_real"]
    assert bound == pytest.approx((0.76 + 0.77 + 0.80) / 3) and met is False


def test_a_missing_source_names_the_command_that_makes_it(tmp_path: Path) -> None:
    q = _script()
    row = q.Row("x", "gone.json", "a", "python scripts/recipe_quality.py --model a")
    with pytest.raises(FileNotFoundError, match="recipe_quality.py --model a"):
        q.runs_of(row, tmp_path)
    (tmp_path / "gone.json").write_text(json.dumps(_runs("b", [0.5])))
    with pytest.raises(ValueError, match="no runs of 'a'"):
        q.runs_of(row, tmp_path)


def test_cells_show_mean_and_range() -> None:
    q = _script()
    runs = _runs("a", [0.70, 0.80, 0.78])
    assert q._cell(runs, "of_real") == "0.760 (0.700–0.800)"
    assert q._cell(runs[:1], "of_real") == "0.700"
    assert q._cell(runs, "coverage") == ""  # not measured: an empty cell, not a zero
