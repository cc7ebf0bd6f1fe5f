"""Run configuration: frozen dataclasses that say everything needed to rebuild a run.

A :class:`RunConfig` bundles the architecture (``arch``: :class:`MLPConfig`, :class:`DCGANConfig`,
:class:`ProGANConfig` or :class:`R3GANConfig`), the data, the loss and the training settings. It
is saved as ``config.json`` beside every checkpoint and inside it, so
``ganlab.training.load_run(run_dir)`` needs nothing else (nanoGPT's habit).

This module is the bottom layer: it imports no other ganlab module, and no torch, so a config
is built and checked anywhere (the data-set names it checks live here, and ProGAN's schedule
maths stays with its networks in ``ganlab.models.progan``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import operator
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

MODELS = ("vanilla", "dcgan", "lsgan", "progan", "r3gan")
LOSSES = ("minimax", "nonsaturating", "least_squares", "wgan_gp", "relativistic")
AMP_MODES = ("auto", "off", "bf16", "fp16")
COMPILE_MODES = ("auto", "on", "off")  # TrainConfig.compile (see ganlab.training.compiled)
CONFIG_VERSION = 1  # written as "version" in config.json; a newer one is refused, not guessed at


def _check_choice(setting: str, value: Any, choices: tuple[str, ...], what: str = "") -> None:
    """A clear error for a setting outside its choices: ``setting`` names it, ``what`` says what
    it decides (with a leading space and in parentheses)."""
    if value not in choices:
        raise ValueError(f"{setting} must be one of {', '.join(choices)}{what}, got {value!r}")


def _positive_int(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}.{name} must be a positive integer, got {value!r}")


def _non_negative_int(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{owner}.{name} must be an integer >= 0, got {value!r}")


BATCH_NORM_PLACES = ("both", "g", "d", "none")  # DCGANConfig.batch_norm
UPSAMPLINGS = ("transpose", "resize")  # DCGANConfig.upsample
D_BATCHES = ("separate", "joint")  # TrainConfig.d_batches
OPTIMIZERS = ("adam", "rmsprop", "sgd")  # TrainConfig.optimizer
G_OUTPUTS = ("tanh", "linear")  # the MLP generator's last activation
# The 2-D Gaussian mixtures and their default geometry (radius, std) in ganlab.data's units.
POINT_GEOMETRY = {"ring8": (0.8, 0.008), "grid25": (0.8, 0.004)}
# Their geometry in the papers that made them benchmarks (Metz et al., 2017, app. A; VEEGAN): a
# ring of radius 2 and a grid with spacing 2 (centres -4 ... 4), every mode with std 0.02.
LITERATURE_GEOMETRY = {"ring8": (2.0, 0.02), "grid25": (4.0, 0.02)}


# Data sets by name (ganlab.data loads them): embedded in the package, or real ones on disk.
EMBEDDED = ("digits", "mnist-5k", "shapes", "ring8", "grid25")
REAL = ("mnist", "fashion-mnist", "cifar10", "celeba")
DATASETS = EMBEDDED + REAL + ("folder:PATH",)


def check_dataset_name(name: str) -> str:
    """``name`` if it names a data set ganlab.data can load, else a ValueError listing them."""
    if not isinstance(name, str):
        raise ValueError(f"a data set name must be a string, got {type(name).__name__} {name!r}; "
                         f"choose one of {', '.join(EMBEDDED + REAL)} or folder:PATH")
    if name in EMBEDDED or name in REAL:
        return name
    if name.startswith("folder:") and len(name) > len("folder:"):
        return name
    raise ValueError(
        f"unknown data set {name!r}; choose one of {', '.join(EMBEDDED + REAL)} or folder:PATH"
    )


@dataclass(frozen=True)
class MLPConfig:
    """Vanilla GAN (Goodfellow et al., 2014): fully connected G and D, on flat images or 2-D points.

    ``data_shape`` is ``(C, H, W)`` for images or ``(2,)`` for points. The generator ends in tanh
    (``g_output="tanh"``), because ganlab's images and its default point sets live in [-1, 1];
    ``g_output="linear"`` leaves its last layer linear, as the 2-D mixture experiments of the
    literature do (Metz et al., 2017, app. A), for points anywhere on the plane.
    """

    family: ClassVar[str] = "mlp"
    data_shape: tuple[int, ...] = (1, 16, 16)
    latent_dim: int = 100
    g_hidden: tuple[int, ...] = (128,)
    d_hidden: tuple[int, ...] = (128,)
    d_dropout: float = 0.5
    negative_slope: float = 0.2
    g_output: str = "tanh"

    def __post_init__(self) -> None:
        if len(self.data_shape) not in (1, 3) or any(
            not isinstance(s, int) or s <= 0 for s in self.data_shape
        ):
            raise ValueError(
                f"MLPConfig.data_shape must be (C, H, W) for images or (D,) for points, "
                f"got {self.data_shape!r}"
            )
        _positive_int("MLPConfig", "latent_dim", self.latent_dim)
        for name in ("g_hidden", "d_hidden"):
            widths = getattr(self, name)
            if not widths or any(not isinstance(w, int) or w <= 0 for w in widths):
                raise ValueError(f"MLPConfig.{name} must be positive layer widths, got {widths!r}")
        if not 0.0 <= self.d_dropout < 1.0:
            raise ValueError(f"MLPConfig.d_dropout must be in [0, 1), got {self.d_dropout}")
        if self.g_output not in G_OUTPUTS:
            raise ValueError(f"MLPConfig.g_output must be one of {', '.join(G_OUTPUTS)}, "
                             f"got {self.g_output!r}")

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.data_shape)


@dataclass(frozen=True)
class DCGANConfig:
    """DCGAN (Radford et al., 2016): all-convolutional G and D following the paper's guidelines.

    Widths are the paper's ``ngf``/``ndf`` (64 at 64x64); small values keep CPU runs quick.
    ``batch_norm`` says which networks use batch normalization: ``"both"`` (the paper), ``"g"``,
    ``"d"`` or ``"none"``; a network without it gets biases in its convolutions instead (LSGAN's
    stability comparison, Mao et al., 2017, removes it).
    ``upsample`` says how G doubles its resolution: ``"transpose"`` (the paper's 4x4 transposed
    convolutions with stride 2) or ``"resize"`` (nearest-neighbour upsampling, then a 3x3
    convolution: Odena et al., 2016, "Deconvolution and Checkerboard Artifacts", Distill), which
    cannot draw the checkerboard pattern that overlapping strided kernels leave.
    """

    family: ClassVar[str] = "dcgan"
    resolutions: ClassVar[tuple[int, ...]] = (16, 32, 64)
    resolution: int = 64
    channels: int = 3
    latent_dim: int = 100
    g_width: int = 64
    d_width: int = 64
    batch_norm: str = "both"
    upsample: str = "transpose"

    def __post_init__(self) -> None:
        _check_choice("DCGANConfig.upsample", self.upsample, UPSAMPLINGS,
                      " (how G doubles its resolution)")
        _check_choice("DCGANConfig.batch_norm", self.batch_norm, BATCH_NORM_PLACES,
                      " (the networks that normalize)")
        if self.resolution not in self.resolutions:
            raise ValueError(
                f"DCGAN supports resolutions {self.resolutions}, got {self.resolution}; "
                "resize your data or use ProGAN for other sizes"
            )
        if self.channels not in (1, 3):
            raise ValueError(f"DCGANConfig.channels must be 1 or 3, got {self.channels}")
        for name in ("latent_dim", "g_width", "d_width"):
            _positive_int("DCGANConfig", name, getattr(self, name))

    @property
    def image_shape(self) -> tuple[int, ...]:
        return (self.channels, self.resolution, self.resolution)


@dataclass(frozen=True)
class DataConfig:
    """Which data set to train on: a name from :data:`DATASETS` or ``folder:PATH``.

    ``radius`` and ``std`` set the geometry of the 2-D mixtures (``ring8``: the circle's radius;
    ``grid25``: the outermost centre's coordinate; ``std``: each mode's per-axis std). ``None``
    keeps the set's own, scaled into [-1, 1]; the literature's is :data:`LITERATURE_GEOMETRY`.
    """

    name: str = "digits"
    resolution: int | None = None
    size: int | None = None
    root: str = "data"
    download: bool = False
    seed: int = 0
    radius: float | None = None
    std: float | None = None

    def __post_init__(self) -> None:
        check_dataset_name(self.name)
        if self.resolution is not None:
            _positive_int("DataConfig", "resolution", self.resolution)
        if self.size is not None:
            _positive_int("DataConfig", "size", self.size)
        for key in ("radius", "std"):
            value = getattr(self, key)
            if value is None:
                continue
            if self.name not in POINT_GEOMETRY:
                raise ValueError(f"DataConfig.{key} sets the geometry of a 2-D mixture "
                                 f"({', '.join(POINT_GEOMETRY)}), not of {self.name!r}; leave it "
                                 "None")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"DataConfig.{key} must be a positive number, got {value!r}")

    @property
    def geometry(self) -> tuple[float, float]:
        """(radius, std) of a 2-D mixture: the given values, else the set's default."""
        if self.name not in POINT_GEOMETRY:
            raise ValueError(f"{self.name!r} is not a 2-D mixture; geometry is for "
                             f"{', '.join(POINT_GEOMETRY)}")
        radius, std = POINT_GEOMETRY[self.name]
        return (float(self.radius) if self.radius is not None else radius,
                float(self.std) if self.std is not None else std)


@dataclass(frozen=True)
class LossConfig:
    """The GAN objective. ``a, b, c`` are LSGAN's targets; ``gp_weight``/``drift`` are WGAN-GP's.

    ``r1_weight`` and ``r2_weight`` are the gammas of the zero-centred gradient penalties
    ``gamma / 2 * E[||grad_x D(x)||^2]`` on real images (R1) and on generated ones (R2)
    (Mescheder et al., 2018, Sec. 4.1; R3GAN uses both with one gamma, Huang et al., 2024,
    Sec. 2). They apply to any loss; 0 (the default) switches a penalty off.

    ``reg_every`` is lazy regularisation (Karras et al., 2020, "Analyzing and Improving the Image
    Quality of StyleGAN", Sec. 3.1): D's regulariser (R1, R2, WGAN-GP's penalty) is computed on
    one D step in ``reg_every`` and multiplied by ``reg_every``, so its average weight is unchanged
    while most steps skip the gradient-of-a-gradient through D. 1 (the default) regularises every
    step.
    """

    name: str = "nonsaturating"
    a: float = 0.0
    b: float = 1.0
    c: float = 1.0
    gp_weight: float = 10.0
    drift: float = 0.001
    r1_weight: float = 0.0
    r2_weight: float = 0.0
    reg_every: int = 1

    def __post_init__(self) -> None:
        if self.name not in LOSSES:
            raise ValueError(f"unknown loss {self.name!r}; choose one of {', '.join(LOSSES)}")
        if (isinstance(self.reg_every, bool) or not isinstance(self.reg_every, int)
                or self.reg_every < 1):
            raise ValueError(f"LossConfig.reg_every (regularise D on one step in reg_every) must "
                             f"be an integer >= 1 (1: every step), got {self.reg_every!r}")
        for key, what in (("r1_weight", "on real images"), ("r2_weight", "on generated images")):
            value = getattr(self, key)
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value) or value < 0):
                raise ValueError(f"LossConfig.{key} (gamma of the gradient penalty {what}) must "
                                 f"be a number >= 0 (0 switches it off), got {value!r}")
        if self.name == "least_squares" and self.b == self.a:
            raise ValueError(
                f"least squares needs b != a (real and fake targets), got a = b = {self.a}"
            )


AUGMENT_POLICIES = ("translation", "cutout", "color")  # ganlab.augment implements them


def parse_augment_policy(policy: str) -> tuple[str, ...]:
    """``"translation,cutout"`` -> ``("translation", "cutout")``; ``""`` -> ``()``.

    Raises a ValueError naming the unknown parts and the known ones (no torch needed).
    """
    if not isinstance(policy, str):
        raise ValueError(f"an augmentation policy is a string such as 'translation,cutout', got "
                         f"{policy!r}")
    parts = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [p for p in parts if p not in AUGMENT_POLICIES]
    if unknown:
        raise ValueError(f"unknown augmentation {', '.join(map(repr, unknown))}: choose from "
                         f"{', '.join(AUGMENT_POLICIES)} (comma-separated), or '' for none")
    if len(set(parts)) != len(parts):
        raise ValueError(f"augmentation policy {policy!r} names a transform twice")
    return parts


SETTING_SECTIONS = ("arch", "data", "loss", "train")


def parse_setting(text: str) -> tuple[str, Any]:
    """One ``ganlab train --set`` option: ``"arch.max_channels=64"`` -> ``("arch__max_channels",
    64)``, a key for :meth:`RunConfig.replace`.

    The value is read as a Python literal (``64``, ``3e-3``, ``(16, 8)``, ``True``, ``'a b'``);
    anything else stays a string (``train.amp=bf16``). ``train.steps`` has its own option,
    ``--steps``, which is also the one that may change under ``--resume``.
    """
    import ast

    key, sep, raw = text.partition("=")
    section, dot, name = key.strip().partition(".")
    if not sep or not dot or not name.strip() or not raw.strip():
        raise ValueError(f"expected SECTION.FIELD=VALUE such as arch.max_channels=64, got "
                         f"{text!r}")
    if section not in SETTING_SECTIONS:
        raise ValueError(f"unknown config section {section!r} in {text!r}; choose from "
                         f"{', '.join(SETTING_SECTIONS)} (ganlab info RUN shows every field)")
    if (section, name.strip()) == ("train", "steps"):
        raise ValueError("set the number of steps with --steps, not --set train.steps")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        value = raw.strip()
    return f"{section}__{name.strip()}", value


def apply_settings(config: RunConfig, settings: dict[str, Any]) -> RunConfig:
    """``config.replace(**settings)`` after matching each value to its field's current type: a
    single number where the field holds a tuple (``batch_sizes=32`` -> ``(32,)``), a list as a
    tuple, an integer where a float is. Unknown fields and invalid values raise ValueError."""
    fixed = {}
    for key, value in settings.items():
        section, name = key.split("__", 1)
        part = getattr(config, section)
        names = [f.name for f in dataclasses.fields(part)]
        if name not in names:
            raise ValueError(f"{type(part).__name__} has no field {name!r} ({section}.{name}); "
                             f"valid: {', '.join(f'{section}.{n}' for n in names)}")
        current = getattr(part, name)
        if isinstance(value, list):
            value = tuple(value)
        if isinstance(current, tuple) and not isinstance(value, tuple):
            value = (value,)
        elif isinstance(current, float) and isinstance(value, int) and not isinstance(value,
                                                                                      bool):
            value = float(value)
        fixed[key] = value
    return config.replace(**fixed)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and bookkeeping. ``steps`` is the run's total number of generator steps.

    ``amp``: ``auto`` (bf16/fp16 autocast on CUDA, bf16 on CPUs with bf16 units, else fp32),
    ``off``, ``bf16`` or ``fp16`` (see :func:`ganlab.hardware.amp_dtype`). ``reuse_fakes``: the
    G step reuses the last D step's fakes instead of drawing new ones (see ``Trainer.train_step``).
    ``batch_size`` is the global batch: under torchrun each of the N processes takes
    ``batch_size / N`` of it. ``sync_bn`` makes BatchNorm (DCGAN) normalise over the global batch
    with ``torch.nn.SyncBatchNorm`` instead of over each process's slice (GPUs only).
    ``augment``: DiffAugment policy for everything D sees, real and fake, e.g.
    ``"translation,cutout"`` (see :mod:`ganlab.augment`); ``""`` (the default) for none.
    ``optimizer``: ``"adam"`` (betas, eps), ``"rmsprop"`` (LSGAN's stability comparison; eps) or
    ``"sgd"``, SGD with momentum ``betas[0]`` as in the GAN paper (Goodfellow et al., 2014).
    ``d_batches``: how a D step shows D its real and fake batches: ``"separate"`` (two calls, one
    all-real and one all-fake batch, as ganhacks advises) or ``"joint"`` (one call on the two
    concatenated, so D's batch-norm statistics mix real and fake; notebook 08 measures it).
    ``compile``: ``torch.compile`` G's and D's training passes: ``on``, ``off``, or ``auto``
    (the default), which compiles only where it was measured to pay for itself within a run of
    ``steps`` steps (see :mod:`ganlab.training.compiled`).
    """

    steps: int = 1000
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    eps: float = 1e-8
    n_critic: int = 1
    ema: float = 0.0
    seed: int = 0
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 1000
    checkpoint_minutes: float = 5.0
    amp: str = "auto"
    n_samples: int = 64
    reuse_fakes: bool = False
    sync_bn: bool = False
    augment: str = ""
    optimizer: str = "adam"
    d_batches: str = "separate"
    compile: str = "auto"

    def __post_init__(self) -> None:
        _check_choice("TrainConfig.compile", self.compile, COMPILE_MODES)
        _check_choice("TrainConfig.d_batches", self.d_batches, D_BATCHES,
                      " (how D sees a step's real and fake batches)")
        _check_choice("TrainConfig.optimizer", self.optimizer, OPTIMIZERS)
        for name in ("steps", "batch_size", "n_critic", "log_every", "sample_every",
                     "checkpoint_every", "n_samples"):
            _positive_int("TrainConfig", name, getattr(self, name))
        _non_negative_int("TrainConfig", "seed", self.seed)
        for name in ("lr_g", "lr_d", "eps"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"TrainConfig.{name} must be a positive number, got {value!r}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"TrainConfig.betas must be two numbers in [0, 1), got {self.betas}")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"TrainConfig.ema must be in [0, 1) (0 disables EMA), got {self.ema}")
        if self.checkpoint_minutes <= 0:
            raise ValueError("TrainConfig.checkpoint_minutes must be > 0")
        if not isinstance(self.reuse_fakes, bool):
            raise ValueError(f"TrainConfig.reuse_fakes must be True or False, got "
                             f"{self.reuse_fakes!r}")
        if self.amp not in AMP_MODES:
            raise ValueError(f"TrainConfig.amp must be one of {AMP_MODES}, got {self.amp!r}")
        if not isinstance(self.sync_bn, bool):
            raise ValueError(f"TrainConfig.sync_bn must be true or false, got {self.sync_bn!r}")
        try:
            parse_augment_policy(self.augment)
        except ValueError as err:
            raise ValueError(f"TrainConfig.augment: {err}") from None


# ProGAN's resolutions: powers of two from 4x4 (stage 0) up to 1024x1024.
MIN_RESOLUTION = 4
MAX_RESOLUTION = 1024


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _valid_resolutions() -> str:
    values = []
    r = MIN_RESOLUTION
    while r <= MAX_RESOLUTION:
        values.append(str(r))
        r *= 2
    return ", ".join(values)


def _is_valid_resolution(value: object) -> bool:
    return _is_int(value) and MIN_RESOLUTION <= value <= MAX_RESOLUTION and value & (value - 1) == 0


def block_name(resolution: int) -> str:
    """The key of a resolution's modules, e.g. ``block_name(16) == "16x16"``."""
    return f"{resolution}x{resolution}"


@dataclass(frozen=True)
class ProGANConfig:
    """Architecture and growth schedule of a ProGAN (Sec. 2 and Appendix A); where the schedule
    is after a number of images is :func:`ganlab.models.progan.phase_at`.

    Channels at resolution ``r`` are ``min(max_channels, channel_base / r) * width`` (the
    official code's ``fmap_base`` / ``fmap_max``): the defaults give the paper's Table 2, 512 up
    to 32x32 and halving above. ``width`` scales every stage alike (1/32 is a toy that trains
    on a CPU); a smaller ``channel_base`` makes the halving start at a lower resolution, so
    the cheap low-resolution stages keep more channels than the expensive high ones.
    ``images_per_fade`` / ``images_per_stable`` are the real
    images shown to D while a new resolution fades in / while it is stabilised (800k each in
    the paper). ``batch_sizes[s]`` is the minibatch size at stage ``s`` (the global one under
    torchrun: each process takes its share); if the tuple is shorter than the number of stages
    its last value repeats, extra values are ignored.
    ``mbstd_group_size = 1`` switches the minibatch standard deviation layer off (Sec. 3).
    """

    family: ClassVar[str] = "progan"
    resolution: int = 32
    channels: int = 3
    latent_dim: int = 512
    width: float = 1.0
    max_channels: int = 512
    channel_base: int = 16384
    mbstd_group_size: int = 4
    images_per_fade: int = 800_000
    images_per_stable: int = 800_000
    batch_sizes: tuple[int, ...] = (16,)

    def __post_init__(self) -> None:
        if not _is_valid_resolution(self.resolution):
            raise ValueError(
                f"ProGANConfig.resolution must be a power of two from {MIN_RESOLUTION} to "
                f"{MAX_RESOLUTION} ({_valid_resolutions()}), got {self.resolution!r}"
            )
        for name in (
            "channels",
            "latent_dim",
            "max_channels",
            "channel_base",
            "mbstd_group_size",
            "images_per_stable",
        ):
            value = getattr(self, name)
            if not _is_int(value) or value <= 0:
                raise ValueError(f"ProGANConfig.{name} must be a positive integer, got {value!r}")
        if not _is_int(self.images_per_fade) or self.images_per_fade < 0:
            raise ValueError(
                "ProGANConfig.images_per_fade must be an integer >= 0 (0 switches fade-in off), "
                f"got {self.images_per_fade!r}"
            )
        if (
            isinstance(self.width, bool)
            or not isinstance(self.width, (int, float))
            or not math.isfinite(self.width)
            or self.width <= 0
        ):
            raise ValueError(
                f"ProGANConfig.width must be a positive number (1.0 = the paper's channel "
                f"counts), got {self.width!r}"
            )
        if isinstance(self.batch_sizes, list):  # rebuilt from JSON
            object.__setattr__(self, "batch_sizes", tuple(self.batch_sizes))
        if (
            not isinstance(self.batch_sizes, tuple)
            or not self.batch_sizes
            or not all(_is_int(b) and b > 0 for b in self.batch_sizes)
        ):
            raise ValueError(
                "ProGANConfig.batch_sizes must be a non-empty tuple of positive integers "
                f"(one per stage, the last one repeats), got {self.batch_sizes!r}"
            )
        for stage in range(self.num_stages):
            batch = self.batch_size_at(stage)
            group = min(self.mbstd_group_size, batch)
            if batch % group != 0:
                res = self.resolution_of(stage)
                raise ValueError(
                    f"ProGANConfig: batch size {batch} at stage {stage} ({block_name(res)}) is "
                    f"not divisible by mbstd_group_size {self.mbstd_group_size}; the minibatch "
                    "standard deviation layer needs whole groups. Use a multiple of "
                    f"{self.mbstd_group_size} or change mbstd_group_size"
                )

    @property
    def num_stages(self) -> int:
        """Number of resolutions from 4x4 to the target: 4 -> 1, 32 -> 4, 1024 -> 9."""
        return int(math.log2(self.resolution)) - 1

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """Shape of one image at the target resolution, ``(C, H, W)``."""
        return (self.channels, self.resolution, self.resolution)

    def check_stage(self, stage: int | None) -> int:
        """Return ``stage`` as an int (``None`` -> final stage) or raise a helpful ValueError."""
        last = self.num_stages - 1
        if stage is None:
            return last
        try:
            index = operator.index(stage)
        except TypeError:
            index = None
        if isinstance(stage, bool) or index is None or not 0 <= index <= last:
            raise ValueError(
                f"stage must be an integer in [0, {last}] (0 = 4x4, {last} = "
                f"{block_name(self.resolution)}) for target resolution {self.resolution}, "
                f"got {stage!r}"
            )
        return index

    def resolution_of(self, stage: int | None) -> int:
        """Image side length at ``stage``: ``4 * 2**stage``."""
        return MIN_RESOLUTION * 2 ** self.check_stage(stage)

    def channels_at(self, resolution: int) -> int:
        """Feature maps at ``resolution``: ``min(max_channels, channel_base / res) * width``.

        At width 1 this is the paper's 512, 512, 512, 512, 256, 128, 64, 32, 16 for
        4, 8, ..., 1024; never less than 1.
        """
        if not _is_valid_resolution(resolution):
            raise ValueError(
                f"resolution must be a power of two from {MIN_RESOLUTION} to {MAX_RESOLUTION} "
                f"({_valid_resolutions()}), got {resolution!r}"
            )
        base = min(self.max_channels, self.channel_base // resolution)
        return max(1, int(round(base * self.width)))

    def batch_size_at(self, stage: int | None) -> int:
        """Minibatch size at ``stage`` (the last entry of ``batch_sizes`` repeats)."""
        stage = self.check_stage(stage)
        return self.batch_sizes[min(stage, len(self.batch_sizes) - 1)]


@dataclass(frozen=True)
class R3GANConfig:
    """R3GAN's backbone (Huang, Gokaslan, Kuleshov and Tompkin, 2024, "The GAN is dead; long
    live the GAN!", Sec. 3, Config E; built in :mod:`ganlab.models.r3gan`).

    A stage works at one resolution, 4x4 (stage 0) up to ``resolution``; G runs them upwards
    and D the same ones downwards. ``widths[s]``, ``blocks[s]`` and ``cardinality[s]`` are stage
    ``s``'s channels, its number of residual blocks and the number of groups of each block's 3x3
    convolution, in both networks; a block widens to ``expansion * widths[s]`` channels inside.
    A tuple shorter than the number of stages repeats its last value, extra values are ignored.
    The defaults are the official CIFAR-10 configuration (``train.py --preset=CIFAR10``): four
    stages of 768 channels, two blocks each, 96 groups of 16 channels, expansion 2, z of 64.
    """

    family: ClassVar[str] = "r3gan"
    resolution: int = 32
    channels: int = 3
    latent_dim: int = 64
    widths: tuple[int, ...] = (768,)
    blocks: tuple[int, ...] = (2,)
    cardinality: tuple[int, ...] = (96,)
    expansion: int = 2

    def __post_init__(self) -> None:
        if not _is_valid_resolution(self.resolution):
            raise ValueError(
                f"R3GANConfig.resolution must be a power of two from {MIN_RESOLUTION} to "
                f"{MAX_RESOLUTION} ({_valid_resolutions()}), got {self.resolution!r}"
            )
        for name in ("channels", "latent_dim", "expansion"):
            _positive_int("R3GANConfig", name, getattr(self, name))
        for name in ("widths", "blocks", "cardinality"):
            value = getattr(self, name)
            if isinstance(value, list):  # rebuilt from JSON
                value = tuple(value)
                object.__setattr__(self, name, value)
            if not isinstance(value, tuple) or not value or not all(_is_int(v) and v > 0
                                                                    for v in value):
                raise ValueError(f"R3GANConfig.{name} must be a non-empty tuple of positive "
                                 f"integers (one per stage from 4x4 up, the last one repeats), "
                                 f"got {value!r}")
        for stage in range(self.num_stages):
            inner, groups = self.width_at(stage) * self.expansion, self.cardinality_at(stage)
            if inner % groups:
                res = MIN_RESOLUTION * 2**stage
                raise ValueError(
                    f"R3GANConfig: stage {stage} ({block_name(res)}) widens to {inner} channels "
                    f"(widths {self.width_at(stage)} x expansion {self.expansion}), which "
                    f"cardinality {groups} does not divide into equal groups; choose a "
                    f"cardinality that divides {inner}")

    @property
    def num_stages(self) -> int:
        """Resolutions from 4x4 to the target: 4 -> 1, 32 -> 4."""
        return int(math.log2(self.resolution)) - 1

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.resolution, self.resolution)

    def _at(self, values: tuple[int, ...], stage: int) -> int:
        if not _is_int(stage) or not 0 <= stage < self.num_stages:
            raise ValueError(f"stage must be an integer in [0, {self.num_stages - 1}] for "
                             f"resolution {self.resolution}, got {stage!r}")
        return values[min(stage, len(values) - 1)]

    def width_at(self, stage: int) -> int:
        """Channels at ``stage`` (0 = 4x4)."""
        return self._at(self.widths, stage)

    def blocks_at(self, stage: int) -> int:
        """Residual blocks at ``stage``, in G and in D."""
        return self._at(self.blocks, stage)

    def cardinality_at(self, stage: int) -> int:
        """Groups of the 3x3 convolution in ``stage``'s blocks."""
        return self._at(self.cardinality, stage)

    @property
    def total_blocks(self) -> int:
        """Residual blocks in one network: the ``L`` of the fix-up initialisation."""
        return sum(self.blocks_at(s) for s in range(self.num_stages))


def arch_classes() -> dict[str, type]:
    """Architecture config classes by family name."""
    return {"mlp": MLPConfig, "dcgan": DCGANConfig, "progan": ProGANConfig,
            "r3gan": R3GANConfig}


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run: model name, architecture, data, loss, training settings."""

    model: str
    arch: Any
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        family = getattr(self.arch, "family", None)
        allowed = {"vanilla": ("mlp",), "dcgan": ("dcgan",), "lsgan": ("dcgan", "mlp"),
                   "progan": ("progan",), "r3gan": ("r3gan",)}[self.model]
        if family not in allowed:
            raise ValueError(
                f"model {self.model!r} needs an architecture of family {' or '.join(allowed)}, "
                f"got {type(self.arch).__name__}"
            )
        if family == "mlp" and self.arch.g_output == "tanh" and self.data.name in POINT_GEOMETRY:
            radius, std = self.data.geometry
            reach = radius + 3 * std
            if reach > 1:
                raise ValueError(
                    f"{self.data.name} with radius {radius:g} and std {std:g} reaches "
                    f"{reach:g}, outside [-1, 1] where G's tanh output cannot go; set "
                    "arch.g_output='linear' (arch__g_output='linear', --set "
                    "arch.g_output=linear)")

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with top-level fields replaced, or nested ones as ``train__steps=10``."""
        nested: dict[str, dict[str, Any]] = {}
        top: dict[str, Any] = {}
        for key, value in changes.items():
            if "__" in key:
                part, name = key.split("__", 1)
                nested.setdefault(part, {})[name] = value
            else:
                top[key] = value
        sections = ("arch", "data", "loss", "train")
        for part, values in nested.items():
            if part not in sections:
                raise ValueError(f"unknown config section {part!r} in {part}__...; valid: "
                                 f"{', '.join(sections)}")
            current = top.get(part, getattr(self, part))
            _check_fields(type(current), values, f"{part}__")
            top[part] = dataclasses.replace(current, **values)
        _check_fields(type(self), top, "")
        return dataclasses.replace(self, **top)

    def to_dict(self) -> dict[str, Any]:
        out = {"version": CONFIG_VERSION, **dataclasses.asdict(self)}
        out["arch"] = {"family": self.arch.family, **dataclasses.asdict(self.arch)}
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Rebuild a config from :meth:`to_dict`'s output; a ValueError says what is wrong."""
        if not isinstance(data, dict) or "model" not in data or "arch" not in data:
            raise ValueError("not a ganlab run config: expected an object with keys 'model' and "
                             "'arch'")
        version = data.get("version", 1)  # configs written before the field existed are version 1
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError(f"invalid config version {version!r}")
        if version > CONFIG_VERSION:
            raise ValueError(f"written by a newer ganlab (config version {version}; this one reads "
                             f"up to {CONFIG_VERSION}): upgrade ganlab to use it")
        unknown = set(data) - {"version", "model", "arch", "data", "loss", "train"}
        if unknown:
            raise ValueError(f"unknown RunConfig fields {sorted(unknown)}; valid: model, arch, "
                             "data, loss, train")
        for part in ("arch", "data", "loss", "train"):
            if part in data and not isinstance(data[part], dict):
                raise ValueError(f"config field {part!r} must be an object, got "
                                 f"{type(data[part]).__name__}")
        arch = dict(data["arch"])
        family = arch.pop("family", None)
        classes = arch_classes()
        if not isinstance(family, str) or family not in classes:
            raise ValueError(f"unknown architecture family {family!r} in config; valid: "
                             f"{', '.join(classes)}")
        return cls(
            model=data["model"],
            arch=_build(classes[family], arch),
            data=_build(DataConfig, data.get("data", {})),
            loss=_build(LossConfig, data.get("loss", {})),
            train=_build(TrainConfig, data.get("train", {})),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> RunConfig:
        """Parse :meth:`to_json`'s output; a ValueError (one line) says what is wrong."""
        if not isinstance(text, (str, bytes, bytearray)):
            raise TypeError(f"RunConfig.from_json expects the JSON text, got "
                            f"{type(text).__name__}")
        try:
            data = json.loads(text)
        except ValueError as err:  # JSONDecodeError, or bytes that are not UTF-8
            raise ValueError(f"not valid JSON ({err})") from None
        return cls.from_dict(data)


def config_changes(old: RunConfig, new: RunConfig) -> list[tuple[str, Any, Any]]:
    """``(field, old, new)`` for every field that differs, e.g. ``("train.seed", 0, 3)``."""
    a, b = old.to_dict(), new.to_dict()
    changes = []
    for part in ("model", "arch", "data", "loss", "train"):
        if not isinstance(a[part], dict):
            if a[part] != b[part]:
                changes.append((part, a[part], b[part]))
            continue
        for key in sorted(set(a[part]) | set(b[part])):
            if a[part].get(key) != b[part].get(key):
                changes.append((f"{part}.{key}", a[part].get(key), b[part].get(key)))
    return changes


def _check_fields(cls: type, values: dict[str, Any], prefix: str) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {', '.join(prefix + u for u in unknown)}"
                         f"; valid: {', '.join(prefix + n for n in names)}")


def _build(cls: type, values: dict[str, Any]) -> Any:
    """Rebuild a frozen dataclass from JSON values (lists back to tuples; unknown keys rejected)."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}; valid: {sorted(names)}")
    kwargs = {}
    for key, value in values.items():
        if isinstance(value, list) and "tuple" in str(hints.get(key, "")):
            value = tuple(value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as err:  # a value of the wrong kind (a number where a list belongs, ...)
        raise ValueError(f"invalid {cls.__name__} values {kwargs}: {err}") from None
