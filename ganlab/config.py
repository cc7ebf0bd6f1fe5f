"""Run configuration: frozen dataclasses that say everything needed to rebuild a run.

A :class:`RunConfig` bundles the architecture (``arch``), the data, the loss and the training
settings. It is saved as ``config.json`` beside every checkpoint and inside it, so
``ganlab.training.load_run(run_dir)`` needs nothing else (nanoGPT's habit).
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

MODELS = ("vanilla", "dcgan", "lsgan", "progan")
LOSSES = ("minimax", "nonsaturating", "least_squares", "wgan_gp")
AMP_MODES = ("auto", "off", "bf16", "fp16")
CONFIG_VERSION = 1  # written as "version" in config.json; a newer one is refused, not guessed at


def _positive_int(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}.{name} must be a positive integer, got {value!r}")


def _non_negative_int(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{owner}.{name} must be an integer >= 0, got {value!r}")


@dataclass(frozen=True)
class MLPConfig:
    """Vanilla GAN (Goodfellow et al., 2014): fully connected G and D, on flat images or 2-D points.

    ``data_shape`` is ``(C, H, W)`` for images or ``(2,)`` for points. The generator ends in tanh,
    because every ganlab data set lives in [-1, 1].
    """

    family: ClassVar[str] = "mlp"
    data_shape: tuple[int, ...] = (1, 16, 16)
    latent_dim: int = 100
    g_hidden: tuple[int, ...] = (128,)
    d_hidden: tuple[int, ...] = (128,)
    d_dropout: float = 0.5
    negative_slope: float = 0.2

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

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.data_shape)


@dataclass(frozen=True)
class DCGANConfig:
    """DCGAN (Radford et al., 2016): all-convolutional G and D following the paper's guidelines.

    Widths are the paper's ``ngf``/``ndf`` (64 at 64x64); small values keep CPU runs quick.
    """

    family: ClassVar[str] = "dcgan"
    resolutions: ClassVar[tuple[int, ...]] = (16, 32, 64)
    resolution: int = 64
    channels: int = 3
    latent_dim: int = 100
    g_width: int = 64
    d_width: int = 64

    def __post_init__(self) -> None:
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
    """Which data set to train on: a name from :data:`ganlab.data.DATASETS` or ``folder:PATH``."""

    name: str = "digits"
    resolution: int | None = None
    size: int | None = None
    root: str = "data"
    download: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        from ganlab.data import check_dataset_name

        check_dataset_name(self.name)
        if self.resolution is not None:
            _positive_int("DataConfig", "resolution", self.resolution)
        if self.size is not None:
            _positive_int("DataConfig", "size", self.size)


@dataclass(frozen=True)
class LossConfig:
    """The GAN objective. ``a, b, c`` are LSGAN's targets; ``gp_weight``/``drift`` are WGAN-GP's."""

    name: str = "nonsaturating"
    a: float = 0.0
    b: float = 1.0
    c: float = 1.0
    gp_weight: float = 10.0
    drift: float = 0.001

    def __post_init__(self) -> None:
        if self.name not in LOSSES:
            raise ValueError(f"unknown loss {self.name!r}; choose one of {', '.join(LOSSES)}")
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

    def __post_init__(self) -> None:
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


def arch_classes() -> dict[str, type]:
    """Architecture config classes by family name (ProGAN's is imported lazily)."""
    from ganlab.models.progan import ProGANConfig

    return {"mlp": MLPConfig, "dcgan": DCGANConfig, "progan": ProGANConfig}


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
                   "progan": ("progan",)}[self.model]
        if family not in allowed:
            raise ValueError(
                f"model {self.model!r} needs an architecture of family {' or '.join(allowed)}, "
                f"got {type(self.arch).__name__}"
            )

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
