"""Generators and discriminators. Discriminators always return raw logits of shape ``(B,)``.

:func:`build` turns an architecture config into a ``(G, D)`` pair; LSGAN is not here because it is
an MLP or a DCGAN trained with a different loss (``ganlab.losses``).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ganlab.config import DCGANConfig, MLPConfig
from ganlab.models.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init_
from ganlab.models.mlp import MLPDiscriminator, MLPGenerator

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "build",
    "build_generator",
    "build_discriminator",
    "dcgan_init_",
]


def build_generator(arch: Any) -> nn.Module:
    if isinstance(arch, MLPConfig):
        return MLPGenerator(arch)
    if isinstance(arch, DCGANConfig):
        return DCGANGenerator(arch)
    if getattr(arch, "family", None) == "progan":
        from ganlab.models.progan import ProGANGenerator

        return ProGANGenerator(arch)
    if getattr(arch, "family", None) == "r3gan":
        from ganlab.models.r3gan import R3GANGenerator

        return R3GANGenerator(arch)
    raise ValueError(f"no generator for architecture config {type(arch).__name__}")


def build_discriminator(arch: Any) -> nn.Module:
    if isinstance(arch, MLPConfig):
        return MLPDiscriminator(arch)
    if isinstance(arch, DCGANConfig):
        return DCGANDiscriminator(arch)
    if getattr(arch, "family", None) == "progan":
        from ganlab.models.progan import ProGANDiscriminator

        return ProGANDiscriminator(arch)
    if getattr(arch, "family", None) == "r3gan":
        from ganlab.models.r3gan import R3GANDiscriminator

        return R3GANDiscriminator(arch)
    raise ValueError(f"no discriminator for architecture config {type(arch).__name__}")


def build(arch: Any) -> tuple[nn.Module, nn.Module]:
    """``(G, D)`` for an architecture config (MLPConfig, DCGANConfig, ProGANConfig or
    R3GANConfig)."""
    return build_generator(arch), build_discriminator(arch)
