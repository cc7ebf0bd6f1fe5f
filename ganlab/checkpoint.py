"""Checkpoints: what a run directory holds, written so that a kill at any moment loses nothing.

A run directory holds ``config.json`` and ``checkpoint.pt``, both written atomically by
:mod:`ganlab.files` (a temporary file, fsynced, then ``os.replace``). Loading uses
``torch.load(weights_only=True)``, which executes no pickled code.

Two kinds of error reach the user, each as one line that names the path and what to do:

- :class:`StorageError` (an ``OSError``, from :mod:`ganlab.files`): the file system refused (no
  space, no permission, read-only, a directory where a file should be);
- :class:`CheckpointError`: a file was read but is not what its name says (a corrupt or foreign
  checkpoint, a ``config.json`` that is not JSON or comes from a newer ganlab).
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganlab.config import RunConfig
from ganlab.files import (  # noqa: F401 - re-exported: ganlab.checkpoint.StorageError, ...
    StorageError,
    atomic_torch_save,
    atomic_write_bytes,
    make_dir,
    storage_error,
)

FORMAT = "ganlab-checkpoint"
VERSION = 1
CONFIG_NAME = "config.json"
CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointError(RuntimeError):
    """A checkpoint or run directory that cannot be used, with the reason and what to do."""


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
