"""Files that survive a kill at any moment, and file-system errors a user can act on.

A file is written to a temporary file in the same directory, flushed and fsynced, then moved into
place with ``os.replace``: a reader sees either the previous complete file or the new complete
one, never half of either. A write that fails (a full disk, a read-only file system) removes its
temporary file and leaves the previous file as it was. Checkpoints, run configs, cached data
sets, pictures and reports are all written this way.

When the file system refuses, the error is a :class:`StorageError` (an ``OSError``): one line
naming the path, what happened and what to do. This module imports nothing else from ganlab, and
torch only to save tensors.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


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
    import torch

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


CACHE_ENV = "GANLAB_CACHE"


def cache_dir() -> Path:
    """Where ganlab caches what it builds on this machine (judges trained for the metrics,
    compiled training steps): ``$GANLAB_CACHE``, else ``$XDG_CACHE_HOME/ganlab``, else
    ``~/.cache/ganlab``."""
    if os.environ.get(CACHE_ENV, "").strip():
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(base) / "ganlab"
