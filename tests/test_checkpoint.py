"""Tests for ganlab.checkpoint: atomic saves that survive SIGKILL, clear errors for bad files."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ganlab import checkpoint as ckpt
from ganlab.checkpoint import CheckpointError

PAYLOAD = 2_000_000  # float32 values: an 8 MB checkpoint takes a while to write and fsync

# A server that imports torch once, then forks writers on demand: each writer saves checkpoints
# in a loop (version 1, 2, 3, ...) until the test SIGKILLs it at a random moment.
_WRITER_SERVER = """
import os, sys
import torch
from ganlab.checkpoint import atomic_torch_save

path, size = sys.argv[1], int(sys.argv[2])
version = int(sys.argv[3])
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        try:
            while True:
                version += 1
                atomic_torch_save({"format": "ganlab-checkpoint", "version": 1, "step": version,
                                   "payload": torch.full((size,), float(version)),
                                   "tail": {"step": version}}, path)
        finally:
            os._exit(0)
    version += 100_000  # the next writer's versions are all newer than this one's
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("reaped", flush=True)
"""


def _check_complete(path: Path, previous: int) -> int:
    state = ckpt.load_checkpoint(path)  # raises CheckpointError if torn
    step = state["step"]
    assert state["payload"].shape == (PAYLOAD,)
    assert torch.all(state["payload"] == float(step)), "payload from two different saves"
    assert state["tail"] == {"step": step}
    assert step >= previous, "an older checkpoint replaced a newer one"
    return step


def test_checkpoint_survives_sigkill_at_random_moments(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    rng = random.Random(0)
    server = subprocess.Popen(
        [sys.executable, "-c", _WRITER_SERVER, str(path), str(PAYLOAD), "0"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kills, torn_windows, previous = 0, 0, 0
    try:
        for _ in range(5):
            server.stdin.write("go\n")
            server.stdin.flush()
            pid = int(server.stdout.readline())
            deadline = time.monotonic() + 60
            while not path.exists():  # the very first save
                assert time.monotonic() < deadline, "the writer never saved a checkpoint"
                time.sleep(0.01)
            time.sleep(rng.uniform(0.05, 0.4))
            os.kill(pid, signal.SIGKILL)
            kills += 1
            assert server.stdout.readline().strip() == "reaped"
            # Killed in the middle of a save: its temporary file is left behind.
            leftovers = list(tmp_path.glob(".checkpoint.pt.tmp-*"))
            torn_windows += bool(leftovers)
            for leftover in leftovers:
                leftover.unlink()
            previous = _check_complete(path, previous)
    finally:
        server.kill()
        server.communicate(timeout=30)
    assert kills == 5 and previous > 0
    assert torn_windows >= 1, "no kill landed in the middle of a save; the test proved nothing"


def _save_valid(path: Path) -> None:
    ckpt.atomic_torch_save({"format": ckpt.FORMAT, "version": ckpt.VERSION, "step": 3,
                            "w": torch.randn(5000)}, path)


def test_atomic_save_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    _save_valid(path)
    _save_valid(path)
    ckpt.atomic_write_bytes(tmp_path / "config.json", b"{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "config.json"]
    assert (tmp_path / "config.json").read_bytes() == b"{}"
    assert ckpt.load_checkpoint(path)["step"] == 3
    assert ckpt.load_checkpoint(tmp_path)["step"] == 3  # a run directory works too


@pytest.mark.parametrize("damage", ["truncated", "random", "empty"])
def test_corrupt_checkpoint_is_a_clear_error(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "checkpoint.pt"
    _save_valid(path)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "random":
        path.write_bytes(np.random.default_rng(0).bytes(len(data)))
    else:
        path.write_bytes(b"")
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message
    assert "corrupt" in message
    assert "\n" not in message  # one line for the CLI


def test_foreign_torch_files_are_refused(tmp_path: Path) -> None:
    for name, obj in [("dict.pt", {"a": 1}), ("tensor.pt", torch.zeros(3)),
                      ("weights.pt", {"weight": torch.zeros(2, 2)})]:
        torch.save(obj, tmp_path / name)
        with pytest.raises(CheckpointError, match="not a ganlab checkpoint"):
            ckpt.load_checkpoint(tmp_path / name)


def test_newer_format_and_missing_file(tmp_path: Path) -> None:
    torch.save({"format": ckpt.FORMAT, "version": ckpt.VERSION + 1}, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="newer"):
        ckpt.load_checkpoint(tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        ckpt.load_checkpoint(tmp_path / "absent.pt")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        ckpt.load_checkpoint(tmp_path)


_EXECUTED: list[str] = []


def _mark() -> str:
    _EXECUTED.append("ran")
    return "pwned"


class _Sneaky:
    def __reduce__(self):
        return (_mark, ())


def test_loading_executes_no_pickled_code(tmp_path: Path) -> None:
    torch.save({"format": ckpt.FORMAT, "version": ckpt.VERSION, "x": _Sneaky()},
               tmp_path / "evil.pt")
    with pytest.raises(CheckpointError):
        ckpt.load_checkpoint(tmp_path / "evil.pt")
    assert _EXECUTED == []


def test_rng_state_round_trip() -> None:
    state = ckpt.rng_state()
    first = (random.random(), np.random.rand(), torch.rand(3))
    ckpt.set_rng_state(state)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[0] == second[0] and first[1] == second[1]
    assert torch.equal(first[2], second[2])


def test_rng_state_survives_weights_only_loading(tmp_path: Path) -> None:
    ckpt.atomic_torch_save({"rng": ckpt.rng_state()}, tmp_path / "rng.pt")
    expected = torch.rand(4)
    state = torch.load(tmp_path / "rng.pt", weights_only=True)
    ckpt.set_rng_state(state["rng"])
    assert torch.equal(torch.rand(4), expected)


def test_is_run_dir(tmp_path: Path) -> None:
    assert not ckpt.is_run_dir(tmp_path)
    (tmp_path / "config.json").write_text("not json")
    assert not ckpt.is_run_dir(tmp_path)
    (tmp_path / "config.json").write_text('{"other": 1}')
    assert not ckpt.is_run_dir(tmp_path)
    (tmp_path / "config.json").write_text('{"model": "dcgan", "arch": {}}')
    assert ckpt.is_run_dir(tmp_path)
