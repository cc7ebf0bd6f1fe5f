"""The Trainer: the step maths of every ganlab model, and the loop around it.

``d_step`` and ``g_step`` read like the algorithm box of the GAN paper; :meth:`Trainer.fit` wraps
them with everything else, once for every model: devices and mixed precision
(:mod:`ganlab.training.devices`), ProGAN's schedule, logging without per-step syncs, fixed-noise
samples, EMA, callbacks, Ctrl-C, the learner's warnings (:mod:`ganlab.training.diagnostics`) and
the run directory with its lock and exactly resumable checkpoints (:mod:`ganlab.training.rundir`).
Launched by ``torchrun`` it trains data-parallel with DistributedDataParallel (see
``ganlab.distributed``); a plain process is world size 1.
"""

from __future__ import annotations

import contextlib
import copy
import random
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganlab import checkpoint as ckpt
from ganlab import distributed
from ganlab.augment import diff_augment, parse_policy
from ganlab.config import RunConfig
from ganlab.data import TensorData, load_config
from ganlab.losses import GANLoss
from ganlab.models import build
from ganlab.training import compiled, devices, rundir
from ganlab.training.devices import (
    autocast_dtype,
    check_batches,
    resolve_device,
    sample_z,
    sync_batchnorm,
    use_channels_last,
)
from ganlab.training.diagnostics import Diagnostics
from ganlab.training.rundir import RunDirError

Callback = Callable[["Trainer", str, dict[str, Any]], None]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)



@dataclass
class Phase:
    """What the networks are asked to do at a given moment (constant for non-progressive GANs)."""

    batch_size: int
    stage: int | None = None
    alpha: float = 1.0

    @property
    def kwargs(self) -> dict[str, Any]:
        return {} if self.stage is None else {"stage": self.stage, "alpha": self.alpha}


class EMA:
    """Exponential moving average of G's weights (Karras et al., 2018, Sec. A.1), for sampling."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        ema_p = list(self.model.parameters())
        torch._foreach_lerp_(ema_p, [p.detach() for p in model.parameters()], 1.0 - self.decay)
        for b_ema, b in zip(self.model.buffers(), model.buffers()):
            b_ema.copy_(b)


class Trainer(Diagnostics):
    """Trains the G/D pair described by a :class:`RunConfig`.

    Parameters
    ----------
    config: the run's configuration (see ``ganlab.presets`` for ready-made ones); with
        ``resume=True`` it may be None to continue with the saved one.
    out_dir: run directory for ``config.json``, ``checkpoint.pt`` and ``samples/``; None keeps
        everything in memory.
    device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    data: an already loaded :class:`TensorData` (else loaded from ``config.data``).
    progress: show a tqdm progress bar.
    callbacks: functions ``cb(trainer, event, info)`` called on ``"log"``, ``"sample"``,
        ``"checkpoint"`` and ``"end"`` events (e.g. to draw live plots in a notebook).
    resume: continue the run saved in ``out_dir``. A ``config`` given with it may differ from
        the saved one only in ``RESUMABLE_CHANGES`` (each change is printed in one line);
        anything else raises :class:`ResumeConflictError`.

    With an ``out_dir`` the Trainer holds the directory's lock from its construction until
    :meth:`close` (or ``with Trainer(...) as trainer:``, its garbage collection, the end of its
    process): another process that wants the directory gets :class:`RunDirBusyError`.

    File system errors (a full disk, a read-only directory) raise
    :class:`ganlab.checkpoint.StorageError`; a damaged run raises
    :class:`ganlab.checkpoint.CheckpointError`. Neither touches the last good checkpoint.

    Under ``torchrun`` every process builds its own Trainer: ``G_ddp``/``D_ddp`` are G and D in
    DistributedDataParallel (the bare modules otherwise) and carry the gradients; ``G``/``D``
    stay the bare modules, so checkpoints have no ``module.`` prefix and load anywhere.
    """

    def __init__(
        self,
        config: RunConfig | None,
        out_dir: str | Path | None = None,
        device: str | torch.device | None = "auto",
        data: TensorData | None = None,
        progress: bool = True,
        callbacks: Iterable[Callback] = (),
        resume: bool = False,
    ) -> None:
        self.out_dir = Path(out_dir) if out_dir is not None else None
        if config is not None and not isinstance(config, RunConfig):
            raise TypeError(
                f"config must be a ganlab.config.RunConfig, got {type(config).__name__}"
            )
        if config is None and not resume:
            raise TypeError("config must be a ganlab.config.RunConfig (None only with resume=True)")
        if data is not None and not isinstance(data, TensorData):
            raise TypeError(f"data must be a ganlab.data.TensorData (e.g. ganlab.data.load(...)), "
                            f"got {type(data).__name__}; to choose a data set by name, set "
                            "config.data")
        callbacks = list(callbacks)
        for cb in callbacks:
            if not callable(cb):
                raise TypeError(f"callbacks must be functions cb(trainer, event, info), got "
                                f"{type(cb).__name__}")
        if resume and self.out_dir is None:
            raise RunDirError("resume=True needs the run directory (out_dir) to resume from")
        self.dist = distributed.setup(resolve_device(device))  # rank and device under torchrun
        self._closed = False
        self._lock: rundir.RunLock | None = None
        self._release_at_exit: weakref.finalize | None = None
        if self.out_dir is not None:
            # Before anything is locked: the errors that need no lock, then the lock itself.
            (rundir.check_resumable if resume else rundir.check_fresh)(self.out_dir)
            self._lock = rundir.lock_for_all_ranks(self.out_dir, self.dist, create=not resume)
            if self._lock is not None:
                self._release_at_exit = weakref.finalize(self, self._lock.release)
        try:
            self._setup(config, data, progress, callbacks, resume)
        except BaseException:
            self._release(remove_created=True)  # a new run that failed leaves no directory
            raise

    def _setup(self, config: RunConfig | None, data: TensorData | None, progress: bool,
               callbacks: list[Callback], resume: bool) -> None:
        saved = None
        if resume:
            saved = rundir.read_for_resume(self.out_dir, self.dist)
            config = rundir.resumed_config(rundir.config_of(saved, saved["path"]), config,
                                           self.out_dir)
        elif self.out_dir is not None:
            rundir.check_fresh(self.out_dir)  # again: the lock now keeps other processes out
        self.dist.barrier()  # every rank has looked at out_dir before rank 0 writes into it
        self.config = config
        self.device = self.dist.device
        self.progress = progress and self.dist.is_main
        self.callbacks = callbacks if self.dist.is_main else []
        tc = config.train
        check_batches(config, self.dist)

        # Each rank draws its own z and batches; DDP gives every rank rank 0's initial weights.
        seed_everything(tc.seed + self.dist.rank)
        self.G, self.D = build(config.arch)
        if tc.sync_bn and self.dist.world_size > 1:
            self.G, self.D = sync_batchnorm(self.G, self.D, self.device)
        self.G.to(self.device)
        self.D.to(self.device)
        self.channels_last = use_channels_last(config.arch.family, self.device)
        if self.channels_last:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # shapes are fixed per run (per stage)
        # ProGAN's unused blocks (other stages) get no gradient, which DDP must be told.
        unused = config.arch.family == "progan"
        self.G_ddp = self.dist.wrap(self.G, find_unused_parameters=unused)
        self.D_ddp = self.dist.wrap(self.D, find_unused_parameters=unused)
        self.ema = EMA(self.G, tc.ema) if tc.ema > 0 else None
        self._augment_policy = parse_policy(tc.augment)
        if self._augment_policy and config.arch.family == "mlp":
            raise ValueError(f"train.augment={tc.augment!r} transforms images; the {config.model} "
                             "MLP trains on 2-D points: set train.augment to ''")
        self.loss = GANLoss(config.loss)

        if tc.optimizer == "adam":
            options: dict[str, Any] = {"betas": tuple(tc.betas), "eps": tc.eps}
            options["fused" if self.device.type in devices.FUSED_ADAM_DEVICES else "foreach"] = True
            make = torch.optim.Adam
        elif tc.optimizer == "rmsprop":  # LSGAN's stability comparison: no momentum, no betas
            options, make = {"eps": tc.eps, "foreach": True}, torch.optim.RMSprop
        else:  # the GAN paper's SGD with momentum, here betas[0]
            options, make = {"momentum": tc.betas[0], "foreach": True}, torch.optim.SGD
        self.opt_G = make(self.G.parameters(), lr=tc.lr_g, **options)
        self.opt_D = make(self.D.parameters(), lr=tc.lr_d, **options)

        self.amp_dtype = autocast_dtype(config, self.device)
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.amp_dtype == torch.float16 and self.device.type == "cuda"
        )

        data = data if data is not None else load_config(config.data)
        self.data = self.dist.shard(data).to(self.device)
        expected = tuple(config.arch.image_shape)
        if self.data.shape != expected:
            raise ValueError(
                f"data set {self.data.name!r} has examples of shape {self.data.shape} but the "
                f"{config.model} model expects {expected}; set the data resolution/channels to "
                "match the model"
            )

        self.step = 0
        self.images_seen = 0
        self.elapsed = 0.0
        self.history: list[dict[str, float]] = []
        self.samples: list[tuple[int, int, torch.Tensor]] = []
        self.fixed_z = sample_z(tc.n_samples, config.arch.latent_dim, seed=tc.seed + 12345,
                                device=self.device)
        self.interrupted = False
        self._start_diagnostics()
        if saved is not None:
            self._restore(saved)
        if self.out_dir is not None and self.dist.is_main:
            rundir.write_config(self.out_dir, self.config)

    # ---------------------------------------------------------------- the run directory's lock
    def close(self) -> None:
        """Let other processes use ``out_dir``: release its lock. ``ganlab train`` does it at its
        end; a closed Trainer writes no more (resume the run with a new one)."""
        self._closed = True
        self._release()

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _release(self, remove_created: bool = False) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            self._release_at_exit.detach()
            lock.release(remove_created=remove_created)

    def _check_open(self) -> None:
        if self._closed and self.out_dir is not None:
            raise RunDirError(f"this Trainer was closed and no longer holds {self.out_dir}; "
                              "continue the run with Trainer(None, out_dir=..., resume=True)")

    # ---------------------------------------------------------------- the algorithm
    def phase(self) -> Phase:
        """Batch size and, for ProGAN, stage and alpha: a pure function of images seen."""
        arch = self.config.arch
        if arch.family != "progan":
            return Phase(self.config.train.batch_size)
        from ganlab.models.progan import phase_at

        p = phase_at(arch, self.images_seen)
        return Phase(p.batch_size, p.stage, p.alpha)

    def real_batch(self, phase: Phase) -> torch.Tensor:
        x = self.data.sample(self.dist.local_batch(phase.batch_size))  # this rank's slice
        if phase.stage is not None:
            from ganlab.models.progan import fade_real

            x = fade_real(x, phase.stage, phase.alpha, self.config.arch)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def generate_fakes(self, batch_size: int, phase: Phase, grad: bool = False) -> torch.Tensor:
        """G(z) for fresh z ~ N(0, I); with ``grad`` the graph into G is kept for a G step
        (through G_ddp, so that under torchrun G's gradients are averaged over the ranks)."""
        z = torch.randn(batch_size, self.G.latent_dim, device=self.device)
        with torch.set_grad_enabled(grad), self._autocast():
            return (self.G_ddp if grad else self.G)(z, **phase.kwargs)

    def d_step(self, x_real: torch.Tensor, phase: Phase,
               x_fake: torch.Tensor | None = None,
               regularize: bool = True) -> dict[str, torch.Tensor]:
        """Ascend D's objective: real images up, generated images (detached from G) down.

        ``regularize=False`` skips the loss's regulariser (lazy regularisation: ``train_step``
        passes True on one step in ``loss.reg_every``)."""
        kw = phase.kwargs
        if x_fake is None:
            x_fake = self.generate_fakes(x_real.shape[0], phase)
        x_fake = x_fake.detach()  # no graph into G: D's update must not touch G
        x_real, x_fake = self._augment(x_real), self._augment(x_fake)
        with self._autocast():
            if self.config.train.d_batches == "joint":  # one batch: BatchNorm mixes their stats
                logits = self.D_ddp(torch.cat([x_real, x_fake.to(x_real.dtype)]), **kw)
                real_logits, fake_logits = logits.split([x_real.shape[0], x_fake.shape[0]])
            else:
                real_logits = self.D_ddp(x_real, **kw)
                fake_logits = self.D_ddp(x_fake, **kw)
            loss = self.loss.discriminator(real_logits.float(), fake_logits.float())
        reg = (self.loss.regularizer(self.D_ddp, x_real, x_fake.to(x_real.dtype), **kw)
               if regularize else None)
        total = loss if reg is None else loss + reg
        self.opt_D.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.step(self.opt_D)
        self.scaler.update()
        return {"loss_D": total.detach(),
                "D_x": self.loss.d_prob(real_logits.detach().float()).mean(),
                "D_G_z": self.loss.d_prob(fake_logits.detach().float()).mean()}

    def g_step(self, batch_size: int, phase: Phase, x_fake: torch.Tensor | None = None,
               x_real: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Descend G's loss through a frozen D (on fresh fakes, or on ``x_fake`` with its graph).

        A relativistic loss compares each fake with the real image ``x_real[i]`` (the last D
        step's batch), which D sees augmented like the fakes."""
        kw = phase.kwargs
        if x_fake is None:
            x_fake = self.generate_fakes(batch_size, phase, grad=True)
        x_fake = self._augment(x_fake)
        self.D.requires_grad_(False)
        try:
            with self._autocast():
                # D is frozen here: the bare D needs no gradient sync (G_ddp averages G's).
                fake_logits = self.D(x_fake, **kw)
                real_logits = None
                if x_real is not None:
                    with torch.no_grad():  # constants to G: no gradient reaches it through D(x)
                        real_logits = self.D(self._augment(x_real), **kw).float()
                loss = self.loss.generator(fake_logits.float(), real_logits)
            self.opt_G.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt_G)
            self.scaler.update()
        finally:
            self.D.requires_grad_(True)
        self.dist.broadcast_buffers(self.G, self.D)  # BatchNorm statistics: rank 0's everywhere
        if self.ema is not None:
            self.ema.update(self.G)
        return {"loss_G": loss.detach()}

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        """``train.augment``'s DiffAugment transforms (identity when it is empty)."""
        if not self._augment_policy:
            return x
        x = diff_augment(x, self._augment_policy)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def train_step(self) -> dict[str, torch.Tensor]:
        """``n_critic`` D steps, then one G step. Returns device tensors (no sync).

        By default every step draws fresh noise, as Algorithm 1 of Goodfellow et al. (2014) does
        for D and again for G. With ``train.reuse_fakes`` the last D step's fakes (generated with
        their graph) also serve the G step, as the PyTorch DCGAN tutorial (seed 001) does: one
        forward pass of G fewer per step.
        """
        tc = self.config.train
        phase = self.phase()
        stats: dict[str, torch.Tensor] = {}
        batch = self.dist.local_batch(phase.batch_size)  # this rank's slice of the global batch
        x_fake = None
        for i in range(tc.n_critic):
            if tc.reuse_fakes and i == tc.n_critic - 1:
                x_fake = self.generate_fakes(batch, phase, grad=True)
            x_real = self.real_batch(phase)
            # Lazy regularisation: the first D step of one step in reg_every.
            regularize = i == 0 and self.step % self.config.loss.reg_every == 0
            stats = self.d_step(x_real, phase, x_fake, regularize)
            self.images_seen += phase.batch_size
        # A relativistic G loss pairs its fakes with the last D step's real batch.
        x_real = x_real if self.loss.needs_real_logits_for_g else None
        stats.update(self.g_step(batch, phase, x_fake, x_real))
        self.step += 1
        return stats

    # ---------------------------------------------------------------- the loop
    def fit(self, steps: int | None = None) -> list[dict[str, float]]:
        """Train until the run has done ``steps`` steps in total (default ``config.train.steps``).

        Ctrl-C (or a notebook's interrupt) stops at the end of the current step, saves a
        checkpoint and returns with ``self.interrupted`` set.
        """
        tc = self.config.train
        total = tc.steps if steps is None else steps
        if isinstance(total, bool) or not isinstance(total, int) or total <= 0:
            raise ValueError(f"steps must be a positive integer, got {total!r}")
        if total < self.step:
            raise ValueError(f"this run has already done {self.step} steps; ask for at least that "
                             f"many (got steps={total})")
        self._check_open()
        compiled.prepare(self, total)  # train.compile: G's and D's passes compiled, or eager
        self.G.train()
        self.D.train()
        stop = rundir.StopFlag()
        sums: dict[str, torch.Tensor] = {}
        count = 0
        start = time.perf_counter()
        elapsed0 = self.elapsed
        last_ckpt = time.monotonic()
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=self.step, desc=f"{self.config.model}", unit="step",
                       dynamic_ncols=True)
        stopping = False
        try:
            with stop:
                while self.step < total and not stopping:
                    stats = self.train_step()
                    for k, v in stats.items():
                        sums[k] = sums[k] + v if k in sums else v.clone()
                    count += 1
                    self.elapsed = elapsed0 + time.perf_counter() - start
                    if bar is not None:
                        bar.update(1)
                    if self.step % tc.log_every == 0 or self.step == total:
                        record = self._log(sums, count)
                        sums, count = {}, 0
                        if bar is not None:
                            bar.set_postfix({k: f"{record[k]:.3f}" for k in
                                             ("loss_D", "loss_G", "D_x", "D_G_z")}, refresh=False)
                    if self.dist.is_main and (self.step % tc.sample_every == 0
                                              or self.step == total):
                        self.snapshot()
                    due = time.monotonic() - last_ckpt > tc.checkpoint_minutes * 60
                    stopping, due = self.dist.any(stop.set, due)  # all ranks stop/save together
                    if self.step % tc.checkpoint_every == 0 or due:
                        self.save()
                        last_ckpt = time.monotonic()
            if stopping or stop.set:
                self.interrupted = True
        finally:
            if bar is not None:
                bar.close()
        if count:
            self._log(sums, count)
        self.save()
        if self.interrupted and self.dist.is_main:
            where = f" in {self.out_dir}" if self.out_dir else ""
            print(f"interrupted at step {self.step}; checkpoint saved{where}. "
                  "Resume with --resume (CLI) or Trainer(..., resume=True).")
        self._emit("end", {"step": self.step})
        return self.history


    def _log(self, sums: dict[str, torch.Tensor], count: int) -> dict[str, float]:
        keys = sorted(sums)
        values = torch.stack([sums[k].float() for k in keys]).div_(count)
        values = self.dist.mean(values).tolist()  # one sync; under torchrun the global batch's
        record = dict(zip(keys, values))
        self._check_finite(record)
        phase = self.phase()
        record.update(step=self.step, images_seen=self.images_seen, seconds=self.elapsed)
        if phase.stage is not None:
            record.update(stage=phase.stage, alpha=phase.alpha)
        self.history.append(record)
        self._check_d_wins(record)
        self._check_g_gradient(record)
        self._emit("log", record)
        return record

    @torch.no_grad()
    def generate(self, z: torch.Tensor | None = None, ema: bool = True,
                 phase: Phase | None = None) -> torch.Tensor:
        """Samples from G (the EMA copy if there is one) in eval mode, on the CPU, float32."""
        G = self.ema.model if (ema and self.ema is not None) else self.G
        z = self.fixed_z if z is None else z.to(self.device)
        phase = phase or self.phase()
        was_training = G.training
        G.eval()
        try:
            x = G(z, **phase.kwargs).float()
        finally:
            G.train(was_training)
        if phase.stage is not None:
            from ganlab.models.progan import upsample_to

            x = upsample_to(x, self.config.arch.resolution)
        return x.cpu()

    def snapshot(self) -> torch.Tensor:
        """Fixed-noise samples: kept in ``self.samples``, written to ``samples/`` with a run dir."""
        x = self.generate()
        self.samples.append((self.step, self.images_seen, x))
        if self.out_dir is not None:
            from ganlab.viz import save_png, save_points_png

            path = self.out_dir / "samples" / f"step_{self.step:07d}.png"
            try:
                if x.ndim == 4:
                    save_png(x, path)
                else:  # 2-D points: a scatter plot over the data's mode centres
                    mixture = self.data.mixture
                    save_points_png(x, path, None if mixture is None else mixture.centers)
            except OSError as err:
                checkpoint = self.out_dir / ckpt.CHECKPOINT_NAME
                raise ckpt.storage_error(err, path, "write", rundir.kept(checkpoint)) from None
        self._check_collapse(x)
        self._emit("sample", {"step": self.step, "images_seen": self.images_seen, "images": x})
        return x


    def _emit(self, event: str, info: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb(self, event, info)

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs. Under torchrun every rank must call it (it gathers each
        rank's RNG state into ``rng_ranks`` on rank 0)."""
        batch = self.phase().batch_size
        rng_ranks = self.dist.gather(ckpt.rng_state()) if self.dist.world_size > 1 else None
        return {
            "format": ckpt.FORMAT,
            "version": ckpt.VERSION,
            "config": self.config.to_dict(),
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.ema.model.state_dict() if self.ema is not None else None,
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "images_seen": self.images_seen,
            "elapsed": self.elapsed,
            "history": self.history,
            "rng": ckpt.rng_state(),
            "rng_ranks": rng_ranks,
            "world_size": self.dist.world_size,
            "batch": {"global": batch, "per_device": self.dist.local_batch(batch)},
        }

    def save(self) -> Path | None:
        """Write ``checkpoint.pt`` atomically (no-op without an out_dir)."""
        if self.out_dir is None:
            return None
        self._check_open()
        self._check_weights()
        path = self.out_dir / ckpt.CHECKPOINT_NAME
        state = self.state_dict()  # on every rank: it gathers their RNG states
        if not self.dist.is_main:
            return None
        rundir.write_checkpoint(state, path)
        self._emit("checkpoint", {"step": self.step, "path": path})
        return path

    def _restore(self, state: dict[str, Any]) -> None:
        try:
            self.G.load_state_dict(state["G"])
            self.D.load_state_dict(state["D"])
            if self.ema is not None and state.get("G_ema") is not None:
                self.ema.model.load_state_dict(state["G_ema"])
            self.opt_G.load_state_dict(state["opt_G"])
            self.opt_D.load_state_dict(state["opt_D"])
            if self.scaler.is_enabled() and state["scaler"]:  # empty when saved without fp16
                self.scaler.load_state_dict(state["scaler"])
            self.step = int(state["step"])
            self.images_seen = int(state["images_seen"])
            self.elapsed = float(state.get("elapsed", 0.0))
            self.history = list(state.get("history", []))
            ckpt.set_rng_state(state["rng"] if self.dist.world_size == 1
                               else state["rng_ranks"][self.dist.rank])
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as err:
            raise rundir.mismatch(state["path"], err) from None
