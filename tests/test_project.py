"""Tests for the project files: conda environment, CI workflow, CI entry point, README, Makefile."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

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


def test_workflow_runs_make_test_on_python_311() -> None:
    steps = _steps()
    assert any(re.search(r"(^|\s)make test\b", str(s.get("run", ""))) for s in steps)
    setups = [s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python")]
    assert setups, "no actions/setup-python step"
    assert all(str(s.get("with", {}).get("python-version")) == "3.11" for s in setups)


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
    for target in ("lab", "test", "lint", "unit", "nbval"):
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile has no {target} target"
