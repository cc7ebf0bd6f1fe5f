"""Structural tests for the course notebooks (nbval runs them; these check how they are committed).

Numbered ``NN_topic.ipynb`` from 00 without gaps; committed executed, in order, without errors;
built on ``ganlab`` (no model classes of their own); at least three ``# NBVAL_CHECK_OUTPUT``
cells; a first cell that states the profiles and a final exercises section.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
MIN_NOTEBOOKS = 5  # 00_introduction .. 04_progan
FOUND = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
INDICES = list(range(max(MIN_NOTEBOOKS, len(FOUND))))
MODULE_BASES = re.compile(r"\b(Module|Sequential|ModuleList|ModuleDict)\b")
CLASS_DEF = re.compile(r"^\s*class\s+\w+\s*\(([^)]*)\)", re.M)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _notebook(index: int) -> tuple[Path, dict]:
    matches = [p for p in FOUND if p.name.startswith(f"{index:02d}_")]
    assert len(matches) == 1, f"expected one notebooks/{index:02d}_*.ipynb, found {matches}"
    return matches[0], json.loads(matches[0].read_text())


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and _source(c).strip()]


def test_notebooks_are_numbered_from_00_without_gaps() -> None:
    numbers = [int(p.name[:2]) for p in FOUND]
    assert len(numbers) >= MIN_NOTEBOOKS, f"expected at least 00..04, found {numbers}"
    assert numbers == list(range(len(numbers))), numbers


@pytest.mark.parametrize("index", INDICES, ids=[f"{i:02d}" for i in INDICES])
def test_notebook_is_committed_executed_in_order(index: int) -> None:
    path, nb = _notebook(index)
    counts = [c.get("execution_count") for c in _code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts {counts}; run it top to bottom (make notebooks)")
    errors = [c.get("execution_count") for c in _code_cells(nb)
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: cells {errors} were committed with errors"


@pytest.mark.parametrize("index", INDICES, ids=[f"{i:02d}" for i in INDICES])
def test_notebook_uses_the_package_and_defines_no_models(index: int) -> None:
    path, nb = _notebook(index)
    code = "\n".join(_source(c) for c in _code_cells(nb))
    assert re.search(r"^\s*(import ganlab|from ganlab\b)", code, re.M), (
        f"{path.name} never imports ganlab")
    modules = [bases for bases in CLASS_DEF.findall(code) if MODULE_BASES.search(bases)]
    assert not modules, f"{path.name} defines nn.Module subclasses ({modules}); use ganlab's"


@pytest.mark.parametrize("index", INDICES, ids=[f"{i:02d}" for i in INDICES])
def test_notebook_has_checked_outputs(index: int) -> None:
    path, nb = _notebook(index)
    checked = [c for c in _code_cells(nb)
               if _source(c).lstrip().startswith("# NBVAL_CHECK_OUTPUT")]
    with_outputs = [c for c in checked if c.get("outputs")]
    assert len(with_outputs) >= 3, (
        f"{path.name}: {len(checked)} '# NBVAL_CHECK_OUTPUT' cells, {len(with_outputs)} with "
        "committed outputs; need at least 3")


@pytest.mark.parametrize("index", INDICES, ids=[f"{i:02d}" for i in INDICES])
def test_notebook_opens_with_profiles_and_ends_with_exercises(index: int) -> None:
    path, nb = _notebook(index)
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown", f"{path.name}: the first cell must be markdown"
    text = _source(first).lower()
    assert "profile" in text, f"{path.name}: the first cell must say how long each profile takes"
    for name in ("tiny", "default", "full"):
        assert name in text, f"{path.name}: the first cell does not mention the {name} profile"
    markdown = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    last_texts = [_source(nb["cells"][-1]), _source(markdown[-1])]
    assert any("exercise" in t.lower() for t in last_texts), (
        f"{path.name}: the notebook must end with exercises")
