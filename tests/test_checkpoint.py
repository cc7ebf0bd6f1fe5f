"""Tests for ganlab.checkpoint: atomic saves that survive SIGKILL, clear errors for bad files."""

from __future__ import annotations

import errno
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
from conftest import UNPICKLED, Sneaky, fill, remount_read_only, unprivileged

from ganlab import checkpoint as ckpt
from ganlab.checkpoint import CheckpointError, StorageError

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


def test_loading_executes_no_pickled_code(tmp_path: Path) -> None:
    torch.save({"format": ckpt.FORMAT, "version": ckpt.VERSION, "x": Sneaky()},
               tmp_path / "evil.pt")
    with pytest.raises(CheckpointError):
        ckpt.load_checkpoint(tmp_path / "evil.pt")
    assert UNPICKLED == []


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


# ---------------------------------------------------------------- the file system refuses
def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".tmp" in p.name)


def test_a_full_disk_keeps_the_old_checkpoint_and_no_temporary_file(small_tmpfs) -> None:
    disk = small_tmpfs(1 << 20)  # 1 MiB
    path = disk / "checkpoint.pt"
    _save_valid(path)
    before = path.read_bytes()
    fill(disk, leave=8192)
    big = {"format": ckpt.FORMAT, "version": ckpt.VERSION, "step": 4, "w": torch.randn(100_000)}
    with pytest.raises(StorageError) as info:
        ckpt.atomic_torch_save(big, path)
    err = info.value
    assert isinstance(err, OSError) and err.errno == errno.ENOSPC
    assert err.filename == str(path)
    message = str(err)
    assert str(path) in message and "no space left" in message and "free some disk space" in message
    assert "\n" not in message
    assert path.read_bytes() == before
    assert _leftovers(disk) == []
    with pytest.raises(StorageError, match="no space left"):
        ckpt.atomic_write_bytes(disk / "config.json", b"x" * 100_000)
    assert not (disk / "config.json").exists() and _leftovers(disk) == []


def test_torch_save_errors_are_reported_as_the_disk_error_they_are(tmp_path: Path,
                                                                   monkeypatch) -> None:
    # The mock-based twin of the tmpfs test above, for machines that cannot mount one: torch.save
    # turns a failing write into "RuntimeError: unexpected pos"; we report the OSError under it.
    path = tmp_path / "checkpoint.pt"
    _save_valid(path)
    before = path.read_bytes()
    real_open = open

    class FullFile:
        def __init__(self, f):
            self.f = f

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    def fake_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        return FullFile(f) if "w" in mode and ".tmp-" in str(file) else f

    monkeypatch.setattr("builtins.open", fake_open)
    with pytest.raises(StorageError, match="no space left") as info:
        ckpt.atomic_torch_save({"w": torch.randn(1000)}, path)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_a_read_only_file_system_is_named(small_tmpfs) -> None:
    disk = small_tmpfs(1 << 20)
    path = disk / "checkpoint.pt"
    _save_valid(path)
    before = path.read_bytes()
    remount_read_only(disk)
    with pytest.raises(StorageError) as info:
        _save_valid(path)
    assert info.value.errno == errno.EROFS
    assert "read-only" in str(info.value) and str(path) in str(info.value)
    assert path.read_bytes() == before
    assert ckpt.load_checkpoint(path)["step"] == 3  # reading still works


def test_permission_denied_for_writing_and_reading(public_dir: Path) -> None:
    run = public_dir / "run"
    run.mkdir()
    path = run / "checkpoint.pt"
    _save_valid(path)
    before = path.read_bytes()
    run.chmod(0o555)  # nobody (and a normal user) may no longer create files here
    with unprivileged(), pytest.raises(StorageError) as info:
        _save_valid(path)
    assert info.value.errno == errno.EACCES
    assert "permission denied" in str(info.value) and str(path) in str(info.value)
    run.chmod(0o755)
    assert path.read_bytes() == before and _leftovers(run) == []
    path.chmod(0o000)
    with unprivileged(), pytest.raises(StorageError, match="could not read .*permission denied"):
        ckpt.load_checkpoint(path)
    with unprivileged(), pytest.raises(StorageError, match="could not create the directory"):
        ckpt.make_dir(run / "samples")


def test_a_directory_where_the_checkpoint_should_be(tmp_path: Path) -> None:
    (tmp_path / "checkpoint.pt").mkdir()
    with pytest.raises(StorageError, match="is a directory where a file should be"):
        ckpt.load_checkpoint(tmp_path)
    with pytest.raises(StorageError, match="directory where a file should be") as info:
        _save_valid(tmp_path / "checkpoint.pt")
    assert info.value.errno == errno.EISDIR
    assert _leftovers(tmp_path) == []
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(StorageError, match="a file is in the way"):
        ckpt.make_dir(tmp_path / "file")
    with pytest.raises(StorageError, match="is a file where a directory should be"):
        ckpt.atomic_write_bytes(tmp_path / "file" / "config.json", b"{}")


def test_code_in_a_checkpoint_is_named_and_refused(tmp_path: Path) -> None:
    torch.save({"format": ckpt.FORMAT, "version": ckpt.VERSION, "x": Sneaky()},
               tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="asks to run code") as info:
        ckpt.load_checkpoint(tmp_path / "evil.pt")
    assert "mark_unpickled" in str(info.value) or "Sneaky" in str(info.value)
    assert UNPICKLED == []


@pytest.mark.parametrize("version", [2, "1", None, 1.5])
def test_odd_format_versions(tmp_path: Path, version) -> None:
    torch.save({"format": ckpt.FORMAT, "version": version}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="newer ganlab" if version == 2 else "invalid"):
        ckpt.load_checkpoint(tmp_path / "c.pt")


def test_require_names_missing_keys(tmp_path: Path) -> None:
    ckpt.require({"G": 1, "D": 2}, ("G", "D"), tmp_path)
    with pytest.raises(CheckpointError, match=r"without opt_G, step"):
        ckpt.require({"G": 1}, ("G", "opt_G", "step"), tmp_path / "c.pt")


# ---------------------------------------------------------------- config.json
def _config_text() -> str:
    from ganlab.presets import preset

    return preset("dcgan", profile="tiny").to_json()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", ["not valid JSON"]),
        (b"{not json", ["not valid JSON"]),
        (b"\xff\xfe\x00garbage", ["not valid JSON"]),
        (b"[1, 2]", ["expected an object"]),
        (b'{"model": "dcgan", "arch": 5}', ["'arch' must be an object"]),
        (b'{"version": 99, "model": "dcgan", "arch": {}}', ["newer ganlab", "99"]),
    ],
)
def test_read_config_names_the_file_and_the_problem(tmp_path: Path, content: bytes,
                                                    words: list[str]) -> None:
    (tmp_path / "config.json").write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        ckpt.read_config(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "config.json") in message and "\n" not in message
    for word in words:
        assert word in message


def test_read_config_paths_of_the_wrong_kind(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        ckpt.read_config(tmp_path / "absent")
    (tmp_path / "file").write_text(_config_text())
    with pytest.raises(CheckpointError, match="is a file, not a ganlab run directory"):
        ckpt.read_config(tmp_path / "file")
    with pytest.raises(CheckpointError, match="no config.json"):
        ckpt.read_config(tmp_path)
    (tmp_path / "config.json").mkdir()
    with pytest.raises(StorageError, match="directory where a file should be"):
        ckpt.read_config(tmp_path)
    (tmp_path / "config.json").rmdir()
    (tmp_path / "config.json").write_text(_config_text())
    assert ckpt.read_config(tmp_path).model == "dcgan"
