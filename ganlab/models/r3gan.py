"""R3GAN's backbone (Huang, Gokaslan, Kuleshov and Tompkin, 2024, "The GAN is dead; long live
the GAN! A Modern GAN Baseline", Sec. 3 and Fig. 2; official code brownvc/R3GAN,
``R3GAN/Networks.py``).

The paper strips StyleGAN2 down to a plain G and D (Sec. 3, Config B) and, once the regularised
relativistic loss keeps training stable (``ganlab.losses``, Config C), modernises them into
ResNeXt-style networks (Configs D and E). What is left, each visible below:

- residual blocks ``x + 1x1 conv -> LeakyReLU(0.2) -> grouped 3x3 conv -> LeakyReLU -> 1x1 conv``,
  an inverted bottleneck ``expansion`` times wider inside (:class:`ResidualBlock`);
- **no normalization** of any kind: the fix-up initialisation (Zhang et al., 2019) keeps the
  signal's scale instead. The last convolution of every residual branch starts at zero, so every
  block is the identity at initialisation, and the other two are drawn with He's variance scaled
  by ``L ** (-1/4)`` for ``L`` blocks in the network (:func:`msr_init_`);
- the resolution changes only in transition layers between stages, by the bilinear interpolation
  filter (:class:`Upsample2x`, :class:`Downsample2x`), with a 1x1 convolution where the width
  changes;
- G starts from a learned 4x4 basis scaled by a linear map of z (:class:`GenerativeBasis`), and
  D ends with the mirror image, a 4x4 depthwise convolution and a linear map to one raw logit
  (:class:`DiscriminativeBasis`). G's output is linear (no tanh), as in the official code.

Stages are named by their resolution, as in the other ganlab models: ``G.stages["16x16"]``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.config import MIN_RESOLUTION, R3GANConfig, block_name

__all__ = [
    "DiscriminativeBasis",
    "Downsample2x",
    "GenerativeBasis",
    "R3GANConfig",
    "R3GANDiscriminator",
    "R3GANGenerator",
    "ResidualBlock",
    "Upsample2x",
    "msr_init_",
]

NEGATIVE_SLOPE = 0.2
# He et al.'s gain for LeakyReLU(0.2): the official BiasedActivation.Gain.
ACTIVATION_GAIN = math.sqrt(2 / (1 + NEGATIVE_SLOPE**2))
LAYERS_PER_BRANCH = 3  # the m of the fix-up scaling L ** (-1 / (2m - 2))


def msr_init_(weight: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """Weights ~ N(0, gain^2 / fan_in) (He et al., 2015; the official ``MSRInitializer``)."""
    fan_in = weight[0].numel()  # in_channels / groups * kernel height * kernel width
    with torch.no_grad():
        return weight.normal_(0.0, gain / math.sqrt(fan_in))


class ResidualBlock(nn.Module):
    """``x + project(act(conv3x3(act(expand(x)))))``, the same width in and out (Config E).

    ``expand`` and ``conv`` carry biases (the official code adds them inside its activation,
    which is the same); ``project`` has none and starts at zero, so the block starts as the
    identity. ``expand`` and ``conv`` are scaled by ``total_blocks ** (-1/4)``: with ``L`` such
    branches summed into the trunk, the output's variance stays bounded as ``L`` grows
    (fix-up, Zhang et al., 2019, as R3GAN's Sec. 3 initialises).
    """

    def __init__(self, width: int, cardinality: int, expansion: int, total_blocks: int) -> None:
        super().__init__()
        inner = width * expansion
        if inner % cardinality:
            raise ValueError(f"a block of width {width} x expansion {expansion} = {inner} "
                             f"channels cannot form {cardinality} equal groups")
        self.expand = nn.Conv2d(width, inner, 1)
        self.conv = nn.Conv2d(inner, inner, 3, padding=1, groups=cardinality)
        self.project = nn.Conv2d(inner, width, 1, bias=False)
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE)
        gain = ACTIVATION_GAIN * total_blocks ** (-1 / (2 * LAYERS_PER_BRANCH - 2))
        for conv in (self.expand, self.conv):
            msr_init_(conv.weight, gain)
            nn.init.zeros_(conv.bias)
        nn.init.zeros_(self.project.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.expand(x))  # (B, E*C, H, W)
        y = self.act(self.conv(y))  # (B, E*C, H, W), mixed within each of the groups
        return x + self.project(y)  # (B, C, H, W)


def _bilinear_kernel() -> torch.Tensor:
    """The 4x4 filter ``outer([1, 3, 3, 1]) / 64``: bilinear interpolation by a factor of 2 (the
    official ``CreateLowpassKernel([1, 2, 1])``, i.e. ``[1, 2, 1]`` convolved with ``[1, 1]``)."""
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    kernel = torch.outer(taps, taps)
    return kernel / kernel.sum()  # (4, 4)


class Upsample2x(nn.Module):
    """(B, C, H, W) -> (B, C, 2H, 2W) by bilinear interpolation, per channel.

    A fixed depthwise transposed convolution, as the official ``InterpolativeUpsampler`` (zeros
    beyond the border), rather than ``F.interpolate``: every op here has a double backward, which
    the R1/R2 penalties' gradient of a gradient needs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("kernel", 4 * _bilinear_kernel(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        weight = self.kernel.expand(c, 1, 4, 4).contiguous()
        # H_out = (H - 1) * 2 - 2 * 1 + 4 = 2H
        return F.conv_transpose2d(x, weight, stride=2, padding=1, groups=c)


class Downsample2x(nn.Module):
    """(B, C, H, W) -> (B, C, H/2, W/2): the same bilinear filter, strided (the official
    ``InterpolativeDownsampler``), so D sees no aliasing that G's upsampling would not make."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("kernel", _bilinear_kernel(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        weight = self.kernel.expand(c, 1, 4, 4).contiguous()
        # H_out = (H + 2 * 1 - 4) / 2 + 1 = H / 2
        return F.conv2d(x, weight, stride=2, padding=1, groups=c)


class GenerativeBasis(nn.Module):
    """z (B, latent) -> (B, C, 4, 4): a learned 4x4 pattern per channel, each scaled by one
    coordinate of a linear map of z (the official ``GenerativeBasis``; G's first layer)."""

    def __init__(self, latent_dim: int, width: int) -> None:
        super().__init__()
        self.basis = nn.Parameter(torch.randn(width, 4, 4))
        self.linear = nn.Linear(latent_dim, width, bias=False)
        msr_init_(self.linear.weight)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.basis[None] * self.linear(z)[:, :, None, None]  # (B, C, 4, 4)


class DiscriminativeBasis(nn.Module):
    """(B, C, 4, 4) -> (B,): a 4x4 depthwise convolution (one pattern per channel) and a linear
    map to one raw logit (the official ``DiscriminativeBasis``; D's last layer, G's first in
    reverse)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.basis = nn.Conv2d(width, width, 4, groups=width, bias=False)
        self.linear = nn.Linear(width, 1, bias=False)
        msr_init_(self.basis.weight)
        msr_init_(self.linear.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.basis(x).flatten(1)).view(-1)  # (B, C, 1, 1) -> (B, C) -> (B,)


def _blocks(config: R3GANConfig, stage: int) -> list[nn.Module]:
    return [ResidualBlock(config.width_at(stage), config.cardinality_at(stage), config.expansion,
                          config.total_blocks) for _ in range(config.blocks_at(stage))]


def _pointwise(c_in: int, c_out: int) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, 1, bias=False)
    msr_init_(conv.weight)
    return conv


class R3GANGenerator(nn.Module):
    """z (B, latent) -> 4x4 basis -> stages, each 2x up and residual blocks -> 1x1 conv to RGB.

    ``stages["4x4"]`` is the basis and its blocks; every later stage starts with a transition:
    a 1x1 convolution where the width changes, then bilinear upsampling (official
    ``UpsampleLayer``). ``to_rgb`` is linear: samples may leave [-1, 1] slightly.
    """

    def __init__(self, config: R3GANConfig) -> None:
        super().__init__()
        self.config = config
        self.latent_dim = config.latent_dim
        stages: dict[str, nn.Module] = {}
        for s in range(config.num_stages):
            width = config.width_at(s)
            if s == 0:
                transition: list[nn.Module] = [GenerativeBasis(config.latent_dim, width)]
            else:
                previous = config.width_at(s - 1)
                transition = [_pointwise(previous, width)] if previous != width else []
                transition.append(Upsample2x())
            stages[block_name(MIN_RESOLUTION * 2**s)] = nn.Sequential(*transition,
                                                                      *_blocks(config, s))
        self.stages = nn.ModuleDict(stages)
        self.to_rgb = _pointwise(config.width_at(config.num_stages - 1), config.channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected z of shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        x = z
        for stage in self.stages.values():  # (B, C_s, 4 * 2**s, 4 * 2**s)
            x = stage(x)
        return self.to_rgb(x)  # (B, channels, R, R)


class R3GANDiscriminator(nn.Module):
    """x (B, C, R, R) -> 1x1 conv -> stages, each residual blocks then 2x down -> 4x4 basis ->
    one raw logit per image, shape (B,).

    The mirror image of G: ``stages["32x32"]`` runs first; each stage ends with a transition,
    bilinear downsampling then a 1x1 convolution where the width changes (official
    ``DownsampleLayer``), and ``stages["4x4"]`` ends with the basis.
    """

    def __init__(self, config: R3GANConfig) -> None:
        super().__init__()
        self.config = config
        last = config.num_stages - 1
        self.from_rgb = _pointwise(config.channels, config.width_at(last))
        stages: dict[str, nn.Module] = {}
        for s in range(last, -1, -1):
            width = config.width_at(s)
            if s == 0:
                transition: list[nn.Module] = [DiscriminativeBasis(width)]
            else:
                following = config.width_at(s - 1)
                transition = [Downsample2x()]
                if following != width:
                    transition.append(_pointwise(width, following))
            stages[block_name(MIN_RESOLUTION * 2**s)] = nn.Sequential(*_blocks(config, s),
                                                                      *transition)
        self.stages = nn.ModuleDict(stages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        if x.ndim != 4 or tuple(x.shape[1:]) != c.image_shape:
            raise ValueError(
                f"expected images of shape (B, {c.channels}, {c.resolution}, {c.resolution}) "
                f"for this R3GAN, got {tuple(x.shape)}"
            )
        h = self.from_rgb(x)  # (B, C_last, R, R)
        for stage in self.stages.values():  # down to (B, C_0, 4, 4), then the basis: (B,)
            h = stage(h)
        return h
