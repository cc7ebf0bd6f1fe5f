"""When GANs fail: a field guide (the package side of notebook 08).
Each failure a learner meets, on purpose.

Why it exists: a failing GAN rarely says what went wrong. Its samples, its losses, D(x) and
D(G(z)), its metrics and the Trainer's warnings do, once you have seen each failure next to its
fix. A :class:`FailureCase` is one failure: the symptom, the likely cause, what to try, a broken
configuration per profile and the one change that fixes it. :func:`run_case` trains both with
the course's :class:`~ganlab.training.Trainer` (side by side, one process each, on a CPU),
measures them with the course's metrics and says, from the numbers, whether the failure showed
and whether the fix removed it. :func:`table` turns results into the notebook's
"symptom -> likely cause -> what to try" table.

The cases (:data:`CASES`):

- ``collapse``: mode collapse of the regular GAN on the literature's ring (notebook 03) -> LSGAN;
- ``vanishing``: the saturating minimax loss against a strong D (Goodfellow et al., 2014,
  Sec. 3) -> the non-saturating loss;
- ``oscillation``: Adam's beta1 = 0.9, which the DCGAN paper found to oscillate (Radford et al.,
  2016, Sec. 4) -> beta1 = 0.5;
- ``nan``: a learning rate too high for SGD with momentum, the GAN paper's optimiser -> a lower
  one (with Adam the same rate does not overflow: its step is bounded by about lr);
- ``checkerboard``: transposed convolutions' checkerboard artifacts (Odena et al., 2016) ->
  resize convolutions (``DCGANConfig.upsample="resize"``), scored by :func:`checkerboard_score`;
- ``batchnorm``: real and fake images in one batch through D's batch norm
  (``TrainConfig.d_batches="joint"``; ganhacks' advice is separate batches) -> separate batches;
- ``memorise``: a data set of 64 images, which D learns by heart (its output on new real images
  falls, the overfitting signal of Karras et al., 2020, ADA) -> DiffAugment (Zhao et al., 2020).

Nothing here is hard-coded: every verdict and every number of the table is computed from the
runs' measurements.
"""

from __future__ import annotations

import concurrent.futures
import copy
import dataclasses
import math
import multiprocessing
import os
import time
import types
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import torch

from ganlab.config import LossConfig, RunConfig, config_changes
from ganlab.presets import preset, ring_collapse
from ganlab.profiles import check_profile
from ganlab.training import Trainer, TrainingDiverged, sample_z, seed_everything

__all__ = [
    "CASES",
    "FailureCase",
    "CaseResult",
    "RunOutcome",
    "WARNING_LABELS",
    "case",
    "checkerboard_score",
    "run_case",
    "table",
]

SAMPLE_SEED = 1  # the z of the samples every measurement scores (training noise is separate)
MEASURE_N = {"tiny": 128, "default": 500, "full": 1000}  # samples (and real images) scored
# What the Trainer's warnings are called in the table (keys of Trainer.warning_keys).
WARNING_LABELS = {
    "d_wins": "D wins outright",
    "vanishing_g": "G's gradient vanished",
    "collapse": "possible mode collapse",
    "diverged": "TrainingDiverged (NaN/inf)",
}


# ---------------------------------------------------------------------------- measurements
def checkerboard_score(images: torch.Tensor) -> float:
    """The share of the images' spectral power at the stride-2 frequencies, in [0, 1].

    A stride-2 transposed convolution makes each output pixel with one of four sub-kernels,
    chosen by the pixel's (row, column) parity; the pattern that leaves repeats every 2 pixels,
    so its power sits at the frequencies (H/2, 0), (0, W/2) and (H/2, W/2) of the 2-D DFT
    (Odena et al., 2016). ``images`` is (N, C, H, W) with H and W even; each image and channel
    has its mean removed, then ``sum of |F|^2 at those frequencies / sum of |F|^2`` is taken over
    the whole batch. A perfect checkerboard scores 1, a smooth image close to 0, white noise
    about 3 / (H W).
    """
    if images.ndim != 4 or images.shape[-1] % 2 or images.shape[-2] % 2:
        raise ValueError(f"expected images of shape (N, C, H, W) with H and W even, got "
                         f"{tuple(images.shape)}")
    x = images.detach().double().cpu()
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(x).abs() ** 2  # (N, C, H, W)
    h, w = x.shape[-2] // 2, x.shape[-1] // 2
    stride2 = power[..., h, 0] + power[..., 0, w] + power[..., h, w]  # (N, C)
    total = power.sum()
    return float(stride2.sum() / total) if total > 0 else 0.0


@cache
def _judge(data_name: str) -> tuple[torch.nn.Module, int]:
    from ganlab.evaluation import judge_for

    judge = judge_for(data_name)
    return judge.build(), judge.resolution


def _judge_fd(data_name: str, real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between real and fake images in the data set's judge's features
    (``ganlab.evaluation``; notebook 06)."""
    from ganlab.evaluation import extract_features, frechet_distance, resize_for

    net, resolution = _judge("mnist-5k" if data_name == "mnist" else data_name)
    f_real = extract_features(net, resize_for(real, resolution)[0])
    f_fake = extract_features(net, resize_for(fake, resolution)[0])
    return frechet_distance(f_real, f_fake)


def _samples(trainer: Trainer, n: int) -> torch.Tensor:
    return trainer.generate(sample_z(n, trainer.config.arch.latent_dim, seed=SAMPLE_SEED))


def _second_half(history: Sequence[dict[str, float]], key: str) -> list[float]:
    return [h[key] for h in history[len(history) // 2:]]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _std(values: Sequence[float]) -> float:
    m = _mean(values)
    return math.sqrt(_mean([(v - m) ** 2 for v in values])) if values else math.nan


# ---------------------------------------------------------------------------- the cases
@dataclass(frozen=True)
class FailureCase:
    """One failure of the field guide: how it looks, why, and the one change that fixes it.

    ``broken(profile)`` is the failing run's config; ``fix`` holds the changes that give the
    fixed run, in :meth:`RunConfig.replace` syntax (``{"loss__name": "nonsaturating"}``), so the
    two runs differ in exactly those fields. ``measure(trainer, n)`` returns the case's numbers
(scoring ``n`` samples where it scores samples),
    ``failed(metrics)`` says whether they show the failure, and ``describe(metrics)`` says them
    in a few words for the table.
    """

    key: str
    title: str
    symptom: str
    cause: str
    remedy: str
    broken: Callable[[str], RunConfig]
    fix: Mapping[str, Any]
    measure: Callable[[Trainer, int], dict[str, float]]
    failed: Callable[[dict[str, float]], bool]
    describe: Callable[[dict[str, float]], str]

    def __post_init__(self) -> None:
        if not self.key.isidentifier():
            raise ValueError(f"FailureCase.key must be a short identifier, got {self.key!r}")
        for name in ("title", "symptom", "cause", "remedy"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"FailureCase {self.key!r}: {name} must be a non-empty string")
            if "|" in getattr(self, name):
                raise ValueError(f"FailureCase {self.key!r}: {name} may not contain '|' (it is "
                                 "a cell of a markdown table)")
        if not isinstance(self.fix, Mapping) or not self.fix:
            raise ValueError(f"FailureCase {self.key!r}: fix must be a non-empty mapping of "
                             "config changes, e.g. {'loss__name': 'nonsaturating'}")
        object.__setattr__(self, "fix", types.MappingProxyType(dict(self.fix)))
        for name in ("broken", "measure", "failed", "describe"):
            if not callable(getattr(self, name)):
                raise ValueError(f"FailureCase {self.key!r}: {name} must be callable")

    def configs(self, profile: str, **overrides: Any) -> tuple[RunConfig, RunConfig]:
        """(broken, fixed) configs of ``profile``, with ``overrides`` (e.g. ``train__steps=300``)
        applied to both; they differ exactly in :attr:`fix`."""
        broken = self.broken(check_profile(profile))
        if overrides:
            broken = broken.replace(**overrides)
        return broken, broken.replace(**self.fix)


def _with(config: RunConfig, sizes: Mapping[str, Mapping[str, Any]], profile: str) -> RunConfig:
    return config.replace(**sizes[profile])


# 1. Mode collapse: notebook 03's ring, fewer steps of a smaller batch (the fix needs them).
_COLLAPSE_SIZES = {
    "tiny": {},
    "default": dict(train__steps=3000, train__batch_size=256, train__sample_every=500,
                    train__checkpoint_every=3000),
    "full": {},
}


def _measure_modes(trainer: Trainer, n: int) -> dict[str, float]:
    from ganlab.metrics import mode_coverage

    cov = mode_coverage(trainer.samples[-1][2], trainer.data.mixture)
    return {"modes": cov.modes_captured, "num_modes": cov.num_modes,
            "high_quality": cov.high_quality}


COLLAPSE = FailureCase(
    key="collapse",
    title="mode collapse",
    symptom="samples for different z land on a few modes (or between them); the data's other "
            "modes get none",
    cause="G found a few outputs D cannot yet reject and D cannot push it off them: the regular "
          "GAN's sigmoid loss stops pulling fakes that D accepts towards the data",
    remedy="a loss that keeps pulling (least squares, WGAN-GP); smaller steps; several seeds",
    broken=lambda p: _with(ring_collapse("vanilla", p), _COLLAPSE_SIZES, p),
    fix={"model": "lsgan", "loss": LossConfig("least_squares", a=0.0, b=1.0, c=1.0)},
    measure=_measure_modes,
    failed=lambda m: m["modes"] < m["num_modes"] / 2,
    describe=lambda m: f"{m['modes']:.0f}/{m['num_modes']:.0f} modes",
)


# 2. Vanishing gradients: the minimax loss with a strong D (no dropout, 5 D steps per G step).
def _vanishing_broken(profile: str) -> RunConfig:
    sizes = {"tiny": dict(train__steps=30, train__log_every=5, train__sample_every=30),
             "default": dict(train__steps=400, train__log_every=25, train__sample_every=400),
             "full": dict(train__steps=2000, train__log_every=25, train__sample_every=500)}
    return preset("vanilla", "mnist-5k", profile, loss__name="minimax", arch__d_dropout=0.0,
                  train__n_critic=5, train__ema=0.0, train__checkpoint_every=10_000,
                  **sizes[profile])


def _measure_gradient(trainer: Trainer, n: int) -> dict[str, float]:
    norms = [norm for _, norm in trainer.g_grad_norms]
    fake, real = _samples(trainer, n), trainer.data.tensors(n)
    return {"grad_end": norms[-1], "grad_peak": max(norms), "grad_ratio": norms[-1] / max(norms),
            "D_G_z_end": trainer.history[-1]["D_G_z"],
            "FD": _judge_fd(trainer.config.data.name, real, fake)}


VANISHING = FailureCase(
    key="vanishing",
    title="vanishing gradients (saturating loss)",
    symptom="D(G(z)) near 0, D(x) near 1; G's gradient shrinks towards 0 and its samples stop "
            "changing",
    cause="the minimax loss log(1 - D(G(z))) is flat where D rejects fakes with confidence, "
          "and a strong D rejects them all",
    remedy="the non-saturating loss -log D(G(z)); a weaker or slower D (fewer D steps, lower "
           "lr_d, dropout)",
    broken=_vanishing_broken,
    fix={"loss__name": "nonsaturating"},
    measure=_measure_gradient,
    failed=lambda m: m["grad_ratio"] < Trainer.vanishing_ratio,  # the warning's threshold
    describe=lambda m: f"G's gradient at {m['grad_ratio']:.1%} of its peak, FD {m['FD']:.0f}",
)


# 3. Oscillation: beta1 = 0.9 on the ring (the DCGAN paper's warning), G itself sampled.
_OSC_SIZES = {
    "tiny": dict(train__sample_every=10, train__log_every=5),
    "default": dict(train__steps=2000, train__sample_every=100, train__log_every=25,
                    train__checkpoint_every=2000),
    "full": dict(train__steps=5000, train__sample_every=100, train__log_every=25,
                 train__checkpoint_every=5000),
}


def _measure_drift(trainer: Trainer, n: int) -> dict[str, float]:
    """How far the fixed-z samples move between snapshots in the second half of the run, in
    units of the distance between neighbouring modes."""
    from ganlab.metrics import mode_coverage

    mixture = trainer.data.mixture
    centers = mixture.centers
    spacing = torch.cdist(centers, centers).add(torch.eye(len(centers)) * 1e9).min().item()
    late = [x for _, _, x in trainer.samples[len(trainer.samples) // 2:]]
    moves = [(b - a).norm(dim=1).mean().item() for a, b in zip(late, late[1:])]
    return {"drift": _mean(moves) / spacing, "D_G_z_swing": _std(_second_half(
        trainer.history, "D_G_z")), "modes": mode_coverage(late[-1], mixture).modes_captured}


OSCILLATION = FailureCase(
    key="oscillation",
    title="oscillation without convergence",
    symptom="late in training the samples keep jumping around and D(G(z)) keeps swinging; "
            "no mode is held",
    cause="too much momentum in Adam (beta1 = 0.9): each player overshoots the other's last "
          "move and the game circles instead of settling",
    remedy="beta1 = 0.5 (DCGAN) or 0; lower learning rates; a regulariser on D (R1, gradient "
           "penalty)",
    broken=lambda p: preset("vanilla", "ring8", p, train__betas=(0.9, 0.999), train__ema=0.0,
                            **_OSC_SIZES[p]),
    fix={"train__betas": (0.5, 0.999)},
    measure=_measure_drift,
    failed=lambda m: m["drift"] > 0.5,
    describe=lambda m: (f"samples move {m['drift']:.2f} mode spacings per "
                        f"snapshot, {m['modes']:.0f} modes"),
)


# 4. Divergence to NaN: SGD with momentum (the GAN paper's optimiser) at 10x its learning rate.
def _nan_broken(profile: str) -> RunConfig:
    sizes = {"tiny": dict(train__steps=40, train__log_every=5, train__sample_every=40),
             "default": dict(train__steps=1000, train__log_every=25, train__sample_every=1000),
             "full": dict(train__steps=3000, train__log_every=25, train__sample_every=1000)}
    return preset("vanilla", "mnist-5k", profile, train__optimizer="sgd", train__lr_g=1.0,
                  train__lr_d=1.0, train__betas=(0.5, 0.999), train__ema=0.0,
                  train__checkpoint_every=10_000, **sizes[profile])


def _measure_finite(trainer: Trainer, n: int) -> dict[str, float]:
    from ganlab.metrics import digit_recognition

    finite = all(math.isfinite(v) for h in trainer.history for v in h.values())
    weights = all(torch.isfinite(p).all() for p in trainer.G.parameters())
    ok = finite and weights and trainer.step == trainer.config.train.steps
    out = {"diverged": float(not ok), "steps": trainer.step}
    out["confident"] = (digit_recognition(_samples(trainer, n)).confident if ok
                        else math.nan)
    return out


NAN = FailureCase(
    key="nan",
    title="divergence to NaN",
    symptom="a loss becomes inf or NaN within a few steps; the Trainer stops with "
            "TrainingDiverged",
    cause="a learning rate too high for plain SGD: each step overshoots, the weights grow "
          "geometrically until a number overflows",
    remedy="a lower learning rate (the GAN paper: 0.1 with momentum 0.5); Adam, whose step "
           "is bounded by about lr; fp32 instead of fp16",
    broken=_nan_broken,
    fix={"train__lr_g": 0.1, "train__lr_d": 0.1},
    measure=_measure_finite,
    failed=lambda m: m["diverged"] > 0,
    describe=lambda m: (f"NaN/inf at step {m['steps']:.0f}" if m["diverged"] else
                        f"{m['steps']:.0f} steps, finite, {m['confident']:.0%} read as digits"),
)


# 5-7. DCGAN at 16x16 on shapes (small widths: every run fits in seconds to a minute).
def _dcgan16(profile: str, **changes: Any) -> RunConfig:
    sizes = {"tiny": dict(train__steps=12, train__log_every=4, train__sample_every=12),
             "default": dict(arch__g_width=16, arch__d_width=16, train__steps=1000,
                             train__log_every=25, train__sample_every=250),
             "full": dict(arch__resolution=32, data__resolution=32, arch__g_width=32,
                          arch__d_width=32, train__steps=3000, train__log_every=25,
                          train__sample_every=500)}
    base = dict(arch__resolution=16, data__resolution=16, train__ema=0.0,
                train__checkpoint_every=10_000)
    return preset("dcgan", "shapes", profile, **{**base, **sizes[profile], **changes})


def _initial_generator(config: RunConfig) -> torch.nn.Module:
    """G as the Trainer initialised it (the same seed, the same construction order)."""
    from ganlab.models import build

    with torch.random.fork_rng():
        seed_everything(config.train.seed)
        G, _ = build(config.arch)
    return G.eval()


def _measure_checkerboard(trainer: Trainer, n: int) -> dict[str, float]:
    z = sample_z(n, trainer.config.arch.latent_dim, seed=SAMPLE_SEED)
    with torch.no_grad():
        at_init = _initial_generator(trainer.config)(z)
    fake, real = _samples(trainer, n), trainer.data.tensors(n)
    return {"init": checkerboard_score(at_init), "end": checkerboard_score(fake),
            "real": checkerboard_score(real),
            "FD": _judge_fd(trainer.config.data.name, real, fake)}


CHECKERBOARD = FailureCase(
    key="checkerboard",
    title="checkerboard artifacts",
    symptom="a fine grid pattern, repeating every 2 pixels, over the samples; strongest early "
            "in training",
    cause="stride-2 transposed convolutions: pixels of different parity are made by different "
          "parts of the kernel (Odena et al., 2016)",
    remedy="resize convolutions: nearest-neighbour upsampling, then a 3x3 convolution "
           "(DCGANConfig.upsample='resize')",
    broken=lambda p: _dcgan16(p),
    fix={"arch__upsample": "resize"},
    measure=_measure_checkerboard,
    failed=lambda m: m["end"] > 2 * m["real"],  # default, seeds 0-2: 3.3-6.7x and 0.5-0.6x
    describe=lambda m: (f"stride-2 power {m['end']:.4f} (at init {m['init']:.4f}, real data "
                        f"{m['real']:.4f})"),
)


def _measure_balance(trainer: Trainer, n: int) -> dict[str, float]:
    d_x, d_g_z = _second_half(trainer.history, "D_x"), _second_half(trainer.history, "D_G_z")
    fake, real = _samples(trainer, n), trainer.data.tensors(n)
    return {"D_x": _mean(d_x), "D_G_z": _mean(d_g_z), "gap": _mean(d_x) - _mean(d_g_z),
            "FD": _judge_fd(trainer.config.data.name, real, fake)}


BATCHNORM = FailureCase(
    key="batchnorm",
    title="batch norm with real and fake mixed",
    symptom="D(x) near 1 and D(G(z)) near 0 from early on: D wins outright, G does not improve",
    cause="D's batch norm sees real and fake in one batch in the D step, fakes alone in the G "
          "step: G is graded by a different D than the one that learned",
    remedy="separate all-real and all-fake batches through D (ganhacks); or no batch norm in D",
    broken=lambda p: _dcgan16(p, train__d_batches="joint"),
    fix={"train__d_batches": "separate"},
    measure=_measure_balance,
    failed=lambda m: m["gap"] > 0.9,
    describe=lambda m: (f"D(x) {m['D_x']:.2f}, D(G(z)) {m['D_G_z']:.2f}, FD {m['FD']:.0f}"),
)


def _held_out(config: RunConfig, n: int) -> torch.Tensor:
    """Real images the run never saw: the same generator of shapes with another seed."""
    from ganlab.data import load_config

    return load_config(dataclasses.replace(config.data, size=n, seed=config.data.seed + 1)
                       ).tensors()


def _measure_memorising(trainer: Trainer, n: int) -> dict[str, float]:
    from ganlab.evaluation import data_copying

    train = trainer.data.tensors()  # (n, C, H, W): every training image, on the run's device
    held = _held_out(trainer.config, len(train)).to(train.device)
    D = copy.deepcopy(trainer.D).train()  # batch statistics, as in training; a copy keeps D's own
    with torch.no_grad():
        d_train = trainer.loss.d_prob(D(train).float()).mean().item()
        d_held = trainer.loss.d_prob(D(held).float()).mean().item()
    fake = _samples(trainer, n)
    return {"D_train": d_train, "D_held_out": d_held, "D_gap": d_train - d_held,
            "copyZ": data_copying(train.flatten(1).cpu(), held.flatten(1).cpu(),
                                  fake.flatten(1)),
            "images": len(train)}


MEMORISE = FailureCase(
    key="memorise",
    title="memorising a small data set",
    symptom="D(x) stays high on the training images but falls on new real images; later, "
            "samples that copy training images",
    cause="too few images for the number of steps: D learns each of them by heart, and G is "
          "taught to imitate exactly those",
    remedy="more data; DiffAugment on everything D sees (train.augment='translation,cutout'); "
           "fewer steps",
    broken=lambda p: _dcgan16(p, data__size={"tiny": 32, "default": 64, "full": 256}[p],
                              train__steps={"tiny": 12, "default": 1200, "full": 5000}[p]),
    fix={"train__augment": "translation,cutout"},
    measure=_measure_memorising,
    failed=lambda m: m["D_gap"] > 0.3,
    describe=lambda m: (f"D: {m['D_train']:.2f} on its {m['images']:.0f} images, "
                        f"{m['D_held_out']:.2f} on new ones"),
)

CASES: dict[str, FailureCase] = {c.key: c for c in (
    COLLAPSE, VANISHING, OSCILLATION, NAN, CHECKERBOARD, BATCHNORM, MEMORISE)}


def case(key: str) -> FailureCase:
    """The case named ``key``; the error lists the others."""
    if key not in CASES:
        raise ValueError(f"unknown failure case {key!r}; choose one of {', '.join(CASES)}")
    return CASES[key]


# ---------------------------------------------------------------------------- running a case
@dataclass(frozen=True)
class RunOutcome:
    """One trained run of a case, reduced to what the notebook shows and the verdict needs."""

    config: RunConfig
    metrics: dict[str, float]
    history: list[dict[str, float]]
    snapshots: list[tuple[int, torch.Tensor]]  # (step, fixed-z samples), as the Trainer took them
    g_grad_norms: list[tuple[int, float]]  # (step, |grad L_G|) at each log
    warnings: tuple[str, ...]  # the Trainer's messages, in order
    warning_keys: tuple[str, ...]  # their keys (WARNING_LABELS), "diverged" for TrainingDiverged
    error: str | None  # TrainingDiverged's message when the run stopped on NaN/inf
    steps: int
    seconds: float
    real: torch.Tensor | None = None  # real examples to draw beside the samples
    mixture: Any = None  # a 2-D mixture's ganlab.data.GaussianMixture (mode centres, std)

    @property
    def samples(self) -> torch.Tensor | None:
        """The last snapshot's samples (None if the run stopped before its first)."""
        return self.snapshots[-1][1] if self.snapshots else None


@dataclass(frozen=True)
class CaseResult:
    """Both runs of a case and the verdict their numbers give."""

    case: FailureCase
    profile: str
    seed: int
    broken: RunOutcome
    fixed: RunOutcome
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)

    @property
    def reproduced(self) -> bool:
        """The broken run shows the failure (by the case's own measurement)."""
        return bool(self.case.failed(self.broken.metrics))

    @property
    def fix_worked(self) -> bool:
        """The fixed run does not show it."""
        return not self.case.failed(self.fixed.metrics)

    @property
    def verdict(self) -> str:
        c = self.case
        shown = "reproduced" if self.reproduced else "NOT reproduced"
        fixed = "removed it" if self.fix_worked else "did NOT remove it"
        return (f"{c.title} (seed {self.seed}, profile {self.profile}): {shown}, "
                f"{c.describe(self.broken.metrics)}; the fix "
                f"({', '.join(f'{k} = {_short(v)}' for k, _, v in self.changes)}) {fixed}, "
                f"{c.describe(self.fixed.metrics)}")


    def report(self) -> str:
        """The verdict, then what the Trainer said in each run (its warnings, in full) and how
        long each run took."""
        lines = [self.verdict]
        for name, run in (("broken", self.broken), ("fixed", self.fixed)):
            said = "; ".join(run.warnings) if run.warnings else "no warning"
            lines.append(f"- {name} ({run.steps} steps, {run.seconds:.0f} s): {said}")
        return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(map(str, value)) + ")"
    return repr(value) if isinstance(value, str) else str(value)


@cache
def _data(config: Any) -> Any:
    """A data set loaded once per process (both runs of a case, and cases, share it)."""
    from ganlab.data import load_config

    return load_config(config)


def _fit(config: RunConfig, threads: int | None, device: str,
         data: Any = None) -> tuple[Trainer, str | None, float]:
    """Train one run to its end or to TrainingDiverged (in a worker process, or here)."""
    if threads is not None:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kept in trainer.warnings_issued, shown by the result
        trainer = Trainer(config, device=device, data=data, progress=False)
        try:
            trainer.fit()
            error = None
        except TrainingDiverged as err:
            error = str(err)
    return trainer, error, time.perf_counter() - start


def _outcome(fc: FailureCase, config: RunConfig, n: int, trainer: Trainer, error: str | None,
             seconds: float) -> RunOutcome:
    keys = tuple(trainer.warning_keys) + (("diverged",) if error else ())
    messages = tuple(trainer.warnings_issued) + ((error,) if error else ())
    return RunOutcome(
        config=config, metrics=fc.measure(trainer, n), history=list(trainer.history),
        snapshots=[(step, x) for step, _, x in trainer.samples],
        g_grad_norms=list(trainer.g_grad_norms), warnings=messages, warning_keys=keys,
        error=error, steps=trainer.step, seconds=seconds,
        real=trainer.data.tensors(2500 if len(trainer.data.shape) == 1 else 64).cpu(),
        mixture=trainer.data.mixture)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_case(fc: FailureCase | str, profile: str, seed: int = 0, workers: int | None = None,
             device: str = "cpu", **overrides: Any) -> CaseResult:
    """Train a case's broken and fixed runs with seed ``seed`` and measure both; ``overrides``
    change both configs alike (``train__steps=300``: a shorter run, as the tests do).

    ``workers=2`` trains them side by side in two processes with one thread each (on a CPU the
    small models of these cases cannot keep two cores busy, see
    :func:`ganlab.training.train_many`); ``workers=1`` trains them one after the other in this
    process. The default is 1 in the ``tiny`` profile (starting processes costs more than its
    runs) and on a GPU, else 2 where there are two cores. A run that stops with
    :class:`~ganlab.training.TrainingDiverged` is measured as it stopped.
    """
    fc = case(fc) if isinstance(fc, str) else fc
    profile = check_profile(profile)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    broken, fixed = (c.replace(train__seed=seed) for c in fc.configs(profile, **overrides))
    if workers is None:
        workers = 1 if profile == "tiny" or device != "cpu" or _cores() < 2 else 2
    if isinstance(workers, bool) or workers not in (1, 2):
        raise ValueError(f"workers must be 1 or 2, got {workers!r}")
    data = _data(broken.data) if broken.data == fixed.data else None
    if workers == 1:
        fitted = [_fit(c, None, device, data) for c in (broken, fixed)]
    else:
        # spawn, not fork: a forked child inherits torch's OpenMP pool in an unusable state.
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
            threads = max(1, torch.get_num_threads() // 2)
            futures = [pool.submit(_fit, c, threads, device, data) for c in (broken, fixed)]
            fitted = [f.result() for f in futures]
    outcomes = [_outcome(fc, c, MEASURE_N[profile], *f) for c, f in zip((broken, fixed), fitted)]
    return CaseResult(fc, profile, seed, *outcomes, changes=config_changes(broken, fixed))


# ---------------------------------------------------------------------------- the table
def _warned(outcome: RunOutcome) -> str:
    return ", ".join(WARNING_LABELS.get(k, k) for k in outcome.warning_keys) or "nothing"


def table(results: Sequence[CaseResult]) -> str:
    """The field guide as a markdown table, one row per result: symptom, likely cause, what to
    try, what was measured in the broken and the fixed run, and what the Trainer said."""
    if not results:
        raise ValueError("table() needs at least one CaseResult (from run_case)")
    rows = ["| symptom | likely cause | what to try | measured: broken -> fixed | the Trainer "
            "said: broken / fixed |", "| --- | --- | --- | --- | --- |"]
    for r in results:
        if not isinstance(r, CaseResult):
            raise TypeError(f"table() takes CaseResults from run_case, got {type(r).__name__}")
        c = r.case
        status = ("reproduced and fixed" if r.reproduced and r.fix_worked else
                  "reproduced, NOT fixed" if r.reproduced else "NOT reproduced")
        rows.append(
            f"| **{c.title}**: {c.symptom} | {c.cause} | {c.remedy} | "
            f"{c.describe(r.broken.metrics)} -> {c.describe(r.fixed.metrics)} ({status}; seed "
            f"{r.seed}, {r.profile}) | {_warned(r.broken)} / {_warned(r.fixed)} |")
    return "\n".join(rows)


# ---------------------------------------------------------------------------- the picture
def plot_case(result: CaseResult, n_images: int = 16):
    """One figure per case: the broken and the fixed run's last samples on top; below, D(x) and
    D(G(z)), the losses and the norm of G's gradient against the step, broken solid and fixed
    dashed. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    from ganlab.viz import plot_points, show

    fig = plt.figure(figsize=(12, 6.5))
    grid = fig.add_gridspec(2, 6, height_ratios=(1.15, 1))
    runs = (("broken", result.broken, "-"), ("fixed", result.fixed, "--"))
    for col, (name, run, _) in enumerate(runs):
        ax = fig.add_subplot(grid[0, 3 * col:3 * col + 3])
        x = run.samples
        title = f"{name}: " + result.case.describe(run.metrics)
        if x is None:
            ax.text(0.5, 0.5, f"no samples: stopped at step {run.steps}", ha="center")
            ax.set_axis_off()
        elif x.ndim == 2:
            plot_points(x, run.real, run.mixture.centers, ax=ax)
        else:
            show(x[:n_images], ax=ax, nrow=8, scale=max(1, 48 // x.shape[-1]))  # pixels visible
        ax.set_title(title, fontsize=9)
    panels = [fig.add_subplot(grid[1, 2 * i:2 * i + 2]) for i in range(3)]
    for name, run, style in runs:
        steps = [h["step"] for h in run.history]
        panels[0].plot(steps, [h["D_x"] for h in run.history], style, c="tab:green",
                       label=f"D(x), {name}")
        panels[0].plot(steps, [h["D_G_z"] for h in run.history], style, c="tab:purple",
                       label=f"D(G(z)), {name}")
        panels[1].plot(steps, [h["loss_D"] for h in run.history], style, c="tab:blue",
                       label=f"loss D, {name}")
        panels[1].plot(steps, [h["loss_G"] for h in run.history], style, c="tab:orange",
                       label=f"loss G, {name}")
        if run.g_grad_norms:
            panels[2].semilogy(*zip(*run.g_grad_norms), style, c="k", label=name)
    for ax, title in zip(panels, ("discriminator outputs", "losses", "|grad of L_G wrt G|")):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(result.case.title)
    fig.tight_layout()
    return fig
