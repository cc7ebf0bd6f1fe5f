"""The course as files: the notebooks in order, the record of each committed run, and the guard
that keeps them honest (``make check-notebooks``).

Why it exists: a notebook's outputs are only worth committing if they came from the code beside
them, run top to bottom, by this ganlab on these data sets. ``make notebooks`` executes each
notebook with :func:`execute`, which stores a run record in ``metadata["ganlab"]``: profile,
ganlab version, data-set version, machine (CPU name, GPU) and wall time. :func:`check_notebook`
then finds stale or careless commits: a code cell that was not executed, execution counts out of
order, errors, a run record from another ganlab, profile or data-set version, outputs too large,
absolute paths or user names in outputs or metadata. Whether checked outputs still match a fresh
run is nbval's job (``make nbval``), not this module's.

Findings that only a re-execution can clear (a missing run record, committed outputs that are too
large or show a path) are *pending*: reported as warnings unless ``strict`` (``make
check-notebooks STRICT=1``), so the guard can be switched on before the notebooks are re-run.

Usage: ``python -m ganlab.course check [--strict] [NOTEBOOK ...]``,
``python -m ganlab.course execute NOTEBOOK ... [--profile default]``,
``python -m ganlab.course timings [--profile tiny] NOTEBOOK ...`` (time a run, keep the outputs),
``python -m ganlab.course teaching docs/teaching.md`` (rewrite its table of times).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import platform
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
METADATA_KEY = "ganlab"
COMMITTED_PROFILE = "default"  # the profile whose outputs are committed
OUTPUT_LIMIT = 1_000_000  # bytes of outputs (as JSON text) per notebook
CHECKED = "# NBVAL_CHECK_OUTPUT"
# Absolute paths that name a machine's directories (text outputs and metadata only, never image
# data). Preceded by a word character, '/', '.' or '~' a match is a relative path or a URL.
ABSOLUTE_PATH = re.compile(
    r"(?<![\w/.~:+-])(?:/(?:home|Users|root|tmp|var|private|mnt|media|opt|srv|work|scratch)/"
    r"[\w.@-]+|[A-Za-z]:\\\\?(?:Users|Documents and Settings)\\)")
GENERIC_USERS = {"root", "user", "runner", "jovyan", "nobody", "ubuntu", "admin", "vscode"}
TEXT_MIME = ("text/plain", "text/html", "text/markdown", "text/latex", "application/json")
STARTS_TIMINGS, ENDS_TIMINGS = "<!-- timings:start -->", "<!-- timings:end -->"


def notebooks(folder: str | os.PathLike = NOTEBOOKS) -> list[Path]:
    """The course's notebooks in course order (``NN_topic.ipynb``)."""
    return sorted(Path(folder).glob(NOTEBOOK_GLOB))


def read(path: str | os.PathLike) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def title(nb: dict) -> str:
    """The first markdown heading of a notebook, without its ``#``."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in source(cell).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return ""


# ---------------------------------------------------------------- the run record
def current() -> dict[str, Any]:
    """What a run record must match: this ganlab's version and its data sets' version."""
    from ganlab import __version__
    from ganlab.data import DATA_VERSION

    return {"ganlab_version": __version__, "data_version": DATA_VERSION}


def run_record(profile: str, seconds: float) -> dict[str, Any]:
    """The record ``make notebooks`` stores: versions, profile, machine, wall time."""
    import torch

    from ganlab.hardware import cpu_name

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"profile": profile, **current(), "machine": {"cpu": cpu_name(), "gpu": gpu},
            "python": platform.python_version(), "torch": torch.__version__.split("+")[0],
            "seconds": round(seconds, 1)}


def _execute(nb_path: Path, profile: str, timeout: int) -> tuple[Any, float]:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(nb_path, as_version=4)
    nb.metadata.pop("widgets", None)  # an earlier run's widget state (this run stores none)
    saved = os.environ.get("GANLAB_PROFILE")
    os.environ["GANLAB_PROFILE"] = profile  # the kernel inherits it
    try:
        start = time.perf_counter()
        # No saved widget state: GitHub and `make site` do not render it, JupyterLab redraws the
        # widgets when their cell runs, and the explorers' images made notebook 05 twice its size.
        NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=False,
                       resources={"metadata": {"path": str(nb_path.parent)}}).execute()
        seconds = time.perf_counter() - start
    finally:
        if saved is None:
            os.environ.pop("GANLAB_PROFILE", None)
        else:
            os.environ["GANLAB_PROFILE"] = saved
    return nb, seconds


def execute(path: str | os.PathLike, profile: str = COMMITTED_PROFILE,
            timeout: int = 1200) -> dict[str, Any]:
    """Execute a notebook top to bottom in ``profile``, write it with its outputs and its run
    record (``metadata["ganlab"]``), and return the record."""
    import nbformat

    from ganlab.profiles import check_profile

    path = Path(path)
    nb, seconds = _execute(path, check_profile(profile), timeout)
    record = run_record(profile, seconds)
    meta = dict(nb.metadata.get(METADATA_KEY, {}))
    timings = dict(meta.get("timings", {}))
    timings[profile] = _timing(record)
    nb.metadata[METADATA_KEY] = {**record, "timings": timings}
    nbformat.write(nb, path)
    return record


def _timing(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in ("seconds", "machine", "ganlab_version", "torch")}


def time_run(path: str | os.PathLike, profile: str, timeout: int = 1200) -> dict[str, Any]:
    """Execute a notebook in ``profile`` and keep only how long it took: the committed outputs
    and run record stay as they are (``metadata["ganlab"]["timings"][profile]``)."""
    import nbformat

    from ganlab.profiles import check_profile

    path = Path(path)
    _, seconds = _execute(path, check_profile(profile), timeout)
    timing = _timing(run_record(profile, seconds))
    nb = nbformat.read(path, as_version=4)
    meta = dict(nb.metadata.get(METADATA_KEY, {}))
    meta["timings"] = {**meta.get("timings", {}), profile: timing}
    nb.metadata[METADATA_KEY] = meta
    nbformat.write(nb, path)
    return timing


# ---------------------------------------------------------------- the guard
@dataclass(frozen=True)
class Finding:
    """One thing wrong with a committed notebook. ``pending``: only a re-execution clears it."""

    notebook: str
    message: str
    pending: bool = False

    def __str__(self) -> str:
        return f"{self.notebook}: {self.message}"


def _expects_output(code: str) -> bool:
    """A cell that must have produced output: checked by nbval, or printing / showing at the top
    level (an unindented ``print(``, ``display(`` or ``plt.show()`` always outputs)."""
    if code.lstrip().startswith(CHECKED):
        return True
    return bool(re.search(r"^(print|display)\(|^plt\.show\(\)", code, re.M))


def _texts(output: dict) -> Iterable[str]:
    if "text" in output:
        yield source({"source": output["text"]})
    for mime, value in output.get("data", {}).items():
        if mime in TEXT_MIME:
            yield value if isinstance(value, str) else json.dumps(value)
    if output.get("output_type") == "error":
        yield "\n".join(output.get("traceback", []))


def private_paths(text: str, users: Sequence[str] = ()) -> list[str]:
    """Absolute paths and user names in ``text`` (sorted, unique)."""
    found = set(ABSOLUTE_PATH.findall(text))
    for user in users:
        if user and user.lower() not in GENERIC_USERS:
            found.update(re.findall(rf"\b{re.escape(user)}\b", text))
    return sorted(found)


def _users() -> list[str]:
    names = []
    try:
        names.append(getpass.getuser())
    except (KeyError, OSError):
        pass
    home = Path.home().name
    return sorted({n for n in [*names, home] if n})


def check_notebook(path: str | os.PathLike, nb: dict | None = None,
                   expected: dict[str, Any] | None = None,
                   users: Sequence[str] | None = None) -> list[Finding]:
    """Everything wrong with one committed notebook (see the module docstring). Cells are
    numbered from 0 in the notebook's list of cells, markdown included.

    ``expected`` is the record to match (by default :func:`current` with the committed
    profile); ``users`` the names that must not appear (by default this machine's user).
    """
    path = Path(path)
    name = path.name
    nb = read(path) if nb is None else nb
    expected = {"profile": COMMITTED_PROFILE, **current()} if expected is None else expected
    users = _users() if users is None else users
    findings: list[Finding] = []
    code_cells = [(i, c) for i, c in enumerate(nb["cells"])
                  if c["cell_type"] == "code" and source(c).strip()]

    counts = [c.get("execution_count") for _, c in code_cells]
    for i, cell in code_cells:
        if cell.get("execution_count") is None:
            findings.append(Finding(name, f"cell {i} was not executed (no execution count): run "
                                          "the notebook top to bottom with `make notebooks`"))
        elif not cell.get("outputs") and _expects_output(source(cell)):
            findings.append(Finding(name, f"cell {i} (execution count {cell['execution_count']}) "
                                          "prints or shows something but has no outputs: its "
                                          "outputs were cleared; run `make notebooks`"))
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                findings.append(Finding(name, f"cell {i} was committed with an error "
                                              f"({output.get('ename')}): fix it and re-run"))
    if all(c is not None for c in counts) and counts != list(range(1, len(counts) + 1)):
        findings.append(Finding(name, f"execution counts {counts} are not 1, 2, 3, ... in order: "
                                      "restart the kernel and run all cells (`make notebooks`)"))

    record = nb.get("metadata", {}).get(METADATA_KEY)
    if not isinstance(record, dict) or "profile" not in record:
        findings.append(Finding(name, "no run record (metadata['ganlab']): executed before "
                                      "`make notebooks` recorded its runs; re-run it", True))
    else:
        for key, want in expected.items():
            got = record.get(key)
            if got != want:
                findings.append(Finding(name, f"executed with {key.replace('_', ' ')} {got!r}, "
                                              f"this checkout has {want!r}: re-run it with "
                                              "`make notebooks`"))

    # The saved state of the widgets a run displayed is output too (a re-run rewrites it).
    metadata = dict(nb.get("metadata", {}))
    widgets = metadata.pop("widgets", None)
    sizes = [(i, len(json.dumps(o))) for i, c in code_cells for o in c.get("outputs", [])]
    if widgets:
        sizes.append(("widget state", len(json.dumps(widgets))))
    total = sum(size for _, size in sizes)
    if total > OUTPUT_LIMIT:
        biggest = sorted(sizes, key=lambda s: -s[1])[:3]
        where = ", ".join(f"{i if isinstance(i, str) else f'cell {i}'}: {size / 1e6:.2f} MB"
                          for i, size in biggest)
        findings.append(Finding(name, f"outputs take {total / 1e6:.2f} MB, more than "
                                      f"{OUTPUT_LIMIT / 1e6:.0f} MB (largest: {where}): show "
                                      "fewer or smaller figures (dpi, GIF frames), then re-run",
                                True))

    for i, cell in code_cells:
        text = "\n".join(t for output in cell.get("outputs", []) for t in _texts(output))
        leaks = private_paths(text, users)
        if leaks:
            findings.append(Finding(name, f"cell {i} prints {', '.join(leaks[:3])}: print paths "
                                          "relative to a run directory (or its name), then "
                                          "re-run", True))
    widget_leaks = private_paths(json.dumps(widgets), users) if widgets else []
    if widget_leaks:
        findings.append(Finding(name, f"the saved widget state shows {', '.join(widget_leaks[:3])}"
                                      ": print relative paths, then re-run", True))
    meta_leaks = private_paths(json.dumps(metadata), users)
    if meta_leaks:
        findings.append(Finding(name, f"metadata holds {', '.join(meta_leaks[:3])}: remove it"))
    return findings


def check(paths: Sequence[str | os.PathLike] | None = None, strict: bool = False,
          out=sys.stdout) -> int:  # noqa: ANN001 - a text stream
    """Check notebooks (all by default); print findings. Exit status 1 on an error (or, with
    ``strict``, on a pending finding), else 0."""
    paths = [Path(p) for p in paths] if paths else notebooks()
    if not paths:
        print("no notebooks to check", file=out)
        return 1
    findings = [f for p in paths for f in check_notebook(p)]
    errors = [f for f in findings if strict or not f.pending]
    pending = [f for f in findings if not strict and f.pending]
    if pending:
        print(f"{'!' * 78}\nWARNING: {len(pending)} finding(s) that only re-executing the "
              "notebooks clears (`make notebooks` on an idle machine); `make check-notebooks "
              "STRICT=1` makes them errors:", file=out)
        for f in pending:
            print(f"  {f}", file=out)
        print("!" * 78, file=out)
    for f in errors:
        print(f"ERROR {f}", file=out)
    print(f"checked {len(paths)} notebook(s): {len(errors)} error(s), {len(pending)} warning(s)",
          file=out)
    return 1 if errors else 0


# ---------------------------------------------------------------- timings for teachers
def needs_gpu_for_full(nb: dict) -> bool:
    """Whether the notebook trains with the active profile's preset (so ``full`` means the papers'
    sizes on real data: a GPU): a config assigned from ``preset(...)`` without ``profile=``, and
    a ``.fit(``."""
    code = "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "code")
    calls = re.findall(r"=\s*preset\(([^()]*)\)", code)
    return ".fit(" in code and any("profile=" not in args for args in calls)


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def timings_table(paths: Sequence[Path] | None = None) -> str:
    """A markdown table: per notebook, the recorded wall time in each profile and the machine it
    was measured on, read from the notebooks' run records; "not recorded yet" where none is."""
    from ganlab.profiles import PROFILES

    paths = list(paths) if paths is not None else notebooks()
    rows = ["| notebook | " + " | ".join(PROFILES) + " | needs a GPU for `full` |",
            "| --- | " + " | ".join("---" for _ in PROFILES) + " | --- |"]
    machines: dict[str, int] = {}
    for path in paths:
        nb = read(path)
        timings = (nb.get("metadata", {}).get(METADATA_KEY) or {}).get("timings", {})
        cells = []
        for prof in PROFILES:
            t = timings.get(prof)
            if not t:
                cells.append("not recorded yet")
                continue
            m = t.get("machine", {})
            machine = m.get("gpu") or m.get("cpu") or "unknown machine"
            mark = machines.setdefault(machine, len(machines) + 1)
            cells.append(f"{_minutes(t['seconds'])} [{mark}]")
        gpu = "yes" if needs_gpu_for_full(nb) else "no"
        rows.append(f"| `{path.stem}` | " + " | ".join(cells) + f" | {gpu} |")
    if machines:
        rows.append("")
        rows.extend(f"[{i}] {name}  " for name, i in machines.items())
    return "\n".join(rows)


def update_teaching(doc: str | os.PathLike, paths: Sequence[Path] | None = None) -> bool:
    """Rewrite the table between the timing markers of ``doc``; True when it changed."""
    doc = Path(doc)
    text = doc.read_text(encoding="utf-8")
    if STARTS_TIMINGS not in text or ENDS_TIMINGS not in text:
        raise ValueError(f"{doc} has no {STARTS_TIMINGS} ... {ENDS_TIMINGS} block to fill")
    head, rest = text.split(STARTS_TIMINGS, 1)
    _, tail = rest.split(ENDS_TIMINGS, 1)
    new = f"{head}{STARTS_TIMINGS}\n{timings_table(paths)}\n{ENDS_TIMINGS}{tail}"
    if new != text:
        doc.write_text(new, encoding="utf-8")
    return new != text


def main(argv: Sequence[str] | None = None) -> int:
    from ganlab.profiles import PROFILES

    parser = argparse.ArgumentParser(prog="python -m ganlab.course", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="the stale-notebook and hygiene guard")
    c.add_argument("notebooks", nargs="*", type=Path)
    c.add_argument("--strict", action="store_true", help="pending findings are errors too")
    e = sub.add_parser("execute", help="run notebooks and record the run in their metadata")
    e.add_argument("notebooks", nargs="+", type=Path)
    e.add_argument("--profile", choices=PROFILES, default=COMMITTED_PROFILE)
    e.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    t = sub.add_parser("timings", help="time notebooks in a profile without keeping outputs")
    t.add_argument("notebooks", nargs="+", type=Path)
    t.add_argument("--profile", choices=PROFILES, required=True)
    t.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    d = sub.add_parser("teaching", help="rewrite the table of times in docs/teaching.md")
    d.add_argument("doc", type=Path)
    args = parser.parse_args(argv)
    if args.command == "check":
        return check(args.notebooks, strict=args.strict)
    if args.command == "teaching":
        changed = update_teaching(args.doc)
        print(f"{args.doc}: {'updated' if changed else 'already up to date'}")
        return 0
    for path in args.notebooks:
        if args.command == "execute":
            record = execute(path, args.profile, args.timeout)
        else:
            record = time_run(path, args.profile, args.timeout)
        print(f"{path}: {args.profile} profile, {record['seconds']} s on "
              f"{record['machine']['gpu'] or record['machine']['cpu']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
