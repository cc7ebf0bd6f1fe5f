"""Vanilla GAN networks (Goodfellow et al., 2014; seed 003): multilayer perceptrons.

They flatten images to vectors, so they work on any image size and on 2-D points alike.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganlab.config import MLPConfig


def _check_latent(z: torch.Tensor, latent_dim: int) -> None:
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"expected z of shape (B, {latent_dim}), got {tuple(z.shape)}")


class MLPGenerator(nn.Module):
    """z (B, latent) -> Linear/LeakyReLU stack -> Linear [-> tanh] -> (B, *data_shape).

    The tanh is left out with ``g_output="linear"`` (points outside [-1, 1]).
    """

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        self.latent_dim = config.latent_dim
        layers: list[nn.Module] = []
        width = config.latent_dim
        for hidden in config.g_hidden:
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(config.negative_slope)]
            width = hidden
        layers.append(nn.Linear(width, math.prod(config.data_shape)))
        if config.g_output == "tanh":
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _check_latent(z, self.latent_dim)
        return self.net(z).view(z.shape[0], *self.config.data_shape)  # (B, *data_shape)


class MLPDiscriminator(nn.Module):
    """x (B, *data_shape) -> flatten -> [Linear, LeakyReLU, Dropout]* -> Linear -> logits (B,)."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(config.data_shape)
        for hidden in config.d_hidden:
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(config.negative_slope)]
            if config.d_dropout > 0:
                layers.append(nn.Dropout(config.d_dropout))
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(self.config.data_shape)
        if tuple(x.shape[1:]) != shape:
            raise ValueError(f"expected inputs of shape (B, {', '.join(map(str, shape))}), "
                             f"got {tuple(x.shape)}")
        return self.net(x).view(-1)  # (B,) logits
