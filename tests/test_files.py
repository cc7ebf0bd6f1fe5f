"""Tests for ganlab.files: atomic writes and the one-line StorageError (the checkpoint tests
exercise them under SIGKILL, full and read-only disks, through ganlab.checkpoint's re-exports)."""

from __future__ import annotations

import ast
import errno
import subprocess
import sys
from pathlib import Path

import pytest

from ganlab import checkpoint, files


def test_an_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    files.atomic_write_bytes(path, b"one")
    files.atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_a_refused_write_is_one_line_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    with pytest.raises(files.StorageError) as info:
        files.atomic_write_bytes(tmp_path / "x", b"data")  # a directory where the file goes
    assert info.value.errno == errno.EISDIR
    assert str(info.value).startswith(f"could not write {tmp_path / 'x'}: it is a directory")
    assert "\n" not in str(info.value)


def test_checkpoint_re_exports_the_same_objects() -> None:
    # README and older code name them ganlab.checkpoint.StorageError, ...
    for name in ("StorageError", "storage_error", "atomic_write_bytes", "atomic_torch_save",
                 "make_dir"):
        assert getattr(checkpoint, name) is getattr(files, name), name


def test_files_sits_at_the_bottom() -> None:
    """No other ganlab module, and no torch until a tensor is saved: data, viz and the CLI use it
    without reaching into checkpoints."""
    tree = ast.parse(Path(files.__file__).read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in top if isinstance(n, ast.ImportFrom) and n.module]
    assert not [n for n in names if n.split(".")[0] in ("ganlab", "torch")], names
    code = "import sys, ganlab.files; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
