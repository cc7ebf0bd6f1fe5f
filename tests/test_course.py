"""Tests for ganlab/course.py, the stale-notebook guard (``make check-notebooks``), the run
record ``make notebooks`` writes, and the table of times in docs/teaching.md. Each failure kind
is shown on a small notebook built here."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest

from ganlab import __version__, course
from ganlab.data import DATA_VERSION

RECORD = {"profile": "default", "ganlab_version": __version__, "data_version": DATA_VERSION,
          "machine": {"cpu": "Some CPU", "gpu": None}, "seconds": 12.5}


def _code(src: str, count: int | None, outputs: list | None = None) -> dict:
    return {"cell_type": "code", "execution_count": count, "metadata": {}, "source": src,
            "outputs": outputs if outputs is not None else []}


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _notebook(record: dict | None = RECORD) -> dict:
    nb = {"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "# 00 · A title\n\ntext"},
        _code("import math", 1),
        _code("# NBVAL_CHECK_OUTPUT\nprint(math.pi)", 2, [_stream("3.14\n")]),
        _code("x = 1\nif x:\n    print('maybe')", 3),  # prints only in a branch: may be silent
    ]}
    if record is not None:
        nb["metadata"]["ganlab"] = copy.deepcopy(record)
    return nb


def _findings(nb: dict, users: tuple[str, ...] = ("alice",)) -> list[course.Finding]:
    return course.check_notebook("00_test.ipynb", nb, users=users)


def _messages(nb: dict, pending: bool | None = None) -> list[str]:
    return [f.message for f in _findings(nb) if pending is None or f.pending == pending]


def test_a_clean_notebook_has_no_findings() -> None:
    assert _findings(_notebook()) == []


def test_unexecuted_cell() -> None:
    nb = _notebook()
    nb["cells"][1]["execution_count"] = None
    (message,) = _messages(nb)
    assert "cell 1 was not executed" in message and "make notebooks" in message


@pytest.mark.parametrize("src", ["# NBVAL_CHECK_OUTPUT\nx = 1", "print(1)", "plt.show()"])
def test_cell_that_must_output_but_has_none(src: str) -> None:
    nb = _notebook()
    nb["cells"].append(_code(src, 4))
    (message,) = _messages(nb)
    assert "cell 4" in message and "has no outputs" in message


def test_execution_counts_out_of_order() -> None:
    nb = _notebook()
    nb["cells"][1]["execution_count"] = 7
    (message,) = _messages(nb)
    assert "execution counts [7, 2, 3]" in message


def test_error_output() -> None:
    nb = _notebook()
    nb["cells"][3]["outputs"] = [{"output_type": "error", "ename": "NameError", "evalue": "x",
                                  "traceback": ["NameError: x"]}]
    (message,) = _messages(nb)
    assert "cell 3 was committed with an error (NameError)" in message


@pytest.mark.parametrize(("key", "value"), [("ganlab_version", "0.0.1"), ("profile", "tiny"),
                                            ("data_version", DATA_VERSION + 1)])
def test_run_record_from_another_version_or_profile(key: str, value: object) -> None:
    (finding,) = _findings(_notebook({**RECORD, key: value}))
    assert not finding.pending
    assert f"executed with {key.replace('_', ' ')} {value!r}" in finding.message


def test_missing_run_record_is_pending_and_strict_makes_it_an_error(tmp_path: Path) -> None:
    (finding,) = _findings(_notebook(record=None))
    assert finding.pending and "no run record" in finding.message
    path = tmp_path / "00_test.ipynb"
    path.write_text(json.dumps(_notebook(record=None)))
    out = io.StringIO()
    assert course.check([path], out=out) == 0
    assert "WARNING: 1 finding(s)" in out.getvalue() and "STRICT=1" in out.getvalue()
    out = io.StringIO()
    assert course.check([path], strict=True, out=out) == 1
    assert "ERROR 00_test.ipynb: no run record" in out.getvalue()


def test_errors_fail_the_check(tmp_path: Path) -> None:
    nb = _notebook()
    nb["cells"][1]["execution_count"] = None
    path = tmp_path / "00_test.ipynb"
    path.write_text(json.dumps(nb))
    out = io.StringIO()
    assert course.check([path], out=out) == 1
    assert "1 error(s), 0 warning(s)" in out.getvalue()


def test_outputs_over_a_megabyte_are_pending() -> None:
    nb = _notebook()
    png = {"output_type": "display_data", "metadata": {},
           "data": {"image/png": "A" * 600_000, "text/plain": "<Figure>"}}
    nb["cells"][3]["outputs"] = [png, copy.deepcopy(png)]
    (finding,) = _findings(nb)
    assert finding.pending and "outputs take 1.20 MB" in finding.message
    assert "cell 3: 0.60 MB" in finding.message


@pytest.mark.parametrize("text", ["wrote /home/alice/runs/grid.png", "run in /tmp/ganlab_x1/run",
                                  "C:\\\\Users\\\\alice\\\\runs", "hello alice", "/Users/bob/x"])
def test_paths_and_user_names_in_outputs_are_pending(text: str) -> None:
    nb = _notebook()
    nb["cells"][3]["outputs"] = [_stream(text)]
    (finding,) = _findings(nb)
    assert finding.pending and "cell 3 prints" in finding.message


@pytest.mark.parametrize("text", ["runs/dcgan/grid.png", "see https://example.org/home/x",
                                  "p_data/home", "real/fake", "~/tmp/x", "an image/png"])
def test_relative_paths_and_urls_are_fine(text: str) -> None:
    nb = _notebook()
    nb["cells"][3]["outputs"] = [_stream(text)]
    assert _findings(nb) == []


def test_image_data_is_not_searched_for_paths() -> None:
    nb = _notebook()
    nb["cells"][3]["outputs"] = [{"output_type": "display_data", "metadata": {},
                                  "data": {"image/png": "iVBOR /home/alice/ AAAA"}}]
    assert _findings(nb) == []


def test_widget_state_counts_as_output() -> None:
    nb = _notebook()
    nb["metadata"]["widgets"] = {"state": {"m1": {"value": "run /home/alice/run", "png": "A"
                                                  * 1_100_000}}}
    findings = _findings(nb)
    assert all(f.pending for f in findings) and len(findings) == 2
    assert "widget state: 1.10 MB" in findings[0].message
    assert "saved widget state shows /home/alice" in findings[1].message


def test_paths_in_metadata_are_errors() -> None:
    nb = _notebook()
    nb["metadata"]["kernelspec"] = {"name": "python3", "argv": ["/home/alice/venv/bin/python"]}
    (finding,) = _findings(nb)
    assert not finding.pending and "metadata holds /home/alice" in finding.message


def test_committed_notebooks_have_no_errors() -> None:
    errors = [str(f) for p in course.notebooks() for f in course.check_notebook(p)
              if not f.pending]
    assert not errors, errors


def test_execute_records_the_run(tmp_path: Path) -> None:
    path = tmp_path / "00_run.ipynb"
    nb = _notebook(record=None)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["execution_count"], cell["outputs"] = None, []
    nb["cells"].append(_code("import ipywidgets\nipywidgets.IntSlider(3)", None))
    nb["cells"].append(_code("import os\nprint(os.environ['GANLAB_PROFILE'])", None))
    nb["metadata"]["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    path.write_text(json.dumps(nb))
    record = course.execute(path, profile="tiny", timeout=120)
    saved = course.read(path)
    assert saved["metadata"]["ganlab"]["profile"] == "tiny" == record["profile"]
    assert record["ganlab_version"] == __version__ and record["data_version"] == DATA_VERSION
    assert record["machine"]["cpu"] and record["seconds"] > 0
    assert saved["metadata"]["ganlab"]["timings"]["tiny"]["seconds"] == record["seconds"]
    printed = course.source({"source": saved["cells"][-1]["outputs"][0]["text"]})
    assert printed == "tiny\n"  # the kernel got the profile
    assert "widgets" not in saved["metadata"]  # neither the slider's state nor an earlier run's
    expected = {"profile": "tiny", **course.current()}
    assert course.check_notebook(path, expected=expected, users=()) == []
    committed = [f.message for f in course.check_notebook(path, users=())]
    assert any("executed with profile 'tiny'" in m for m in committed)  # not the default's


def test_timings_table(tmp_path: Path) -> None:
    timed = _notebook({**RECORD, "timings": {"default": {"seconds": 300.0, "machine": {
        "cpu": "Some CPU", "gpu": None}}, "full": {"seconds": 40.0, "machine": {
        "cpu": "Other", "gpu": "Big GPU"}}}})
    timed["cells"].append(_code("cfg = preset('dcgan')\ntrainer.fit()", 4))
    (tmp_path / "00_a.ipynb").write_text(json.dumps(timed))
    (tmp_path / "01_b.ipynb").write_text(json.dumps(_notebook(record=None)))
    table = course.timings_table(course.notebooks(tmp_path))
    assert "| `00_a` | not recorded yet | 5 min [1] | 40 s [2] | yes |" in table
    assert "| `01_b` | not recorded yet | not recorded yet | not recorded yet | no |" in table
    assert "[1] Some CPU" in table and "[2] Big GPU" in table


def test_update_teaching(tmp_path: Path) -> None:
    (tmp_path / "00_a.ipynb").write_text(json.dumps(_notebook(record=None)))
    doc = tmp_path / "teaching.md"
    doc.write_text(f"# T\n{course.STARTS_TIMINGS}\nold\n{course.ENDS_TIMINGS}\nafter\n")
    assert course.update_teaching(doc, course.notebooks(tmp_path))
    assert "old" not in doc.read_text() and doc.read_text().endswith("after\n")
    assert not course.update_teaching(doc, course.notebooks(tmp_path))
    (tmp_path / "bare.md").write_text("no markers")
    with pytest.raises(ValueError, match="timings:start"):
        course.update_teaching(tmp_path / "bare.md")


def test_teaching_doc_table_comes_from_the_notebooks() -> None:
    text = (course.ROOT / "docs" / "teaching.md").read_text()
    block = text.split(course.STARTS_TIMINGS, 1)[1].split(course.ENDS_TIMINGS, 1)[0]
    assert block.strip() == course.timings_table().strip(), (
        "docs/teaching.md's table is stale: run `make teaching`")


def test_which_notebooks_need_a_gpu_for_full() -> None:
    needs = {p.stem[:2]: course.needs_gpu_for_full(course.read(p)) for p in course.notebooks()}
    assert {k for k, v in needs.items() if v} >= {"01", "02", "03", "04"}
    assert not needs["00"] and not needs["05"]  # a tiny tour; the shipped generators


def test_time_run_keeps_the_committed_outputs(tmp_path: Path) -> None:
    path = tmp_path / "00_run.ipynb"
    nb = _notebook()  # committed with outputs and a default run record
    nb["metadata"]["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}
    path.write_text(json.dumps(nb))
    timing = course.time_run(path, "tiny", timeout=120)
    saved = course.read(path)
    # The run printed 'maybe' in cell 3 and 3.141592653589793 in cell 2; neither was kept.
    assert course.source({"source": saved["cells"][2]["outputs"][0]["text"]}) == "3.14\n"
    assert saved["cells"][3]["outputs"] == []
    record = saved["metadata"]["ganlab"]
    assert record["profile"] == "default" and record["seconds"] == RECORD["seconds"]
    assert record["timings"]["tiny"] == timing and timing["seconds"] > 0
    assert course.check_notebook(path, users=()) == []  # still the committed default run
