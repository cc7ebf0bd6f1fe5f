"""Training: one trainer for every ganlab model, in files that show its parts.

- ``trainer.py``      :class:`Trainer`: ``d_step`` / ``g_step`` read like the paper's algorithm
                      box; ``fit`` is the loop around them (AMP, EMA, logging, samples,
                      callbacks, Ctrl-C, checkpoints), once for every model
- ``devices.py``      where and how a run computes: the device, the autocast dtype,
                      channels-last, Adam's kernel, torchrun's batch checks; ``sample_z``
- ``diagnostics.py``  the learner's warnings: NaN losses, D winning outright, mode collapse
- ``rundir.py``       the run directory: its lock (one process at a time), ``config.json``,
                      checkpoints, what a resumed run may change, :func:`load_run`
- ``many.py``         :func:`train_many`: small independent runs side by side, one per core

Every name below imports from ``ganlab.training`` as it did when this was one file.
"""

from ganlab.training.devices import (
    CHANNELS_LAST,
    FUSED_ADAM_DEVICES,
    autocast_dtype,
    resolve_device,
    sample_z,
    use_channels_last,
)
from ganlab.training.diagnostics import TrainingDiverged
from ganlab.training.many import train_many
from ganlab.training.rundir import (
    RESUMABLE_CHANGES,
    LoadedRun,
    ResumeConflictError,
    RunDirBusyError,
    RunDirError,
    load_run,
    resume_changes,
)
from ganlab.training.trainer import EMA, Callback, Phase, Trainer, seed_everything

__all__ = [
    "CHANNELS_LAST",
    "EMA",
    "FUSED_ADAM_DEVICES",
    "RESUMABLE_CHANGES",
    "Callback",
    "LoadedRun",
    "Phase",
    "ResumeConflictError",
    "RunDirBusyError",
    "RunDirError",
    "Trainer",
    "TrainingDiverged",
    "autocast_dtype",
    "load_run",
    "resolve_device",
    "resume_changes",
    "sample_z",
    "seed_everything",
    "train_many",
    "use_channels_last",
]
