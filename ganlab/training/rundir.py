"""The run directory: one process trains in it at a time; its config, checkpoint and resume rules.

A run directory (``--out``) holds ``config.json``, ``checkpoint.pt`` (both written atomically, see
:mod:`ganlab.files`), ``samples/`` and, while a process trains in it, ``.lock``.

- **One process at a time.** The process that trains in a directory holds ``.lock``: the file
  names it (PID, host, start time, command) and the process holds an exclusive ``flock`` on it,
  taken atomically. Another process finds it taken and stops with :class:`RunDirBusyError`,
  naming the holder, before it reads or writes anything else. The kernel drops a ``flock`` when
  its process ends, however it ends, so the lock of a killed process (``kill -9``, a crashed
  kernel) is free, and the next process takes it over with a one-line note. Under ``torchrun``
  rank 0 holds the one lock of the job; within one process, Trainers of the same directory share
  it. (Without ``fcntl``, on Windows, directories are not locked.)
- **What a resumed run may change** is :data:`RESUMABLE_CHANGES`, applied by
  :func:`resume_changes` for ``Trainer(..., resume=True)`` and ``ganlab train --resume`` alike.
- **Reading a run back**: :func:`load_run` rebuilds G and D from the directory alone.
- **Ctrl-C** (:class:`StopFlag`): ``Trainer.fit`` stops at the end of a step and saves, so the
  checkpoint is never half-updated.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganlab import checkpoint as ckpt
from ganlab import distributed
from ganlab.config import RunConfig, config_changes
from ganlab.files import atomic_write_bytes, make_dir, storage_error
from ganlab.models import build
from ganlab.training.devices import resolve_device, sample_z

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_NAME = ".lock"

# What a resumed run may change: its length, its precision, whether it compiles and where its
# data lives. Everything else (model, data set, loss, batch size, seed, ...) defines the run and
# is refused.
RESUMABLE_CHANGES = ("train.steps", "train.amp", "train.compile", "data.root", "data.download")

STATE_KEYS = ("config", "G", "D", "opt_G", "opt_D", "scaler", "step", "images_seen", "rng")


class RunDirError(ValueError):
    """The output directory cannot be used for this run (and was left untouched)."""


class ResumeConflictError(RunDirError):
    """Resuming was asked with settings that would change the saved run; nothing was changed."""


class RunDirBusyError(RunDirError):
    """Another process is training in the run directory (its lock names it); nothing was
    changed."""


# ---------------------------------------------------------------- the lock
@dataclass
class _Held:
    """This process's lock on one directory; ``fd`` is None where nothing could be locked."""

    path: Path
    fd: int | None
    users: int = 0


_HELD: dict[str, _Held] = {}  # by the directory's real path


class RunLock:
    """One Trainer's hold on a run directory; :meth:`release` lets it go (once)."""

    def __init__(self, directory: Path, key: str, created: Path | None) -> None:
        self.directory = directory
        self.created = created  # the outermost directory this hold made (a new run), or None
        self._key = key
        self.released = False

    def release(self, remove_created: bool = False) -> None:
        """Give the directory back; with ``remove_created``, also remove a directory this hold
        made (a new run that failed before it started)."""
        if self.released:
            return
        self.released = True
        held = _HELD[self._key]
        held.users -= 1
        if held.users:
            return  # another Trainer of this process still uses the directory
        del _HELD[self._key]
        if held.fd is not None:
            try:
                os.unlink(held.path)  # before closing: nobody may lock a file that then vanishes
            except OSError:
                pass
            os.close(held.fd)
        if remove_created and self.created is not None:
            shutil.rmtree(self.created, ignore_errors=True)


def lock_run_dir(directory: str | os.PathLike, create: bool = False) -> RunLock:
    """Take ``directory`` for this process (``create``: make it first, for a new run).

    Raises :class:`RunDirBusyError` naming the process that holds it; takes over, with a note on
    stderr, a lock whose process has ended without releasing it.
    """
    directory = Path(directory)
    created = None
    if create and not directory.exists():
        created = directory
        while not created.parent.exists():  # runs/x made runs/ too: both go if the run fails
            created = created.parent
        make_dir(directory)
    key = os.path.realpath(directory)
    held = _HELD.get(key)
    if held is None:
        try:
            fd = _take(directory)
        except BaseException:
            if created is not None:
                shutil.rmtree(created, ignore_errors=True)
            raise
        held = _HELD[key] = _Held(directory / LOCK_NAME, fd)
    held.users += 1
    return RunLock(directory, key, created)


def lock_for_all_ranks(directory: Path, dist: distributed.Distributed,
                       create: bool) -> RunLock | None:
    """Rank 0 takes the lock, one for the whole torchrun job; every rank learns whether it could
    (and raises the same error when it could not). None on the other ranks."""
    lock, error = None, None
    if dist.is_main:
        try:
            lock = lock_run_dir(directory, create=create)
        except (RunDirError, OSError) as err:
            error = err
    if dist.enabled:
        failure = dist.share(None if error is None else
                             (isinstance(error, RunDirBusyError), str(error)))
        if error is None and failure is not None:
            busy, message = failure
            raise (RunDirBusyError if busy else RunDirError)(message)
    if error is not None:
        raise error
    return lock


def _take(directory: Path) -> int | None:
    """An open, ``flock``-ed ``.lock`` holding this process's name; None where nothing can be
    locked or written."""
    path = directory / LOCK_NAME
    if fcntl is None:
        return None
    while True:
        fd = _open_lock_file(path)
        if fd is None:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd) or "a process that is just starting"
            os.close(fd)
            raise RunDirBusyError(
                f"{directory} is in use by another process ({holder}): one process trains in a "
                "run directory at a time. Wait for it to finish or stop it, or choose another "
                "--out (in Python a Trainer holds its directory until trainer.close() or the end "
                "of its process)") from None
        except OSError as err:  # some network and FUSE file systems cannot lock
            os.close(fd)
            print(f"note: {path} cannot be locked here ({err.strerror}); nothing stops another "
                  f"process from training in {directory} at the same time", file=sys.stderr)
            return None
        if _same_file(fd, path):
            break
        os.close(fd)  # its holder removed it between our open and our lock: try again
    previous = _holder(fd)
    if previous is not None:
        print(f"{directory}: took over the lock of {previous}, which no longer holds it (it "
              "ended without releasing it, e.g. killed)", file=sys.stderr)
    _write_holder(fd)
    return fd


def _open_lock_file(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise storage_error(err, path, "create the lock file") from None
    try:  # another user's lock file locks as well when we may only read it
        return os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        # Nobody holds it, and this process can create no file here: every write it would make
        # fails, first config.json's, whose error names the file and what to do.
        return None
    except OSError as err:
        raise storage_error(err, path, "open the lock file") from None


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _holder(fd: int) -> str | None:
    """Who the lock file names, in words; None for an empty file."""
    raw = os.pread(fd, 4096, 0)
    if not raw.strip():
        return None
    try:
        info = json.loads(raw)
        return (f"PID {info['pid']} on {info['host']}, since {info['since']}: "
                f"{info['command']}")
    except (ValueError, KeyError, TypeError):
        return f"unreadable lock file {raw[:80]!r}"


def _write_holder(fd: int) -> None:
    argv = list(sys.argv) or ["python"]
    first = Path(argv[0])
    argv[0] = first.parent.name if first.name == "__main__.py" else first.name  # python -m X
    info = {"pid": os.getpid(), "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(argv)[:300]}
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
    except OSError:
        pass  # a full disk, a read-only lock file: the lock holds, without the holder's name


# ---------------------------------------------------------------- new runs and resumed ones
def check_fresh(out_dir: Path) -> None:
    """A new run may only start in a missing or empty directory (a lock aside)."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise RunDirError(f"{out_dir} exists and is not a directory; choose another --out")
    if ckpt.is_run_dir(out_dir):
        raise RunDirError(f"{out_dir} already holds a ganlab run; pass --resume to continue it, "
                          "or choose another --out")
    if any(p.name != LOCK_NAME for p in out_dir.iterdir()):
        raise RunDirError(f"{out_dir} exists, is not empty and is not a ganlab run; refusing to "
                          "write into it. Choose another --out")


def check_resumable(out_dir: Path) -> None:
    """There is a run to resume (checked before anything is locked or read)."""
    if not (out_dir / ckpt.CONFIG_NAME).exists():
        raise RunDirError(f"nothing to resume: {out_dir} is not a ganlab run directory "
                          "(no config.json); start a new run without --resume")


def read_for_resume(out_dir: Path, dist: distributed.Distributed) -> dict[str, Any]:
    """The checkpoint to resume from, checked (keys, world size); ``state["path"]`` is its file."""
    check_resumable(out_dir)
    ckpt.read_config(out_dir)  # a damaged config.json is named before anything else
    path = out_dir / ckpt.CHECKPOINT_NAME
    if not path.exists():
        raise RunDirError(f"nothing to resume: {out_dir} has no checkpoint.pt yet; "
                          "start it again without --resume (after deleting the directory)")
    # Left by a run killed mid-save; rank 0 alone writes here, so it alone cleans up.
    leftovers = out_dir.glob(".*.tmp-*") if dist.is_main else ()
    for stale in leftovers:
        try:
            stale.unlink(missing_ok=True)
        except OSError as err:
            raise storage_error(err, stale, "remove the leftover") from None
    state = ckpt.load_checkpoint(path)
    ckpt.require(state, STATE_KEYS, path)
    state["path"] = path
    world = int(state.get("world_size", 1))
    if world != dist.world_size:
        raise RunDirError(
            f"{out_dir} was trained by {world} process(es) and this is "
            f"{dist.world_size}; resume it with the same world size ("
            + ("without torchrun" if world == 1 else
               f"torchrun with nnodes x nproc_per_node = {world}")
            + "). Another world size would change each process's slice of the batch, its "
            "data shard and its random stream, so the run could not continue exactly."
        )
    return state


def config_of(state: dict[str, Any], path: Path) -> RunConfig:
    """The RunConfig a loaded checkpoint carries (a CheckpointError if it is unusable)."""
    try:
        return RunConfig.from_dict(state["config"])
    except ValueError as err:
        raise ckpt.CheckpointError(f"{path} holds an unusable config ({err}); restore a copy or "
                                   "start a new run") from None


Change = tuple[str, Any, Any]  # (field, old, new), e.g. ("train.seed", 0, 3)


def resume_changes(saved: RunConfig, config: RunConfig) -> tuple[list[Change], list[Change]]:
    """``(allowed, refused)``: the fields in which ``config`` differs from the saved run's,
    split by :data:`RESUMABLE_CHANGES`. The one place that decides what a resume may change."""
    changes = config_changes(saved, config)
    return ([c for c in changes if c[0] in RESUMABLE_CHANGES],
            [c for c in changes if c[0] not in RESUMABLE_CHANGES])


def resumed_config(saved: RunConfig, config: RunConfig | None, out_dir: Path) -> RunConfig:
    """The config a resumed run trains with: the saved one, or ``config`` when it changes only
    what :func:`resume_changes` allows (each change but the length is said in one line)."""
    if config is None:
        return saved
    allowed, refused = resume_changes(saved, config)
    if refused:
        listed = ", ".join(f"{f} ({old!r} -> {new!r})" for f, old, new in refused[:4])
        more = f" and {len(refused) - 4} more" if len(refused) > 4 else ""
        raise ResumeConflictError(
            f"cannot resume {out_dir} with a different {listed}{more}: a resumed run "
            f"keeps the settings it started with (only {', '.join(RESUMABLE_CHANGES)} may "
            "change). Pass config=None to continue it as it was, or start a new run in "
            "another directory"
        )
    for field, old, new in allowed:
        if field != "train.steps":
            print(f"resume: {field} changed from {old!r} to {new!r}", file=sys.stderr)
    return config


# ---------------------------------------------------------------- writing
def write_config(out_dir: Path, config: RunConfig) -> None:
    atomic_write_bytes(out_dir / ckpt.CONFIG_NAME, config.to_json().encode())


def write_checkpoint(state: dict[str, Any], path: Path) -> None:
    """``checkpoint.pt`` atomically; a StorageError says the previous one is unchanged."""
    try:
        ckpt.atomic_torch_save(state, path)
    except OSError as err:
        raise storage_error(err, path, "write", kept(path)) from None


def kept(path: Path) -> str:
    if path.exists():
        return f"The previous checkpoint {path} is unchanged; resume from it with --resume"
    return "No checkpoint was written"


def mismatch(path: Path, err: Exception) -> ckpt.CheckpointError:
    reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
    return ckpt.CheckpointError(
        f"{path} does not fit the model its config describes ({type(err).__name__}: {reason}); "
        "it was edited or damaged: restore a copy, or start a new run"
    )


# ---------------------------------------------------------------- reading a run back
@dataclass
class LoadedRun:
    """A trained run: its config, G (the EMA weights when the run kept them) and D, in eval mode."""

    config: RunConfig
    G: nn.Module
    D: nn.Module
    step: int
    images_seen: int
    history: list[dict[str, float]]

    @torch.no_grad()
    def sample(self, n: int = 64, seed: int = 0, **kwargs: Any) -> torch.Tensor:
        """``n`` samples for latent seed ``seed``, on the CPU in [-1, 1]."""
        device = next(self.G.parameters()).device
        z = sample_z(n, self.config.arch.latent_dim, seed=seed, device=device)
        return self.G(z, **kwargs).float().cpu()


def load_run(run_dir: str | Path, device: str | torch.device | None = "cpu",
             ema: bool = True) -> LoadedRun:
    """Rebuild G and D from a run directory (or a checkpoint file); needs nothing else."""
    path = Path(run_dir)
    if path.is_dir():
        ckpt.read_config(path)  # names a missing or damaged config.json
        path = path / ckpt.CHECKPOINT_NAME
    dev = resolve_device(device)
    state = ckpt.load_checkpoint(path)
    ckpt.require(state, ("config", "G", "D", "step", "images_seen"), path)
    config = config_of(state, path)
    G, D = build(config.arch)
    g_state = state["G_ema"] if ema and state.get("G_ema") is not None else state["G"]
    try:
        G.load_state_dict(g_state)
        D.load_state_dict(state["D"])
    except (RuntimeError, TypeError, AttributeError) as err:
        raise mismatch(path, err) from None
    return LoadedRun(config, G.to(dev).eval(), D.to(dev).eval(), int(state["step"]),
                     int(state["images_seen"]), list(state.get("history", [])))


class StopFlag:
    """Turns SIGINT into a flag that ``Trainer.fit`` checks between steps, so a run stops at a
    step's end with its checkpoint saved, never half-updated; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.set = False
        self._previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.set:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.set = True

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
