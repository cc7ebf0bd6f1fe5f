"""Tests for the project files: conda environment, CI workflow, CI entry point, README, Makefile."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import NOBODY

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: read the one list we need by hand
    tomllib = None

ROOT = Path(__file__).resolve().parents[1]
# pip name -> conda-forge name, where they differ.
CONDA_NAMES = {"torch": "pytorch"}


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)", requirement)
    assert match, f"cannot read a package name from {requirement!r}"
    return match.group(1).lower().replace("_", "-")


@pytest.fixture(scope="module")
def environment() -> dict:
    path = ROOT / "environment.yml"
    assert path.is_file(), "environment.yml is missing"
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def pyproject() -> dict:
    text = (ROOT / "pyproject.toml").read_text()
    if tomllib is not None:
        return tomllib.loads(text)
    block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.M | re.S)
    assert block, "pyproject.toml has no dependencies list"
    return {"project": {"dependencies": re.findall(r"\"([^\"]+)\"", block.group(1))}}


def test_environment_channels_and_python(environment: dict) -> None:
    assert environment["channels"] == ["conda-forge", "nodefaults"]
    conda = [d for d in environment["dependencies"] if isinstance(d, str)]
    pythons = [d for d in conda if _name(d) == "python"]
    assert len(pythons) == 1
    assert re.fullmatch(r"python\s*=?=\s*3\.11(\.\*)?", pythons[0].strip()), pythons[0]


def test_environment_covers_every_runtime_dependency(environment: dict, pyproject: dict) -> None:
    conda = {_name(d) for d in environment["dependencies"] if isinstance(d, str)}
    runtime = [_name(r) for r in pyproject["project"]["dependencies"]]
    assert runtime, "pyproject.toml lists no dependencies"
    missing = [r for r in runtime if CONDA_NAMES.get(r, r) not in conda]
    assert not missing, f"no conda-forge package for {missing} in environment.yml"


def test_environment_installs_the_package_with_pip(environment: dict) -> None:
    sections = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1, "environment.yml needs one pip: section"
    entries = [re.sub(r"[\"'\s]", "", e) for e in sections[0]]
    assert "-e.[dev]" in entries, sections[0]
    # conda only runs a pip: section reliably when pip itself is a dependency.
    assert "pip" in {_name(d) for d in environment["dependencies"] if isinstance(d, str)}


def _workflows() -> list[tuple[Path, dict]]:
    folder = ROOT / ".github" / "workflows"
    files = sorted(list(folder.glob("*.yml")) + list(folder.glob("*.yaml")))
    assert files, "no GitHub workflow in .github/workflows"
    return [(f, yaml.safe_load(f.read_text())) for f in files]


def _steps() -> list[dict]:
    steps = []
    for _, flow in _workflows():
        for job in flow["jobs"].values():
            steps.extend(job.get("steps", []))
    return steps


def _python_versions(job: dict, step: dict) -> list[str]:
    """The Python versions a setup-python step gets: its own, or its job's matrix entries."""
    given = str(step.get("with", {}).get("python-version", ""))
    match = re.fullmatch(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}", given)
    if match:
        return [str(v) for v in job.get("strategy", {}).get("matrix", {}).get(match.group(1), [])]
    return [given]


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def test_workflow_runs_make_test_on_311_and_a_newer_python() -> None:
    for path, flow in _workflows():
        for name, job in flow["jobs"].items():
            steps = job.get("steps", [])
            if not any(re.search(r"(^|\s)make test\b", str(s.get("run", ""))) for s in steps):
                continue
            setups = [s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python")]
            assert setups, f"{path.name}: job {name} runs make test without actions/setup-python"
            versions = [v for s in setups for v in _python_versions(job, s)]
            assert "3.11" in versions, f"{path.name}: job {name} tests on {versions}, not 3.11"
            assert any(_minor(v) > (3, 11) for v in versions), (
                f"{path.name}: job {name} tests only on {versions}; add a newer Python")
            return
    raise AssertionError("no workflow job runs `make test`")


def test_workflow_caches_pip() -> None:
    steps = _steps()
    setup_cache = any(str(s.get("uses", "")).startswith("actions/setup-python")
                      and s.get("with", {}).get("cache") == "pip" for s in steps)
    explicit_cache = any(str(s.get("uses", "")).startswith("actions/cache")
                         and "pip" in str(s.get("with", {}).get("path", "")) for s in steps)
    assert setup_cache or explicit_cache


def test_workflow_uploads_failing_notebooks() -> None:
    uploads = [s for s in _steps() if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads, "no actions/upload-artifact step"
    on_failure = [s for s in uploads if "failure()" in str(s.get("if", ""))]
    assert on_failure, "the artifact upload must run if: failure()"
    assert any(re.search(r"nbval|notebook", str(s.get("with", {}).get("path", "")), re.I)
               for s in on_failure)


def test_failing_notebooks_directory_is_what_ci_uploads() -> None:
    # The workflow uploads a folder that the Makefile's nbval target must actually write.
    makefile = (ROOT / "Makefile").read_text()
    for step in _steps():
        if str(step.get("uses", "")).startswith("actions/upload-artifact"):
            path = str(step["with"]["path"]).rstrip("/")
            assert path in " ".join(str(s.get("run", "")) for s in _steps()) + makefile


def test_ci_entry_point_runs_make_test() -> None:
    script = ROOT / ".ci" / "run"
    assert script.is_file() and os.access(script, os.X_OK)
    commands = [line.strip() for line in script.read_text().splitlines()
                if line.strip() and not line.strip().startswith("#")]
    assert "make test" in commands


def test_readme_gives_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme
    assert "make test" in readme


def test_makefile_has_the_documented_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("lab", "test", "lint", "unit", "nbval", "check-notebooks", "notebooks",
                   "notebook-times", "site", "wheelhouse"):
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile has no {target} target"
    test_line = re.search(r"^test:(.*)$", makefile, re.M).group(1).split()
    assert "check-notebooks" in test_line, "make test must run the stale-notebook guard"
    assert re.search(r"^\s+\$\(BIN\)/ruff check .*\bnotebooks\b", makefile, re.M), (
        "make lint must run ruff on the notebooks")


# ---------------------------------------------------------------- make lab, for real
LAB_START_S = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_lab(home: Path, port: int, token: str, *make_args: str,
              user: int | None = None, checkout: Path = ROOT) -> subprocess.Popen:
    """``make lab`` with this interpreter's venv (never reinstalling it) and LAB_ARGS that keep it
    on localhost, without a browser, with its settings in ``home``; ``make -C checkout``."""
    venv = Path(sys.prefix)
    args = (f"--no-browser --ip=127.0.0.1 --port={port} --port-retries=0 "
            f"--IdentityProvider.token={token} --LabApp.news_url=None "
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "BROWSER": "false"}
    command = ["make", "--no-print-directory", "-C", str(checkout), "-o", f"{venv}/.installed",
               *make_args, "lab", f"VENV={venv}", f"LAB_ARGS={args}"]
    extra = {} if user is None else {"user": user, "group": user, "extra_groups": []}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            cwd=home, start_new_session=True, **extra)


def _stop(proc: subprocess.Popen) -> str:
    """Stop make and the JupyterLab it started (its process group, by make's id); the log."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
    return proc.stdout.read().decode()


def test_make_lab_starts_jupyterlab(public_dir: Path) -> None:
    # Whoever runs the tests (root in containers, a normal user in CI) gets a working `make lab`.
    port, token = _free_port(), secrets.token_hex(16)
    proc = _make_lab(public_dir, port, token)
    url = f"http://127.0.0.1:{port}/api/status?token={token}"
    started = time.monotonic()
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"make lab exited with {proc.returncode}:\n{_stop(proc)}")
            assert time.monotonic() - started < LAB_START_S, "make lab did not answer in time"
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                time.sleep(0.3)
    finally:
        log = _stop(proc)
    assert f"127.0.0.1:{port}" in log, log
    assert "Running as root is not recommended" not in log


def _dry_run(home: Path, user: int | None = None, checkout: Path = ROOT) -> str:
    proc = _make_lab(home, 8888, "t", "-n", user=user, checkout=checkout)
    return proc.communicate(timeout=30)[0].decode()


def _readable_copy(where: Path) -> Path:
    """The Makefile (and the pyproject.toml it depends on) in a directory any user can read: the
    checkout itself may be one another user cannot enter (a clone under /root, mode 0700)."""
    where.mkdir(mode=0o755)
    for name in ("Makefile", "pyproject.toml"):
        (where / name).write_bytes((ROOT / name).read_bytes())
        (where / name).chmod(0o644)
    return where


def test_make_lab_adds_allow_root_only_for_root(public_dir: Path) -> None:
    me = _dry_run(public_dir)
    assert ("--allow-root" in me) == (os.geteuid() == 0), me
    assert "--no-browser" in me and "notebooks/" in me
    if os.geteuid() != 0:
        return
    # As root: an ordinary user's command has no --allow-root (the user runs make on a copy
    # of the Makefile: it is the Makefile's `id -u` that is under test, not the checkout's mode)...
    home = public_dir / "nobody"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    theirs = _dry_run(home, user=NOBODY, checkout=_readable_copy(public_dir / "checkout"))
    assert "--allow-root" not in theirs and "--no-browser" in theirs, theirs
    # ...and without it JupyterLab refuses root: the flag is what makes `make lab` work here.
    proc = _make_lab(public_dir, _free_port(), "t", "ALLOW_ROOT=")
    try:
        proc.wait(timeout=LAB_START_S)
    finally:
        log = _stop(proc)
    assert proc.returncode != 0 and "--allow-root" in log, log


# ---------------------------------------------------------------- Colab: the repository URL
def _repository(pyproject: dict) -> str:
    if tomllib is None:
        text = (ROOT / "pyproject.toml").read_text()
        return re.search(r'^Repository\s*=\s*"([^"]+)"', text, re.M).group(1)
    return pyproject["project"]["urls"]["Repository"]


def _first_code_cell(path: Path) -> str:
    import json

    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    return "".join(cell["source"])


def test_first_code_cells_install_from_the_repository_and_choose_a_profile(
        pyproject: dict) -> None:
    url = _repository(pyproject)
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert notebooks
    for path in notebooks:
        code = _first_code_cell(path)
        assert f'REPOSITORY = "{url}"' in code, f"{path.name}: first cell installs from elsewhere"
        assert re.search(r"^\s+%pip install .*git\+\{REPOSITORY\}", code, re.M), path.name
        assert "google.colab" in code, f"{path.name}: install only in Colab"
        assert "ganlab.choose_profile()" in code, path.name
        first_from = code.find("from ganlab")
        assert first_from == -1 or code.index("import ganlab") < first_from, (
            f"{path.name}: ganlab is imported before the cell makes sure it is installed")


def test_readme_has_a_colab_badge_per_notebook(pyproject: dict) -> None:
    url = _repository(pyproject)
    owner_repo = url.removeprefix("https://github.com/")
    readme = (ROOT / "README.md").read_text()
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        link = f"colab.research.google.com/github/{owner_repo}/blob/main/notebooks/{path.name}"
        assert link in readme, f"README has no Colab badge for {path.name}"
