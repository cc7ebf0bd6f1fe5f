"""Checkpoints that survive a kill at any moment, and file errors a user can act on.

A run directory holds ``config.json`` and ``checkpoint.pt``. Files are written to a temporary file
in the same directory, flushed and fsynced, then moved into place with ``os.replace``: a reader
sees either the previous complete file or the new complete one, never half of either. A write that
fails (a full disk, a read-only file system) removes its temporary file and leaves the previous
file as it was. Loading uses ``torch.load(weights_only=True)``, which executes no pickled code.

Two kinds of error reach the user, each as one line that names the path and what to do:

- :class:`StorageError` (an ``OSError``): the file system refused (no space, no permission,
  read-only, a directory where a file should be);
- :class:`CheckpointError`: a file was read but is not what its name says (a corrupt or foreign
  checkpoint, a ``config.json`` that is not JSON or comes from a newer ganlab).
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from ganlab.config import RunConfig

FORMAT = "ganlab-checkpoint"
VERSION = 1
CONFIG_NAME = "config.json"
CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointError(RuntimeError):
    """A checkpoint or run directory that cannot be used, with the reason and what to do."""


class StorageError(OSError):
    """The file system refused a read or write: no space, no permission, a read-only file system,
    a directory where a file should be. ``errno`` and ``filename`` are those of the original
    ``OSError``; ``str()`` is one line naming the path and what to do."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


# errno -> (what happened, what to do)
_WHY = {
    errno.ENOSPC: ("no space left on the device", "free some disk space (df -h shows how much is "
                   "left) or choose a location on another disk"),
    errno.EDQUOT: ("the disk quota is exceeded", "free some space or choose another location"),
    errno.EROFS: ("the file system is read-only", "choose a location you can write to"),
    errno.EACCES: ("permission denied", "check its permissions (ls -l) or choose a location you "
                   "can write to"),
    errno.EPERM: ("operation not permitted", "check its permissions (ls -l) or choose another "
                  "location"),
    errno.EISDIR: ("it is a directory where a file should be", "remove or rename that directory, "
                   "or choose another path"),
    errno.ENOTDIR: ("part of the path is a file where a directory should be", "remove or rename "
                    "that file, or choose another path"),
    errno.EEXIST: ("a file is in the way where a directory should be", "remove or rename that "
                   "file, or choose another path"),
    errno.ENOENT: ("it does not exist", "check the path"),
    errno.ENAMETOOLONG: ("the name is too long", "choose a shorter path"),
}


def storage_error(err: OSError, path: str | os.PathLike, action: str,
                  note: str = "") -> StorageError:
    """A :class:`StorageError` for ``err``, raised while trying to ``action`` (e.g. "write")."""
    if isinstance(err, StorageError):
        if not note:
            return err
        return StorageError(err.errno or 0, f"{err}. {note}", err.filename)
    why, fix = _WHY.get(err.errno, (err.strerror or type(err).__name__,
                                    "check the disk and the path"))
    message = f"could not {action} {path}: {why}; {fix}"
    if note:
        message += f". {note}"
    return StorageError(err.errno or 0, message, str(path))


class _WriteRecorder:
    """A file wrapper that remembers the OSError a write raised: ``torch.save`` reports a full disk
    as a RuntimeError ("unexpected pos ...") and hides the real cause."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self.f.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.f.flush()


def _atomic_write(path: str | os.PathLike, write: Callable[[Any], object]) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    recorder = None
    try:
        try:
            with open(tmp, "wb") as f:
                recorder = _WriteRecorder(f)
                try:
                    write(recorder)
                except Exception:
                    if recorder.error is not None:
                        raise recorder.error from None
                    raise
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
    except OSError as err:
        raise storage_error(err, path, "write") from None
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically; a :class:`StorageError` leaves ``path`` as it was."""
    _atomic_write(path, lambda f: f.write(data))


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` atomically; a :class:`StorageError` leaves ``path`` as it was."""
    _atomic_write(path, lambda f: torch.save(obj, f))


def make_dir(path: str | os.PathLike) -> Path:
    """``mkdir -p`` that raises a :class:`StorageError` naming the directory."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise storage_error(err, path, "create the directory") from None
    return path


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch and CUDA RNG states, in types that ``weights_only`` loading accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_to_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_tuple(x: Any) -> Any:
    return tuple(_to_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


def is_run_dir(path: str | os.PathLike) -> bool:
    """True if ``path`` holds a ganlab run (a readable ``config.json``)."""
    cfg = Path(path) / CONFIG_NAME
    if not cfg.is_file():
        return False
    try:
        data = json.loads(cfg.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "model" in data and "arch" in data


def read_config(run_dir: str | os.PathLike) -> RunConfig:
    """The :class:`RunConfig` in ``run_dir/config.json``, or an error naming what is wrong."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise CheckpointError(f"{run_dir} does not exist; give the directory of a run (the --out "
                              "of ganlab train)")
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir} is a file, not a ganlab run directory; give the "
                              f"directory that holds {CONFIG_NAME} and {CHECKPOINT_NAME}")
    path = run_dir / CONFIG_NAME
    if not path.exists():
        raise CheckpointError(f"{run_dir} is not a ganlab run directory (no {CONFIG_NAME})")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise storage_error(err, path, "read") from None
    except UnicodeDecodeError:
        text = "\0"  # not text at all: let the JSON parser say so
    try:
        return RunConfig.from_json(text)
    except ValueError as err:
        raise CheckpointError(f"{path} is not a usable ganlab config: {err}. Restore it from a "
                              "copy, or start a new run in another directory") from None


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Load and sanity-check a ganlab checkpoint file; clear errors for corrupt or foreign files."""
    path = Path(path)
    if path.is_dir() and path.name != CHECKPOINT_NAME:  # a run directory
        path = path / CHECKPOINT_NAME
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}: the run has not saved one yet")
    if path.is_dir():
        raise storage_error(IsADirectoryError(errno.EISDIR, "Is a directory"), path, "read")
    try:
        f = open(path, "rb")
    except OSError as err:
        raise storage_error(err, path, "read") from None
    try:
        with f:
            state = torch.load(f, map_location=map_location, weights_only=True)
    except OSError as err:  # the disk failing; other errnos (EINVAL from a seek) mean bad bytes
        if err.errno in (errno.EIO, errno.EACCES, errno.EPERM):
            raise storage_error(err, path, "read") from None
        raise _unreadable(path, err) from None
    except Exception as err:  # noqa: BLE001 - any unpickling failure means the file is unusable
        raise _unreadable(path, err) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a PyTorch file but not a ganlab checkpoint")
    version = state.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"{path} has an invalid format version {version!r}; it is not a "
                              "ganlab checkpoint")
    if version > VERSION:
        raise CheckpointError(f"{path} was written by a newer ganlab (format {version}; this one "
                              f"reads {VERSION}): upgrade ganlab to use it")
    return state


def require(state: dict[str, Any], keys: tuple[str, ...], path: str | os.PathLike) -> None:
    """Raise a :class:`CheckpointError` if a loaded checkpoint lacks one of ``keys``."""
    missing = [k for k in keys if k not in state]
    if missing:
        raise CheckpointError(f"{path} is a ganlab checkpoint without {', '.join(missing)}: it is "
                              "incomplete or was edited; restore a copy or start a new run")


def _unreadable(path: Path, err: Exception) -> CheckpointError:
    text = str(err)
    code = re.search(r"GLOBAL (\S+)", text)
    if "Weights only load failed" in text and code:
        return CheckpointError(
            f"{path} asks to run code when it is loaded ({code.group(1)}); ganlab checkpoints "
            "never do, so it was not loaded. It was not written by ganlab, or was tampered with: "
            "delete it, or restore a copy you trust")
    first = (text.splitlines() or ["empty file"])[0][:200]
    return CheckpointError(
        f"{path} is not a readable ganlab checkpoint ({type(err).__name__}: {first}). It may be "
        "truncated or corrupt, or from another program; delete it to start over, or restore a "
        "copy."
    )
