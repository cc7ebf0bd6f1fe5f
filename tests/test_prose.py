"""Tests for ganlab/prose.py, the check that numbers in a notebook's prose come from its code
(``make check-prose``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ganlab import prose

ROOT = Path(__file__).resolve().parents[1]


def markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code(text: str, *outputs: dict) -> dict:
    return {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": text,
            "outputs": list(outputs)}


def stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def display(mime: str, text: str) -> dict:
    return {"output_type": "display_data", "metadata": {}, "data": {mime: text}}


def notebook(*cells: dict) -> dict:
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def numbers(nb: dict, stem: str = "99_test", allowlist: dict | None = None) -> list[str]:
    """The numbers the check flags in ``nb``, as written."""
    findings = prose.check_notebook(f"notebooks/{stem}.ipynb", nb, allowlist=allowlist or {})
    return [f.number for f in findings]


# ---------------------------------------------------------------- drift is caught
def test_a_number_that_no_output_shows_is_flagged() -> None:
    nb = notebook(
        code("score = recognition(samples)\nprint(score)", stream("81.0% recognised\n")),
        markdown("The run recognises 57.5% of its samples, against 81.0% before."))
    findings = prose.check_notebook("notebooks/04_progan.ipynb", nb, allowlist={})
    assert [f.number for f in findings] == ["57.5"]
    (finding,) = findings
    assert finding.cell == 1
    assert finding.sentence == "The run recognises 57.5% of its samples, against 81.0% before."
    assert str(finding).startswith("notebooks/04_progan.ipynb: cell 1: 57.5: ")


def test_a_number_that_an_output_prints_passes_in_any_spelling() -> None:
    nb = notebook(
        code("print(report)", stream("trained 3,000 steps in 197 s; lr 0.0002, 25.0% held out\n")),
        markdown("3000 steps (3e3, 3k) took 197 s at lr 2e-4 (.0002); 25% was held out."))
    assert numbers(nb) == []


@pytest.mark.parametrize("output", [
    display("text/markdown", "| model | FD |\n| --- | ---: |\n| DCGAN | 973.70 |"),
    display("text/plain", "973.70"),
    display("text/html", "<td>973.7</td>"),
    {"output_type": "execute_result", "execution_count": 1, "metadata": {},
     "data": {"text/plain": ["FD ", "973.7"]}},
])
def test_outputs_of_every_text_kind_count(output: dict) -> None:
    nb = notebook(code("display(Markdown(table))", output),
                  markdown("The DCGAN scores an FD of 973.7."))
    assert numbers(nb) == []


def test_numbers_of_the_code_count_also_inside_names() -> None:
    nb = notebook(code("n = 16_384\nlr = 1e-3\nscale = 'x1e3'"),
                  markdown("A judge trained on 16,384 images, lr 0.001, scores ×1,000."))
    assert numbers(nb) == []


def test_no_rounding_and_no_numbers_from_other_markdown() -> None:
    nb = notebook(markdown("Least squares is 1.66 times faster."),
                  code("print(ratio)", stream("1.66\n")),
                  markdown("A step is 1.7 times as long, and 1.66 is printed."))
    assert numbers(nb) == ["1.7"]


def test_value_normalises_spellings() -> None:
    assert prose.value("3,000") == prose.value("3000") == prose.value("3e3") == prose.value("3k")
    assert prose.value(".25") == prose.value("0.25") == prose.value("−0.25")
    assert prose.value("0.25") == prose.value("2.5e-1")
    assert prose.value("81%") == prose.value("81.0")
    assert prose.value("10³") == prose.value("10^3") == prose.value("1,000")
    assert prose.value("fp32") is None


# ---------------------------------------------------------------- what is not prose
def test_latex_is_not_checked() -> None:
    nb = notebook(markdown(
        "With $\\lambda = 10$ and $\\epsilon = 0.001$,\n$$C(G) = -\\log 4 + 0.731 \\cdot x$$\n"
        "and \\(y = 17\\) or \\[z = 104\\] and\n\\begin{align} a &= 7.5 \\end{align}"))
    assert numbers(nb) == []


def test_citations_are_not_checked_but_other_years_are() -> None:
    nb = notebook(markdown(
        "Goodfellow et al., 2014; (Mao et al., 2017); Arjovsky & Bottou (2017); "
        "White (2016, *Sampling generative networks*); Radford, Metz & Chintala, 2016; "
        "*Generative Adversarial Nets* (2014); Härkönen et al. (2020).\n\n"
        "The course was rewritten in 2031."))
    assert numbers(nb) == ["2031"]


def test_headings_lists_and_references_are_not_checked() -> None:
    nb = notebook(markdown(
        "# 02 · DCGAN\n\n## 3. Initialisation\n\n### 12.4 Speed\n\n"
        "1. first\n2) second\n\n"
        "As section 7 and sections 1-6 show (Sec. 4.1, Fig. 4, Eq. 3, Table 2, Theorem 1,\n"
        "Algorithm 1, Appendix A.1), notebook 02 and notebooks 01–03 follow seed 003\n"
        "(seeds 000 and 004); exercise 5b and exercises 2 and 3 check it."))
    assert numbers(nb) == []


def test_digits_inside_names_links_html_and_fenced_code_are_not_checked() -> None:
    nb = notebook(markdown(
        "fp32, bf16, L2, conv4x4, `b4`, x_0, `mnist-5k`, CIFAR-10, grid25 and\n"
        "[the paper](https://arxiv.org/abs/1511.06434)\n"
        "<img src=\"fig77.png\" width=\"640\"> <!-- 12345 -->\n\n"
        "```bash\nganlab train dcgan --steps 8000\n```\n"))
    assert numbers(nb) == []


def test_code_spans_are_checked_against_the_code() -> None:
    prose_cell = markdown("Train with `preset(\"dcgan\", train__steps=1234)`.")
    assert numbers(notebook(prose_cell)) == ["1234"]
    assert numbers(notebook(code("preset('dcgan', train__steps=1234)"), prose_cell)) == []


def test_a_dollar_inside_a_code_span_does_not_open_latex() -> None:
    nb = notebook(markdown("Run `$ ganlab train` and then 4,321 steps, costing $x$."))
    assert numbers(nb) == ["4,321"]


def test_resolutions_and_ranges_are_numbers() -> None:
    nb = notebook(code("print(resolution)", stream("32\n")),
                  markdown("From 4×4 to 32x32 in 6–10 minutes, not 8x8."))
    assert sorted(numbers(nb)) == ["10", "4", "6", "8"]


# ---------------------------------------------------------------- the allowlist
def test_the_allowlist_allows_per_notebook_and_globally() -> None:
    nb = notebook(markdown("The paper initialises with std 0.02 and trains 800k images."))
    assert numbers(nb, allowlist={}) == ["0.02", "800k"]
    allowlist = {"*": {"0.02": "DCGAN's init"}, "04_progan": {"800,000": "ProGAN's phase"}}
    assert numbers(nb, "04_progan", allowlist) == []
    assert numbers(nb, "02_dcgan", allowlist) == ["800k"]


def test_the_course_allowlist_is_numbers_with_reasons() -> None:
    for stem, entries in prose.ALLOWED.items():
        assert stem == "*" or (ROOT / "notebooks" / f"{stem}.ipynb").exists(), stem
        for written, reason in entries.items():
            assert prose.value(written) is not None, (stem, written)
            assert len(reason.split()) >= 3, f"{stem} {written}: say why it is allowed"


def test_an_allowlist_entry_that_is_not_a_number_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a number"):
        prose.allowed("00_introduction", {"*": {"many": "not a number"}})


# ---------------------------------------------------------------- the command line
def _write(path: Path, nb: dict) -> Path:
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


def test_cli_exit_status_and_output(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    clean = _write(tmp_path / "00_clean.ipynb", notebook(
        code("print(steps)", stream("40\n")), markdown("It trains 40 steps.")))
    drift = _write(tmp_path / "01_drift.ipynb", notebook(
        code("print(steps)", stream("40\n")), markdown("It trains 40 steps.\n\nIt takes 6 s.")))
    assert prose.main([str(clean)]) == 0
    assert capsys.readouterr().out == ""
    assert prose.main([str(clean), str(drift)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [f'{drift}: cell 1: 6: "It takes 6 s."']
    assert "1 number(s)" in err
    broken = tmp_path / "02_broken.ipynb"
    broken.write_text("{not json", encoding="utf-8")
    assert prose.main([str(clean), str(broken)]) == 2
    assert "cannot read it as a notebook" in capsys.readouterr().err


def test_cli_as_a_module_without_torch(tmp_path: Path) -> None:
    drift = _write(tmp_path / "01_drift.ipynb", notebook(markdown("It takes 6 s.")))
    code_ = ("import runpy, sys; sys.argv = ['prose', sys.argv[1]]\n"
             "try:\n    runpy.run_module('ganlab.prose', run_name='__main__')\n"
             "except SystemExit as e:\n"
             "    assert 'torch' not in sys.modules, 'ganlab.prose imported torch'\n"
             "    raise")
    run = subprocess.run([sys.executable, "-c", code_, str(drift)], capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 1, run.stderr
    assert "cell 0: 6:" in run.stdout
