"""One trainer for every ganlab model.

``d_step`` and ``g_step`` read like the algorithm box of the GAN paper; :meth:`Trainer.fit` wraps
them with everything else, once for every model: devices, mixed precision, ProGAN's schedule,
logging without per-step syncs, fixed-noise samples, EMA, learner-facing warnings, callbacks and
atomic, exactly resumable checkpoints. Launched by ``torchrun`` it trains data-parallel with
DistributedDataParallel (see ``ganlab.distributed``); a plain process is world size 1.
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
import shutil
import signal
import sys
import threading
import time
import warnings
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
from ganlab.config import RunConfig, config_changes
from ganlab.data import TensorData, load_config
from ganlab.hardware import amp_dtype
from ganlab.losses import GANLoss
from ganlab.models import build

Callback = Callable[["Trainer", str, dict[str, Any]], None]


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class RunDirError(ValueError):
    """The output directory cannot be used for this run (and was left untouched)."""


class ResumeConflictError(RunDirError):
    """Resuming was asked with settings that would change the saved run; nothing was changed."""


# What a resumed run may change: its length, its precision and where its data lives. Everything
# else (model, data set, loss, batch size, seed, ...) defines the run and is refused.
RESUMABLE_CHANGES = ("train.steps", "train.amp", "data.root", "data.download")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/None picks CUDA when available, else the CPU; anything else is checked."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} was requested but CUDA is not available here; "
                             "use --device cpu (or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} does not exist: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s), cuda:0 and up")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"device {device!r} is not available here; use --device cpu")
    elif dev.type != "cpu":
        raise ValueError(f"device {device!r} is not supported; use auto, cpu, cuda or cuda:N")
    return dev


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def sample_z(n: int, latent_dim: int, seed: int | None = None,
             device: torch.device | str = "cpu") -> torch.Tensor:
    """Latent vectors z ~ N(0, I). With a seed, drawn on the CPU so they match on every device."""
    if n <= 0:
        raise ValueError(f"number of samples must be positive, got {n}")
    if seed is None:
        return torch.randn(n, latent_dim, device=device)
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, latent_dim, generator=gen).to(device)


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


class Trainer:
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

    File system errors (a full disk, a read-only directory) raise
    :class:`ganlab.checkpoint.StorageError`; a damaged run raises
    :class:`ganlab.checkpoint.CheckpointError`. Neither touches the last good checkpoint.

    Under ``torchrun`` every process builds its own Trainer: ``G_ddp``/``D_ddp`` are G and D in
    DistributedDataParallel (the bare modules otherwise) and carry the gradients; ``G``/``D``
    stay the bare modules, so checkpoints have no ``module.`` prefix and load anywhere.
    """

    collapse_ratio = 0.1  # sample diversity below this fraction of the data's means collapse
    collapse_after = 200  # an untrained G's outputs all look alike: judge only after this step
    d_wins_patience = 5  # consecutive logs with D(G(z)) ~ 0 before warning

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
        saved = None
        if config is not None and not isinstance(config, RunConfig):
            raise TypeError(
                f"config must be a ganlab.config.RunConfig, got {type(config).__name__}"
            )
        self.dist = distributed.setup(resolve_device(device))  # rank and device under torchrun
        if resume:
            saved = self._load_for_resume()
            config = self._resumed_config(config, saved)
        elif self.out_dir is not None:
            _check_fresh_run_dir(self.out_dir)
        self.dist.barrier()  # every rank has looked at out_dir before rank 0 writes into it
        if config is None:
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
        self.config = config
        self.device = self.dist.device
        self.progress = progress and self.dist.is_main
        self.callbacks = callbacks if self.dist.is_main else []
        tc = config.train
        _check_batches(config, self.dist)

        # Each rank draws its own z and batches; DDP gives every rank rank 0's initial weights.
        seed_everything(tc.seed + self.dist.rank)
        self.G, self.D = build(config.arch)
        if tc.sync_bn and self.dist.world_size > 1:
            self.G, self.D = _sync_batchnorm(self.G, self.D, self.device)
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
            options["fused" if self.device.type in FUSED_ADAM_DEVICES else "foreach"] = True
            make = torch.optim.Adam
        else:  # RMSProp (LSGAN's stability comparison): no momentum, betas unused
            options, make = {"eps": tc.eps, "foreach": True}, torch.optim.RMSprop
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
        self._warned: set[str] = set()
        self.warnings_issued: list[str] = []  # what the run warned about, in order
        self._d_wins_streak = 0
        self._real_diversity: float | None = None
        if saved is not None:
            self._restore(saved)
        if self.out_dir is not None and self.dist.is_main:
            self._write_config()

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
               x_fake: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Ascend D's objective: real images up, generated images (detached from G) down."""
        kw = phase.kwargs
        if x_fake is None:
            x_fake = self.generate_fakes(x_real.shape[0], phase)
        x_fake = x_fake.detach()  # no graph into G: D's update must not touch G
        x_real, x_fake = self._augment(x_real), self._augment(x_fake)
        with self._autocast():
            real_logits = self.D_ddp(x_real, **kw)
            fake_logits = self.D_ddp(x_fake, **kw)
            loss = self.loss.discriminator(real_logits.float(), fake_logits.float())
        reg = self.loss.regularizer(self.D_ddp, x_real, x_fake.to(x_real.dtype), **kw)
        total = loss if reg is None else loss + reg
        self.opt_D.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.step(self.opt_D)
        self.scaler.update()
        return {"loss_D": total.detach(),
                "D_x": self.loss.d_prob(real_logits.detach().float()).mean(),
                "D_G_z": self.loss.d_prob(fake_logits.detach().float()).mean()}

    def g_step(self, batch_size: int, phase: Phase,
               x_fake: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Descend G's loss through a frozen D (on fresh fakes, or on ``x_fake`` with its graph)."""
        kw = phase.kwargs
        if x_fake is None:
            x_fake = self.generate_fakes(batch_size, phase, grad=True)
        x_fake = self._augment(x_fake)
        self.D.requires_grad_(False)
        try:
            with self._autocast():
                # D is frozen here: the bare D needs no gradient sync (G_ddp averages G's).
                fake_logits = self.D(x_fake, **kw)
                loss = self.loss.generator(fake_logits.float())
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
            stats = self.d_step(self.real_batch(phase), phase, x_fake)
            self.images_seen += phase.batch_size
        stats.update(self.g_step(batch, phase, x_fake))
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
        self.G.train()
        self.D.train()
        stop = _StopFlag()
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
        if not all(math.isfinite(v) for v in values):
            bad = [k for k, v in record.items() if not math.isfinite(v)]
            raise TrainingDiverged(
                f"{', '.join(bad)} became NaN/inf at step {self.step}. Likely causes: a learning "
                "rate too high for this loss, fp16 overflow, or data outside [-1, 1]. Try a lower "
                "lr (e.g. halve lr_d and lr_g) or --amp off. The last good checkpoint"
                + (f" in {self.out_dir} is kept." if self.out_dir else " (none: no out_dir).")
            )
        phase = self.phase()
        record.update(step=self.step, images_seen=self.images_seen, seconds=self.elapsed)
        if phase.stage is not None:
            record.update(stage=phase.stage, alpha=phase.alpha)
        self.history.append(record)
        self._check_d_wins(record)
        self._emit("log", record)
        return record

    def _check_d_wins(self, record: dict[str, float]) -> None:
        c = self.config.loss
        if c.name in ("minimax", "nonsaturating"):
            winning = record["D_G_z"] < 0.01 and record["D_x"] > 0.99
        elif c.name == "least_squares":
            winning = abs(record["D_G_z"] - c.a) < 0.02 and abs(record["D_x"] - c.b) < 0.02
        else:
            winning = False
        self._d_wins_streak = self._d_wins_streak + 1 if winning else 0
        if self._d_wins_streak >= self.d_wins_patience:
            self._warn_once(
                "d_wins",
                f"the discriminator is winning outright (D(G(z)) = {record['D_G_z']:.3g}, "
                f"D(x) = {record['D_x']:.3g} for {self._d_wins_streak} logs): G gets almost no "
                "signal. Try the nonsaturating loss, a smaller D learning rate, or fewer D steps.",
            )

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned and self.dist.is_main:
            self._warned.add(key)
            self.warnings_issued.append(message)
            warnings.warn(message, RuntimeWarning, stacklevel=3)

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
                raise ckpt.storage_error(err, path, "write", _kept(checkpoint)) from None
        self._check_collapse(x)
        self._emit("sample", {"step": self.step, "images_seen": self.images_seen, "images": x})
        return x

    def collapse_check_start(self) -> int:
        """The first step whose snapshot is judged for collapse: ``collapse_after``, plus, when
        snapshots come from the EMA copy of G, the steps until G's initial weights weigh less
        than 10% in it (``decay ** k < 0.1``): until then the copy is mostly the untrained G,
        whose outputs all look alike (230 steps at decay 0.99, 2,302 at 0.999)."""
        decay = self.config.train.ema if self.ema is not None else 0.0
        lag = math.ceil(math.log(0.1) / math.log(decay)) if decay > 0 else 0
        return self.collapse_after + lag

    def _check_collapse(self, x: torch.Tensor) -> None:
        if x.shape[0] < 8 or self.step < self.collapse_check_start():
            return
        if self._real_diversity is None:
            self._real_diversity = _diversity(self.data.tensors(64).float().cpu())
        ratio = _diversity(x) / max(self._real_diversity, 1e-12)
        if ratio < self.collapse_ratio:
            self._warn_once(
                "collapse",
                f"possible mode collapse at step {self.step}: samples for different z are nearly "
                f"identical (diversity {ratio:.1%} of the data's). Try a lower learning rate, the "
                "least-squares or WGAN-GP loss, or restart with another seed.",
            )

    def _emit(self, event: str, info: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb(self, event, info)

    # ---------------------------------------------------------------- checkpoints
    def _write_config(self) -> None:
        """Write config.json; a new run whose first write fails leaves no directory behind."""
        created = not self.out_dir.exists()
        try:
            ckpt.make_dir(self.out_dir)
            ckpt.atomic_write_bytes(self.out_dir / ckpt.CONFIG_NAME,
                                    self.config.to_json().encode())
        except OSError:
            if created:
                shutil.rmtree(self.out_dir, ignore_errors=True)
            raise

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
        for p in self.G.parameters():
            if not torch.isfinite(p).all():
                raise TrainingDiverged(
                    f"G's weights are NaN/inf at step {self.step}; not overwriting the last good "
                    f"checkpoint in {self.out_dir}. Try a lower learning rate or --amp off."
                )
        path = self.out_dir / ckpt.CHECKPOINT_NAME
        state = self.state_dict()  # on every rank: it gathers their RNG states
        if not self.dist.is_main:
            return None
        try:
            ckpt.atomic_torch_save(state, path)
        except OSError as err:
            raise ckpt.storage_error(err, path, "write", _kept(path)) from None
        self._emit("checkpoint", {"step": self.step, "path": path})
        return path

    def _load_for_resume(self) -> dict[str, Any]:
        if self.out_dir is None:
            raise RunDirError("resume=True needs the run directory (out_dir) to resume from")
        if not (self.out_dir / ckpt.CONFIG_NAME).exists():
            raise RunDirError(f"nothing to resume: {self.out_dir} is not a ganlab run directory "
                              "(no config.json); start a new run without --resume")
        ckpt.read_config(self.out_dir)  # a damaged config.json is named before anything else
        path = self.out_dir / ckpt.CHECKPOINT_NAME
        if not path.exists():
            raise RunDirError(f"nothing to resume: {self.out_dir} has no checkpoint.pt yet; "
                              "start it again without --resume (after deleting the directory)")
        # Left by a run killed mid-save; rank 0 alone writes here, so it alone cleans up.
        leftovers = self.out_dir.glob(".*.tmp-*") if self.dist.is_main else ()
        for stale in leftovers:
            try:
                stale.unlink(missing_ok=True)
            except OSError as err:
                raise ckpt.storage_error(err, stale, "remove the leftover") from None
        state = ckpt.load_checkpoint(path)
        ckpt.require(state, _STATE_KEYS, path)
        state["path"] = path
        world = int(state.get("world_size", 1))
        if world != self.dist.world_size:
            raise RunDirError(
                f"{self.out_dir} was trained by {world} process(es) and this is "
                f"{self.dist.world_size}; resume it with the same world size ("
                + ("without torchrun" if world == 1 else
                   f"torchrun with nnodes x nproc_per_node = {world}")
                + "). Another world size would change each process's slice of the batch, its "
                "data shard and its random stream, so the run could not continue exactly."
            )
        return state

    def _resumed_config(self, config: RunConfig | None, saved: dict[str, Any]) -> RunConfig:
        """The saved run's config, with the changes that ``RESUMABLE_CHANGES`` allows."""
        try:
            saved_config = RunConfig.from_dict(saved["config"])
        except ValueError as err:
            raise ckpt.CheckpointError(f"{saved['path']} holds an unusable config ({err}); "
                                       "restore a copy or start a new run") from None
        if config is None:
            return saved_config
        changes = config_changes(saved_config, config)
        refused = [c for c in changes if c[0] not in RESUMABLE_CHANGES]
        if refused:
            listed = ", ".join(f"{f} ({old!r} -> {new!r})" for f, old, new in refused[:4])
            more = f" and {len(refused) - 4} more" if len(refused) > 4 else ""
            raise ResumeConflictError(
                f"cannot resume {self.out_dir} with a different {listed}{more}: a resumed run "
                f"keeps the settings it started with (only {', '.join(RESUMABLE_CHANGES)} may "
                "change). Pass config=None to continue it as it was, or start a new run in "
                "another directory"
            )
        for field, old, new in changes:
            if field != "train.steps":
                print(f"resume: {field} changed from {old!r} to {new!r}", file=sys.stderr)
        return config

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
            raise _mismatch(state["path"], err) from None


_STATE_KEYS = ("config", "G", "D", "opt_G", "opt_D", "scaler", "step", "images_seen", "rng")


def _kept(path: Path) -> str:
    if path.exists():
        return f"The previous checkpoint {path} is unchanged; resume from it with --resume"
    return "No checkpoint was written"


def _mismatch(path: Path, err: Exception) -> ckpt.CheckpointError:
    reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
    return ckpt.CheckpointError(
        f"{path} does not fit the model its config describes ({type(err).__name__}: {reason}); "
        "it was edited or damaged: restore a copy, or start a new run"
    )


def _check_fresh_run_dir(out_dir: Path) -> None:
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


# Where channels-last (NHWC) convolutions are used, by device type and model family. On CUDA they
# let cuDNN use tensor cores. On a CPU, oneDNN's NHWC kernels win for DCGAN's and ProGAN's
# convolutions (measured by `ganlab bench`; numbers in README.md).
CHANNELS_LAST = {"cuda": ("dcgan", "progan"), "cpu": ("dcgan", "progan")}
# Adam's fused kernel (one kernel for all parameters) where it measured faster than foreach.
FUSED_ADAM_DEVICES = ("cuda",)


def autocast_dtype(config: RunConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype a run trains with: :func:`ganlab.hardware.amp_dtype` of
    ``train.amp``, except that ``auto`` keeps models of 2-D points in fp32 on a CPU.

    Their 128-wide layers are too small for 16-bit products to pay: the casts around each
    product cost more than it saves, and ``ganlab bench`` measures bf16 slower than fp32 there
    (the ``vanilla2d`` case). An explicit ``bf16`` is always honoured.
    """
    tc = config.train
    if tc.amp == "auto" and device.type == "cpu" and len(config.arch.image_shape) == 1:
        return None
    return amp_dtype(tc.amp, device)


def use_channels_last(family: str, device: torch.device) -> bool:
    """Whether the trainer runs ``family``'s convolutions in channels-last layout on ``device``."""
    return family in CHANNELS_LAST.get(device.type, ())


def _check_batches(config: RunConfig, dist: distributed.Distributed) -> None:
    """Every global batch must split evenly over the ranks, and ProGAN's per-device slices into
    minibatch-stddev groups (computed per device, as in the official code)."""
    if dist.world_size == 1:
        return
    arch = config.arch
    if arch.family != "progan":
        dist.local_batch(config.train.batch_size)
        return
    for stage in range(arch.num_stages):
        local = dist.local_batch(arch.batch_size_at(stage))
        group = min(arch.mbstd_group_size, local)
        if local % group:
            raise ValueError(
                f"ProGAN's per-device batch at stage {stage} is {local} (global "
                f"{arch.batch_size_at(stage)} over {dist.world_size} processes), not divisible "
                f"by mbstd_group_size {arch.mbstd_group_size}; minibatch stddev groups are "
                "formed on each device. Change batch_sizes or the number of processes."
            )


def _sync_batchnorm(G: nn.Module, D: nn.Module,
                    device: torch.device) -> tuple[nn.Module, nn.Module]:
    """BatchNorm over the global batch (``torch.nn.SyncBatchNorm``; same state_dict keys)."""
    if device.type != "cuda":
        raise ValueError("sync_bn (--sync-bn) needs GPUs: torch.nn.SyncBatchNorm only runs on "
                         "CUDA. On CPUs train without it; BatchNorm then normalises each "
                         "process's slice of the batch.")
    convert = nn.SyncBatchNorm.convert_sync_batchnorm
    return convert(G), convert(D)



def _diversity(x: torch.Tensor) -> float:
    flat = x.flatten(1).float()
    return torch.pdist(flat).mean().item()


class _StopFlag:
    """Turns SIGINT into a flag checked between steps, so a checkpoint is never half-updated."""

    def __init__(self) -> None:
        self.set = False
        self._previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.set:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.set = True

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


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
    try:
        config = RunConfig.from_dict(state["config"])
    except ValueError as err:
        raise ckpt.CheckpointError(f"{path} holds an unusable config ({err}); restore a copy or "
                                   "start a new run") from None
    G, D = build(config.arch)
    g_state = state["G_ema"] if ema and state.get("G_ema") is not None else state["G"]
    try:
        G.load_state_dict(g_state)
        D.load_state_dict(state["D"])
    except (RuntimeError, TypeError, AttributeError) as err:
        raise _mismatch(path, err) from None
    return LoadedRun(config, G.to(dev).eval(), D.to(dev).eval(), int(state["step"]),
                     int(state["images_seen"]), list(state.get("history", [])))


def _fit_in_worker(config: RunConfig, threads: int) -> Trainer:
    """One run of :func:`train_many`, in its own process with ``threads`` torch threads."""
    torch.set_num_threads(threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the parent re-emits them from trainer.warnings_issued
        trainer = Trainer(config, device="cpu", progress=False)
        trainer.fit()
    return trainer


def train_many(configs: Iterable[RunConfig], workers: int | None = None,
               progress: bool = True) -> list[Trainer]:
    """Train independent runs side by side on the CPU, one process each; their fitted Trainers.

    Why: a small model (the 2-D MLPs) cannot keep two cores busy, and one thread trains it
    about as fast as two; so two runs in two single-threaded processes finish in little more
    than the time of one (notebook 03 trains its seed studies this way). ``workers`` processes
    (default: one per CPU core, at most one per run) share torch's threads equally; each run is
    exactly ``Trainer(config, device="cpu").fit()`` with that many threads, so its result does not
    depend on which worker ran it. The Trainers come back in the order of ``configs``; each run's
    warnings are re-issued here, prefixed with its index, and kept in
    ``trainer.warnings_issued``. Meant for small models: an image model already spreads one
    run over several threads.
    """
    import concurrent.futures
    import multiprocessing
    import os

    configs = list(configs)
    for i, config in enumerate(configs):
        if not isinstance(config, RunConfig):
            raise TypeError(f"configs[{i}] must be a ganlab.config.RunConfig, got "
                            f"{type(config).__name__}")
    if workers is None:  # the cores this process may use (a container may allow fewer)
        workers = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else os.cpu_count() or 1)
    elif isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    workers = max(1, min(workers, len(configs)))
    threads = max(1, torch.get_num_threads() // workers)
    bar = None
    if progress and configs:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(configs), desc=f"{len(configs)} runs, {workers} at a time",
                   unit="run")
    try:
        if workers == 1:
            previous = torch.get_num_threads()
            trainers = []
            try:
                for config in configs:
                    trainers.append(_fit_in_worker(config, threads))
                    if bar is not None:
                        bar.update(1)
            finally:
                torch.set_num_threads(previous)
        else:
            # spawn, not fork: a forked child inherits torch's OpenMP pool in an unusable state.
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                futures = [pool.submit(_fit_in_worker, config, threads) for config in configs]
                for _ in concurrent.futures.as_completed(futures):
                    if bar is not None:
                        bar.update(1)
                trainers = [f.result() for f in futures]
    finally:
        if bar is not None:
            bar.close()
    for i, trainer in enumerate(trainers):
        for message in trainer.warnings_issued:
            warnings.warn(f"run {i} ({trainer.config.model}, seed {trainer.config.train.seed}): "
                          f"{message}", RuntimeWarning, stacklevel=2)
    return trainers
