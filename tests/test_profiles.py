"""Tests for ganlab.profiles and the promise that ``import ganlab`` is fast and light."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import ganlab

VALID = ("tiny", "default", "full")


def test_profile_defaults_to_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GANLAB_PROFILE", raising=False)
    assert ganlab.profile() == "default"
    monkeypatch.setenv("GANLAB_PROFILE", "")
    assert ganlab.profile() == "default"


@pytest.mark.parametrize("name", VALID)
def test_profile_reads_environment(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("GANLAB_PROFILE", name)
    assert ganlab.profile() == name


def test_profiles_constant_lists_the_three_profiles() -> None:
    assert tuple(ganlab.PROFILES) == VALID


def test_unknown_profile_lists_valid_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANLAB_PROFILE", "huge")
    with pytest.raises(ValueError) as info:
        ganlab.profile()
    message = str(info.value)
    assert "huge" in message
    for name in VALID:
        assert name in message


@pytest.mark.parametrize(("gpu", "expected"), [(True, "full"), (False, "default")])
def test_choose_profile_without_the_variable_follows_the_hardware(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], gpu: bool,
        expected: str) -> None:
    monkeypatch.setenv("GANLAB_PROFILE", "")  # unset; and restored after the test
    assert ganlab.choose_profile(gpu=gpu) == expected
    said = capsys.readouterr().out
    assert f"profile {expected!r}" in said and "is unset" in said
    assert ("a CUDA GPU" in said) == gpu
    # Written back, so presets and later profile() calls in the kernel agree.
    assert os.environ["GANLAB_PROFILE"] == expected == ganlab.profile()


@pytest.mark.parametrize("name", VALID)
def test_choose_profile_keeps_a_given_profile(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str],
                                              name: str) -> None:
    monkeypatch.setenv("GANLAB_PROFILE", name)
    assert ganlab.choose_profile(gpu=True) == name  # tiny stays tiny on a GPU
    assert f"profile {name!r} (from $GANLAB_PROFILE" in capsys.readouterr().out


def test_choose_profile_detects_the_gpu_with_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv("GANLAB_PROFILE", "")  # unset; and restored after the test
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert ganlab.choose_profile(announce=False) == "full"


def test_choose_profile_rejects_an_unknown_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANLAB_PROFILE", "huge")
    with pytest.raises(ValueError, match="valid profiles are tiny, default, full"):
        ganlab.choose_profile()


# Measured inside a fresh interpreter, so nothing this test session imported can hide a cost.
_IMPORT_PROBE = """
import json, sys, time
start = time.perf_counter()
import ganlab
ganlab.profile()
elapsed = time.perf_counter() - start
heavy = ("matplotlib", "ipywidgets", "torchvision", "sklearn", "ganlab.data")
print(json.dumps({"seconds": elapsed, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def test_import_ganlab_is_fast_and_light() -> None:
    env = {k: v for k, v in os.environ.items() if k != "GANLAB_PROFILE"}
    result = subprocess.run([sys.executable, "-c", _IMPORT_PROBE], capture_output=True,
                            text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["loaded"] == [], f"import ganlab pulled in {probe['loaded']}"
    assert probe["seconds"] < 2.0, f"import ganlab took {probe['seconds']:.2f} s"


def test_submodules_load_on_first_use() -> None:
    assert ganlab.config.RunConfig.__name__ == "RunConfig"
    with pytest.raises(AttributeError):
        ganlab.no_such_module  # noqa: B018
