"""Building blocks of ProGAN (Karras et al., 2018, "Progressive Growing of GANs").

Three small ideas from the paper make deep GANs trainable without batch normalisation:

- equalized learning rate (Sec. 4.1): :class:`EqualizedLinear`, :class:`EqualizedConv2d`;
- pixelwise feature vector normalisation in G (Sec. 4.2): :class:`PixelNorm`;
- minibatch standard deviation in D (Sec. 3): :class:`MinibatchStdDev`.

They follow the official implementation (tkarras/progressive_growing_of_gans, ``networks.py``)
and are kept apart from the networks so that a notebook can study each on its own.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["EqualizedConv2d", "EqualizedLinear", "MinibatchStdDev", "PixelNorm"]

SQRT2 = math.sqrt(2.0)


def _check_positive(owner: str, **values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")


class EqualizedLinear(nn.Module):
    """Fully connected layer with equalized learning rate (Sec. 4.1).

    Why: Adam normalises each update by the gradient's scale, so with He initialisation a
    parameter's effective learning rate depends on its layer's fan-in. Storing weights as N(0, 1)
    and multiplying by ``scale = gain / sqrt(fan_in)`` at run time gives every weight the same
    dynamic range, hence the same learning speed. The bias is zero-initialised and not scaled.
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, gain: float = SQRT2
    ) -> None:
        super().__init__()
        _check_positive("EqualizedLinear", in_features=in_features, out_features=out_features)
        self.in_features = in_features
        self.out_features = out_features
        self.gain = float(gain)
        self.scale = self.gain / math.sqrt(in_features)  # He constant, applied every forward
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def effective_weight(self) -> torch.Tensor:
        """The weight the layer actually applies: stored N(0, 1) weight times ``scale``."""
        return self.weight * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.effective_weight(), self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, gain={self.gain:.4g}, scale={self.scale:.4g}"
        )


class EqualizedConv2d(nn.Module):
    """2-D convolution with equalized learning rate (Sec. 4.1).

    Same idea as :class:`EqualizedLinear` with ``fan_in = in_channels * kernel_size**2``. The
    weight, not the input, is scaled, so ``effective_weight()`` is exactly what the convolution
    uses. ``padding=None`` means "same" padding (``kernel_size // 2``) for odd kernels.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        padding: int | None = None,
        bias: bool = True,
        gain: float = SQRT2,
    ) -> None:
        super().__init__()
        _check_positive(
            "EqualizedConv2d",
            in_channels=in_channels,
            out_channels=out_channels,
            kernel_size=kernel_size,
        )
        if padding is None:
            padding = kernel_size // 2
        if padding < 0:
            raise ValueError(f"EqualizedConv2d: padding must be >= 0, got {padding}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.padding = padding
        self.gain = float(gain)
        fan_in = in_channels * kernel_size * kernel_size
        self.scale = self.gain / math.sqrt(fan_in)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def effective_weight(self) -> torch.Tensor:
        """The kernel the layer actually applies: stored N(0, 1) weight times ``scale``."""
        return self.weight * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.effective_weight(), self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"padding={self.padding}, bias={self.bias is not None}, gain={self.gain:.4g}, "
            f"scale={self.scale:.4g}"
        )


class PixelNorm(nn.Module):
    """Pixelwise feature vector normalisation (Sec. 4.2, Eq. in the paper).

    ``b = a / sqrt(mean_j(a_j**2) + eps)`` over the channel dimension, at every pixel.
    Why: it keeps G's signal magnitudes from spiralling out of control when G and D compete,
    without batch statistics (which couple the samples of a minibatch).
    Works on ``(B, C)`` latents and ``(B, C, H, W)`` feature maps.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        if not eps > 0:
            raise ValueError(f"PixelNorm: eps must be > 0, got {eps}")
        self.eps = float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise ValueError(
                f"PixelNorm expects (B, C) or (B, C, H, W) tensors, got shape {tuple(x.shape)}"
            )
        return x / torch.sqrt(x.square().mean(dim=1, keepdim=True) + self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps:g}"


class MinibatchStdDev(nn.Module):
    """Minibatch standard deviation layer (Sec. 3), appended near the end of D.

    Why: a D that sees one sample at a time cannot tell that G's samples lack variety. This
    layer splits the batch into groups of ``G = min(group_size, B)`` samples, takes each
    feature's standard deviation over the group, averages it to one number per group and
    appends that number as an extra constant feature map, so D can compare the variation of
    real and generated batches. ``(B, C, H, W) -> (B, C + 1, H, W)``.

    Grouping follows the official code (``x.reshape(G, -1, C, H, W)``): sample ``i`` belongs to
    group ``i % (B // G)``.
    """

    def __init__(self, group_size: int = 4, eps: float = 1e-8) -> None:
        super().__init__()
        _check_positive("MinibatchStdDev", group_size=group_size)
        self.group_size = group_size
        self.eps = float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(
                f"MinibatchStdDev expects feature maps of shape (B, C, H, W), got {tuple(x.shape)}"
            )
        B, C, H, W = x.shape
        G = min(self.group_size, B)
        if B % G != 0:
            raise ValueError(
                f"MinibatchStdDev: batch size {B} is not divisible by the group size {G}; "
                f"use a batch size that is a multiple of {G} (or smaller than {G}), "
                "or change the group size (ProGANConfig.mbstd_group_size)"
            )
        # Statistics in at least float32 (the official code does the same under fp16).
        y = x.to(torch.promote_types(x.dtype, torch.float32))
        y = y.reshape(G, -1, C, H, W)  # (G, M, C, H, W), M = B // G groups
        y = y - y.mean(dim=0, keepdim=True)
        y = torch.sqrt(y.square().mean(dim=0) + self.eps)  # (M, C, H, W) population std
        y = y.mean(dim=(1, 2, 3))  # (M,) one number per group
        y = y.to(x.dtype).reshape(-1, 1, 1, 1).repeat(G, 1, H, W)  # (B, 1, H, W)
        return torch.cat([x, y], dim=1)  # (B, C + 1, H, W)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"
