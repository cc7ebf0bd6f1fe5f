"""ganlab: the package behind the GAN course.

Vanilla GAN, DCGAN, LSGAN and ProGAN, one trainer, offline data sets, metrics and widgets.
``import ganlab`` is deliberately cheap: it imports neither torch nor matplotlib; submodules
(``ganlab.models``, ``ganlab.data``, ``ganlab.training``, ...) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from ganlab.profiles import PROFILES, choose_profile, profile

__version__ = "0.1.0"

_SUBMODULES = (
    "checkpoint",
    "cli",
    "config",
    "course",
    "data",
    "doctor",
    "dynamics",
    "evaluation",
    "exercises",
    "fieldguide",
    "latent",
    "layers",
    "losses",
    "metrics",
    "models",
    "presets",
    "pretrained",
    "training",
    "viz",
    "widgets",
)

__all__ = ["PROFILES", "choose_profile", "profile", "__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"ganlab.{name}")
    raise AttributeError(f"module 'ganlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
