"""DCGAN networks (Radford et al., 2016, Sec. 3; seed 001).

The paper's guidelines, each visible below: strided convolutions instead of pooling in D,
transposed convolutions in G, BatchNorm everywhere except G's output and D's input, ReLU in G with
tanh at the output, LeakyReLU(0.2) in D, and weights drawn from N(0, 0.02). ``upsample="resize"``
swaps G's strided transposed convolutions for resize convolutions
(ganlab.fieldguide's checkerboard case).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganlab.config import DCGANConfig


def dcgan_init_(module: nn.Module) -> None:
    """The paper's init: conv weights ~ N(0, 0.02); BatchNorm gamma ~ N(1, 0.02), beta = 0;
    conv biases (present only without batch norm) 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:  # only where batch norm is left out
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _num_upsamplings(resolution: int) -> int:
    return int(math.log2(resolution // 4))  # 16 -> 2, 32 -> 3, 64 -> 4


def _normalized(conv: nn.Module, width: int, bn: bool, act: nn.Module) -> list[nn.Module]:
    """conv -> BatchNorm -> act, or conv (with its bias) -> act without batch normalization."""
    return [conv, nn.BatchNorm2d(width), act] if bn else [conv, act]


def _transposed_conv(c_in: int, c_out: int, bias: bool) -> nn.Module:
    """The paper's upsampling: H_out = (H_in - 1) * 2 - 2 * 1 + 4 = 2 * H_in. Each output pixel
    is made by one of four 2x2 sub-kernels, chosen by its (row, column) parity: the seed of the
    checkerboard pattern (Odena et al., 2016)."""
    return nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)


class ResizeConv2d(nn.Sequential):
    """Nearest-neighbour 2x upsampling, then a 3x3 convolution (Odena et al., 2016, Sec.
    "Better Upsampling"): every output pixel sees the same kernel, so no pixel parity is
    favoured. (B, C_in, H, W) -> (B, C_out, 2H, 2W)."""

    def __init__(self, c_in: int, c_out: int, bias: bool) -> None:
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"),
                         nn.Conv2d(c_in, c_out, 3, 1, 1, bias=bias))


class DCGANGenerator(nn.Module):
    """z (B, latent) -> 4x4 via a 4x4 transposed conv -> doubling transposed convs (or resize
    convolutions, ``upsample="resize"``) -> tanh."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        self.latent_dim = config.latent_dim
        n = _num_upsamplings(config.resolution)
        width = config.g_width * 2 ** (n - 1)  # 512 at 4x4 for 64x64 with g_width 64
        bn = config.batch_norm in ("both", "g")
        # (B, latent, 1, 1) -> (B, width, 4, 4): H_out = (1 - 1) * 1 - 2 * 0 + 4 = 4
        layers = _normalized(nn.ConvTranspose2d(config.latent_dim, width, 4, 1, 0, bias=not bn),
                             width, bn, nn.ReLU(inplace=True))
        up = ResizeConv2d if config.upsample == "resize" else _transposed_conv
        for _ in range(n - 1):
            layers += _normalized(up(width, width // 2, bias=not bn), width // 2, bn,
                                  nn.ReLU(inplace=True))
            width //= 2
        layers += [up(width, config.channels, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected z of shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        return self.net(z[:, :, None, None])  # (B, C, R, R)


class DCGANDiscriminator(nn.Module):
    """x (B, C, R, R) -> halving strided convs -> 4x4 conv to one logit per image, shape (B,)."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        n = _num_upsamplings(config.resolution)
        width = config.d_width
        bn = config.batch_norm in ("both", "d")
        layers: list[nn.Module] = [
            nn.Conv2d(config.channels, width, 4, 2, 1, bias=not bn),  # no BatchNorm on D's input
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for _ in range(n - 1):
            layers += _normalized(nn.Conv2d(width, width * 2, 4, 2, 1, bias=not bn), width * 2,
                                  bn, nn.LeakyReLU(0.2, inplace=True))
            width *= 2
        layers.append(nn.Conv2d(width, 1, 4, 1, 0, bias=False))  # (B, 1, 1, 1): no sigmoid
        self.net = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        if x.ndim != 4 or tuple(x.shape[1:]) != (c.channels, c.resolution, c.resolution):
            raise ValueError(
                f"expected images of shape (B, {c.channels}, {c.resolution}, {c.resolution}) "
                f"for this DCGAN, got {tuple(x.shape)}"
            )
        return self.net(x).view(-1)  # (B,) logits
