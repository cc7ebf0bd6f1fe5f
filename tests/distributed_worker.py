"""Run by tests/test_distributed.py under ``torchrun --nproc_per_node=2`` (gloo, CPU).

Each rank trains the tiny runs of :func:`configs` step by step through ``Trainer.train_step``
and saves, in ``OUT/rank{RANK}.pt``, what it saw and what it ended with after every step: its
real batches, every z and interpolation weight it drew (``torch.randn``/``torch.rand`` are
recorded while a step runs), and its G, D, EMA and optimiser tensors. The test compares the
ranks with each other and replays their inputs in a single process.

With ``--cli ARGS...`` (a ``ganlab train`` command line without ``--out``) the ranks also
train that command's config into ``OUT/whole`` in one go and into ``OUT/half`` for half its
steps; the test then resumes ``OUT/half`` with a second torchrun and compares. Last, a
Ctrl-C that reaches rank 1 alone must stop both ranks at the same step (``OUT/interrupted``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import torch

from ganlab import cli, distributed
from ganlab.config import DCGANConfig, MLPConfig, RunConfig
from ganlab.models.progan import ProGANConfig
from ganlab.presets import preset
from ganlab.training import Trainer
from ganlab.training.rundir import LOCK_NAME

STEPS = 4


def configs() -> dict[str, RunConfig]:
    """Tiny DCGAN (BatchNorm), ProGAN (WGAN-GP, minibatch stddev, EMA, fade-in), vanilla GAN."""
    # reuse_fakes: G_ddp's forward runs before the D step and is backpropagated in the G step.
    dcgan = preset("dcgan", "shapes", profile="tiny", train__batch_size=16, data__size=64,
                   data__resolution=16, train__ema=0.5, train__reuse_fakes=True,
                   arch=DCGANConfig(resolution=16, channels=3, latent_dim=16, g_width=4,
                                    d_width=4))
    # 2 steps at 4x4, then 8x8 fades in: the blocks in use change, as DDP must be told.
    # WGAN-GP (the full profile's loss): its gradient penalty must be computed per process.
    progan = preset("progan", "shapes", profile="tiny", data__size=64, data__resolution=8,
                    loss=preset("progan", profile="full").loss,
                    arch=ProGANConfig(resolution=8, latent_dim=16, width=1 / 64,
                                      images_per_stable=16, images_per_fade=32,
                                      batch_sizes=(8,)))
    # The vanilla MLP's D has dropout: every rank draws its own masks.
    vanilla = preset("vanilla", "shapes", profile="tiny", train__batch_size=16, data__size=64,
                     data__resolution=4, train__ema=0.5,
                     arch=MLPConfig(data_shape=(3, 4, 4), latent_dim=8, g_hidden=(16,),
                                    d_hidden=(16,), d_dropout=0.5))
    # fp32: the comparison with one process is exact arithmetic up to summation order; under bf16
    # autocast (amp "auto" on a CPU with bf16 units) rounding would swamp the tolerance.
    return {name: c.replace(train__amp="off")
            for name, c in {"dcgan": dcgan, "progan": progan, "vanilla": vanilla}.items()}


def tensors(trainer: Trainer) -> dict[str, torch.Tensor]:
    """Every tensor that must be identical on all ranks after a step."""
    out = {f"G.{k}": v for k, v in trainer.G.state_dict().items()}
    out.update({f"D.{k}": v for k, v in trainer.D.state_dict().items()})
    if trainer.ema is not None:
        out.update({f"G_ema.{k}": v for k, v in trainer.ema.model.state_dict().items()})
    for name in ("opt_G", "opt_D"):
        for index, state in getattr(trainer, name).state_dict()["state"].items():
            out.update({f"{name}.{index}.{k}": torch.as_tensor(v) for k, v in state.items()})
    return {k: v.detach().clone() for k, v in out.items()}


class Recorder:
    """Records what ``torch.randn`` and ``torch.rand`` return while it is active."""

    def __init__(self) -> None:
        self.draws: list[torch.Tensor] = []

    def _wrap(self, fn: Any) -> Any:
        def recorded(*args: Any, **kwargs: Any) -> torch.Tensor:
            out = fn(*args, **kwargs)
            self.draws.append(out.clone())
            return out
        return recorded

    def __enter__(self) -> Recorder:
        self._saved = torch.randn, torch.rand
        torch.randn, torch.rand = (self._wrap(f) for f in self._saved)
        return self

    def __exit__(self, *exc: Any) -> None:
        torch.randn, torch.rand = self._saved


def record(config: RunConfig) -> dict[str, Any]:
    trainer = Trainer(config, device="cpu", progress=False)
    reals: list[torch.Tensor] = []
    real_batch = trainer.real_batch

    def recorded_real_batch(phase: Any) -> torch.Tensor:
        reals.append(real_batch(phase).clone())
        return reals[-1]

    trainer.real_batch = recorded_real_batch  # type: ignore[method-assign]
    states, draws, phases = [tensors(trainer)], [], []
    for _ in range(STEPS):
        phases.append((trainer.phase().stage, trainer.phase().alpha))
        with Recorder() as rec:
            trainer.train_step()
        draws.append(rec.draws)
        states.append(tensors(trainer))
    # Logged numbers are averaged over the ranks: rank r reports r, everybody logs the mean.
    logged = trainer._log({k: torch.tensor(float(trainer.dist.rank))
                           for k in ("loss_D", "loss_G", "D_x", "D_G_z")}, 1)
    return {"logged": logged["loss_D"], "states": states, "reals": reals, "draws": draws,
            "phases": phases, "shard": trainer.data.data.clone(),
            "images_seen": trainer.images_seen, "world_size": trainer.dist.world_size}


def interrupted(out: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ctrl-C reaches rank 1 alone during step 3: every rank must stop after it and save. Also
    who holds the run directory's lock, as each rank sees it (rank 0, for the whole job)."""
    config = configs()["vanilla"].replace(train__steps=10)
    trainer = Trainer(config, out_dir=out, device="cpu", progress=False)
    lock = {"pid": os.getpid(), "holder": json.loads((out / LOCK_NAME).read_text())["pid"]}
    train_step = trainer.train_step

    def train_step_then_signal() -> dict[str, torch.Tensor]:
        stats = train_step()
        if trainer.dist.rank == 1 and trainer.step == 3:
            signal.raise_signal(signal.SIGINT)
        return stats

    trainer.train_step = train_step_then_signal  # type: ignore[method-assign]
    trainer.fit()
    trainer.close()
    return {"step": trainer.step, "interrupted": trainer.interrupted}, lock


def main(argv: list[str]) -> None:
    out = Path(argv[0])
    rank = int(os.environ["RANK"])
    result: dict[str, Any] = {name: record(config) for name, config in configs().items()}
    result["interrupted"], result["lock"] = interrupted(out / "interrupted")
    torch.save(result, out / f"rank{rank}.pt")
    if len(argv) > 2 and argv[1] == "--cli":
        args = cli.build_parser().parse_args([*argv[2:], "--out", str(out / "whole")])
        config = cli.config_from_args(args)
        Trainer(config, out_dir=out / "half", device=args.device,
                progress=False).fit(config.train.steps // 2)
        Trainer(config, out_dir=out / "whole", device=args.device, progress=False).fit()
    distributed.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
