"""Numbers in a notebook's prose that nothing in the notebook prints (``make check-prose``).

Why it exists: the course promises that a number in prose comes from code. A sentence written
after one run ("about 16 times smaller", "57.5% recognised") stays in the markdown when the code
or the run changes; this check finds the numbers that no cell computes. It does not judge whether
a sentence is true, only whether its numbers can be traced: every number in a notebook's markdown
cells must appear in that notebook's code cells or in their committed text outputs (streams,
``text/plain``, ``text/markdown`` from ``display(Markdown(...))``, HTML, errors), or in the
reviewed allowlist below.

What is not a number of the prose (never flagged):

- LaTeX (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``): mathematics, not measurements;
- fenced code blocks: commands for the reader to type, not statements of a result;
- link targets, URLs and HTML tags;
- the number of a heading (``## 3. Training``, ``# 02 · DCGAN``) and list numbering (``1. ``);
- citations: a year after an author or a title (``Mao et al., 2017``, ``White (2016, ...)``);
- references: ``section 3``, ``sections 1-5``, ``Sec. 4.1``, ``notebook 02``, ``notebooks 01–03``,
  ``Fig. 4``, ``Eq. 3``, ``Table 2``, ``Theorem 1``, ``Algorithm 1``, ``exercise 5``, and the
  seed notes' file numbers (``seed 003``, ``seeds 000 and 004``);
- digits that are part of a word or a name: ``fp32``, ``bf16``, ``L2``, ``b4``, ``conv4x4``,
  ``mnist-5k``, ``CIFAR-10``.

Numbers inside inline code spans are checked like the rest of the prose (a span such as
``lr 0.003`` is a claim too), so they pass only if the code has them. ``4x4`` reads as ``4×4``.

How numbers compare: by value, written in any of the usual ways and without sign or unit:
``3,000`` = ``3000`` = ``3e3`` = ``3k``; ``0.25`` = ``.25`` = ``2.5e-1`` = ``−0.25``;
``81%`` = ``81.0%``; ``10³`` = ``10^3`` = ``1000``. There is no rounding: prose that says ``1.7``
matches an output ``1.7`` but not ``1.66`` (print the number the prose needs). In code and
outputs every digit run counts, also inside names (``x1e3``, ``step_0000015``, ``16_384``).

Usage: ``python -m ganlab.prose [NOTEBOOK ...]`` (default: every ``notebooks/NN_*.ipynb``) prints
one line per finding, ``notebook: cell N: number: "the sentence"``, and exits with status 1 if
there is any (2 if a notebook cannot be read).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"

# Numbers the prose may state without code printing them, each with the reason. Keys are written
# as in prose (any spelling of the value works); "*" applies to every notebook, a notebook's stem
# ("02_dcgan") to that notebook only. Only constants of the papers and the data sets, quotes of
# the seed notes and the numbers an exercise asks about belong here: a result of a run is printed
# by code, never allowed here.
ALLOWED: dict[str, dict[str, str]] = {
    "*": {
        "0.02": "DCGAN's initialisation, N(0, 0.02) (Radford et al., 2016, Sec. 4)",
        "60,000": "the size of MNIST's training set (LeCun et al., 1998)",
    },
    "01_vanilla_gan": {
        "200": "seed 003's printed model, Linear(in_features=200, ...), quoted as its bug",
        "0.62": "seed 003's last printed D losses run from 0.6245 to 0.6514 (quoted)",
        "0.65": "seed 003's last printed D losses run from 0.6245 to 0.6514 (quoted)",
    },
    "04_progan": {
        "800k": "ProGAN's images per fade and per stable phase (Karras et al., 2018, App. A.1)",
        "50k": "800k images at the paper's minibatch 16: steps per phase",
        "100,000": "steps per resolution in the paper: a fade and a stable phase of 50k steps",
        "5,500": "exercise 3 asks about 5,500 images; its checker (ganlab/exercises.py) answers",
    },
    "06_evaluating_gans": {
        "299": "Inception-v3's input size, 299x299 (Szegedy et al., 2016)",
        "100": "KID's 100 subsets (Binkowski et al., 2018, their code; ganlab.evaluation.kid)",
        "10,000": "CIFAR-10's test set; the smaller of the usual FID sample counts",
    },
}

_TEXT_MIME = ("text/plain", "text/markdown", "text/html", "text/latex")

# -- what the prose check skips: regions replaced by blanks (offsets stay those of the source)
_FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_HTML = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>\n]*>", re.S)
_LATEX = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$(?!\s)[^$\n]+?(?<![\\\s])\$(?!\d)|\\\(.+?\\\)"
                    r"|\\\[.+?\\\]|\\begin\{(?P<env>\w+\*?)\}.*?\\end\{(?P=env)\}", re.S)
_LINK_TARGET = re.compile(r"\]\([^)\s]*(?:\s+\"[^\"]*\")?\)|https?://\S+|www\.\S+")
_HEADING_NUMBER = re.compile(r"^[ \t]*#{1,6}[ \t]+(\d+(?:\.\d+)*)", re.M)
_LIST_NUMBER = re.compile(r"^[ \t]*(\d+)[.)][ \t]", re.M)
_REF_NUMBER = r"\d+(?:\.\d+)*[a-z]?"
_REFERENCE = re.compile(
    r"(?i:\b(?:sections?|secs?\.|notebooks?|figs?\.|figures?|eqs?\.|equations?|tables?"
    r"|theorems?|algorithms?|appendix|exercises?|chapters?|seed\s+notes?)"
    rf"|§|\bseeds?(?=\s+0\d))\s*{_REF_NUMBER}"
    rf"(?:\s*(?:[-–—,&]|\band\b|\bor\b|\bto\b)\s*{_REF_NUMBER})*")
# A year right after an author ("Mao et al., 2017", "Bottou (2017)") or a title ("*Nets* (2014)").
_CITED_BY = re.compile(r"(?:\bet al\.?|[A-ZÀ-ÖØ-Þ][\w'’-]*\*?|\*)\s*[,(]\s*\(?$")
_YEAR = re.compile(r"^(?:19[5-9]\d|20[0-4]\d)$")

# -- numbers
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_PROSE_NUMBER = re.compile(
    r"(?<![\w.,])(?<![A-Za-z]-)"  # not inside a number or a name (fp32, mnist-5k, CIFAR-10)
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:[eE](?P<exp>[+\-−]?\d+))?"
    r"(?:\^(?P<pow>[+\-−]?\d+)|(?P<sup>[⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+))?"
    r"(?P<suffix>k(?![\w])|(?:px|ms|s|min|h|x|st|nd|rd|th|D|GB|MB|KiB|MiB|GiB)(?![\w]))?"
    r"(?![\w.]\d|\w)")
_TIMES_X = re.compile(r"(?<![\w.])(\d+)x(?=\d)")  # "4x4" is "4×4" (but "conv4x4" is a name)
_ANY_NUMBER = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+|\d+(?:_\d+)*)(\.\d+)?"
                         r"(?:[eE]([+\-]?\d+))?(k\b)?|(?<!\d)(\.\d+)")


@dataclass(frozen=True)
class Finding:
    """A number in a markdown cell that the notebook's code and outputs do not contain."""

    notebook: str
    cell: int  # index in the notebook's cells (0-based), markdown and code counted alike
    number: str  # as written in the prose
    sentence: str  # the sentence around it

    def __str__(self) -> str:
        return f'{self.notebook}: cell {self.cell}: {self.number}: "{self.sentence}"'


def _value(num: str, exp: str | None = None, power: str | None = None,
           suffix: str | None = None) -> Decimal | None:
    """The absolute value a number denotes, or None when it is not one."""
    try:
        v = Decimal(num.replace(",", "").replace("_", ""))
        if exp:
            v = v.scaleb(int(exp.replace("−", "-")))
        if power:
            v = v ** int(power.replace("−", "-"))
    except (InvalidOperation, ValueError, OverflowError):
        return None
    if suffix == "k":
        v *= 1000
    return abs(v).normalize()


def value(text: str) -> Decimal | None:
    """The value of one number as prose writes it: ``value("3,000") == value("3e3")``."""
    m = _PROSE_NUMBER.fullmatch(text.strip().lstrip("-−+").rstrip("%×"))
    if m is None:
        return None
    return _prose_value(m)


def _prose_value(m: re.Match) -> Decimal | None:
    power = m["pow"] or (m["sup"].translate(_SUPERSCRIPT) if m["sup"] else None)
    return _value(m["num"], m["exp"], power, m["suffix"])


def numbers_in_code(text: str) -> set[Decimal]:
    """Every number in code or in an output, leniently: digit runs inside names count too."""
    found: set[Decimal] = set()
    for m in _ANY_NUMBER.finditer(text):
        if m.group(5):
            parts = [(m.group(5), None, None)]
        else:
            whole = m.group(1) + (m.group(2) or "")
            parts = [(whole, m.group(3), m.group(4))]
            if "," in m.group(1):  # "0,1" could be a list as well as a thousands separator
                parts += [(p, None, None) for p in m.group(1).split(",")]
        for num, exp, suffix in parts:
            v = _value(num, exp, None, (suffix or "").strip() or None)
            if v is not None:
                found.add(v)
    return found


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + "".join(c if c == "\n" else " " for c in text[start:end]) + text[end:]


def _mask(text: str, pattern: re.Pattern, group: int = 0) -> str:
    for m in reversed(list(pattern.finditer(text))):
        text = _blank(text, m.start(group), m.end(group))
    return text


def prose_text(markdown: str) -> str:
    """The markdown with everything that is not prose blanked out, offsets unchanged."""
    text = _mask(markdown, _FENCE)
    # Code spans stay checkable, but a `$` inside one must not open LaTeX: find LaTeX and
    # links in a copy without them.
    no_code = _mask(text, _CODE_SPAN)
    for pattern in (_HTML, _LATEX, _LINK_TARGET):
        for m in reversed(list(pattern.finditer(no_code))):
            text, no_code = _blank(text, m.start(), m.end()), _blank(no_code, m.start(), m.end())
    for pattern in (_HEADING_NUMBER, _LIST_NUMBER):
        text = _mask(text, pattern, 1)
    return _mask(text, _REFERENCE)


def _is_citation(text: str, m: re.Match) -> bool:
    if not _YEAR.match(m.group(0)):
        return False
    line_start = text.rfind("\n", 0, m.start()) + 1
    return bool(_CITED_BY.search(text[max(line_start, m.start() - 80):m.start()]))


def prose_numbers(markdown: str) -> Iterator[tuple[int, str, Decimal]]:
    """``(offset, as written, value)`` of every number in the prose of one markdown cell."""
    text = _TIMES_X.sub(lambda m: m.group(1) + "×", prose_text(markdown))
    for m in _PROSE_NUMBER.finditer(text):
        if _is_citation(text, m):
            continue
        v = _prose_value(m)
        if v is not None:
            yield m.start(), m.group(0), v


def _sentence(text: str, start: int, end: int, width: int = 200) -> str:
    """The sentence of ``text`` around ``text[start:end]``, on one line, at most ``width`` long."""
    stops = [m.end() for m in re.finditer(r"[.!?:](?=\s)|\n\s*\n|\n\s*[-*|]\s|\|", text[:start])]
    left = stops[-1] if stops else 0
    m = re.search(r"[.!?](?=\s|$)|\n\s*\n|\n\s*[-*|]\s|\|", text[end:])
    right = end + m.start() + 1 if m else len(text)
    sentence = " ".join(text[left:right].split())
    if len(sentence) > width:
        where = sentence.find(" ".join(text[start:end].split()))
        lo = max(0, min(where - width // 2, len(sentence) - width))
        sentence = ("…" if lo else "") + sentence[lo:lo + width] + ("…" if lo + width < len(
            sentence) else "")
    return sentence


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _output_texts(cell: dict) -> Iterator[str]:
    for out in cell.get("outputs", []):
        if "text" in out:
            yield _source({"source": out["text"]})
        for mime in _TEXT_MIME:
            if mime in out.get("data", {}):
                yield _source({"source": out["data"][mime]})
        if out.get("output_type") == "error":
            yield out.get("evalue", "")
            yield "\n".join(out.get("traceback", []))


def known_numbers(nb: dict) -> set[Decimal]:
    """The numbers of a notebook's code cells and of their text outputs."""
    found: set[Decimal] = set()
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            found |= numbers_in_code(_source(cell))
            for text in _output_texts(cell):
                found |= numbers_in_code(text)
    return found


def allowed(stem: str, allowlist: dict[str, dict[str, str]] | None = None) -> set[Decimal]:
    """The allowlisted values for the notebook ``stem`` (its own entries and the global ones)."""
    allowlist = ALLOWED if allowlist is None else allowlist
    out: set[Decimal] = set()
    for key in ("*", stem):
        for written in allowlist.get(key, {}):
            v = value(written)
            if v is None:
                raise ValueError(f"allowlist entry {written!r} ({key}) is not a number")
            out.add(v)
    return out


def check_notebook(path: str | Path, nb: dict | None = None,
                   allowlist: dict[str, dict[str, str]] | None = None) -> list[Finding]:
    """Every number of ``path``'s markdown that its code, its outputs and the allowlist lack."""
    path = Path(path)
    if nb is None:
        nb = json.loads(path.read_text(encoding="utf-8"))
    ok = known_numbers(nb) | allowed(path.stem, allowlist)
    findings = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "markdown":
            continue
        text = _source(cell)
        for start, written, v in prose_numbers(text):
            finding = Finding(_shown(path), index, written,
                              _sentence(text, start, start + len(written)))
            if v not in ok and finding not in findings:  # "112×112" is one finding
                findings.append(finding)
    return findings


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (shorter findings)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def notebooks(folder: str | Path = NOTEBOOKS) -> list[Path]:
    """The course's notebooks in course order (``NN_topic.ipynb``)."""
    return sorted(Path(folder).glob(NOTEBOOK_GLOB))


def check(paths: Iterable[str | Path] = ()) -> tuple[list[Finding], list[str]]:
    """Findings over ``paths`` (default: every notebook), and the notebooks it could not read."""
    findings: list[Finding] = []
    errors: list[str] = []
    for path in list(paths) or notebooks():
        try:
            findings += check_notebook(path)
        except (OSError, ValueError) as err:  # json.JSONDecodeError is a ValueError
            errors.append(f"{path}: cannot read it as a notebook: {err}")
    return findings, errors


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ganlab.prose", description=__doc__.split("\n\n")[0],
        epilog="Exit status: 0 when every number is traced, 1 when some are not, 2 when a "
               "notebook cannot be read.")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to check (default: notebooks/NN_*.ipynb)")
    args = parser.parse_args(argv)
    findings, errors = check(args.notebooks)
    for finding in findings:
        print(finding)
    for error in errors:
        print(error, file=sys.stderr)
    if findings:
        print(f"{len(findings)} number(s) in prose that no code or output of their notebook "
              "shows: print them from code, refer to the printed value, or remove the claim "
              "(ganlab/prose.py says what is skipped and what the allowlist is for)",
              file=sys.stderr)
    return 2 if errors else 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
