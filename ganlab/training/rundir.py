"""The run directory: its config, its checkpoint, what a resume may change, reading it back.

A run directory (``--out``) holds ``config.json``, ``checkpoint.pt`` (both written atomically, see
:mod:`ganlab.files`) and ``samples/``.

- **A new run** starts only in a missing or empty directory (:func:`check_fresh`).
- **What a resumed run may change** is :data:`RESUMABLE_CHANGES`, applied by
  :func:`resume_changes` for ``Trainer(..., resume=True)`` and ``ganlab train --resume`` alike.
- **Reading a run back**: :func:`load_run` rebuilds G and D from the directory alone.
"""

from __future__ import annotations

import shutil
import sys
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

# What a resumed run may change: its length, its precision and where its data lives. Everything
# else (model, data set, loss, batch size, seed, ...) defines the run and is refused.
RESUMABLE_CHANGES = ("train.steps", "train.amp", "data.root", "data.download")

STATE_KEYS = ("config", "G", "D", "opt_G", "opt_D", "scaler", "step", "images_seen", "rng")


class RunDirError(ValueError):
    """The output directory cannot be used for this run (and was left untouched)."""


class ResumeConflictError(RunDirError):
    """Resuming was asked with settings that would change the saved run; nothing was changed."""


# ---------------------------------------------------------------- new runs and resumed ones
def check_fresh(out_dir: Path) -> None:
    """A new run may only start in a missing or empty directory."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise RunDirError(f"{out_dir} exists and is not a directory; choose another --out")
    if ckpt.is_run_dir(out_dir):
        raise RunDirError(f"{out_dir} already holds a ganlab run; pass --resume to continue it, "
                          "or choose another --out")
    if any(out_dir.iterdir()):
        raise RunDirError(f"{out_dir} exists, is not empty and is not a ganlab run; refusing to "
                          "write into it. Choose another --out")


def check_resumable(out_dir: Path) -> None:
    """There is a run to resume (checked before anything is read)."""
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
    """Write config.json; a new run whose first write fails leaves no directory behind."""
    created = not out_dir.exists()
    try:
        make_dir(out_dir)
        atomic_write_bytes(out_dir / ckpt.CONFIG_NAME, config.to_json().encode())
    except OSError:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise


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
