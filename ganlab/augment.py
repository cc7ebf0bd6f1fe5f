"""Differentiable augmentation of D's inputs (DiffAugment, Zhao et al., 2020).

Why: with a few thousand training images (``mnist-5k``, the shapes set), D learns the training
set by heart within a few thousand steps; its outputs on real and fake images separate
completely and G's gradient fades (the Trainer's "D is winning outright" warning). DiffAugment
shows D every image, real *and* generated, through the same random, differentiable transforms,
in D's step and in G's: D can no longer memorise exact pixels, and since the transform is
differentiable G still gets a gradient through it. Because fakes are augmented exactly like the
real images, G is not taught to produce augmented images (unlike augmenting only the real data).

Policies (comma-separated, applied in this order): ``translation`` shifts each image by a
random whole number of pixels, up to 1/8 of its size, filling with zeros; ``cutout`` zeroes a
random square of half the image's side (clipped at the borders); ``color`` shifts brightness,
scales saturation and contrast. The official code is mit-han-lab/data-efficient-gans
(``DiffAugment_pytorch.py``); this is a re-implementation with the same transforms and ranges.
"""

from __future__ import annotations

import torch

from ganlab.config import AUGMENT_POLICIES as POLICIES
from ganlab.config import parse_augment_policy as parse_policy

__all__ = ["POLICIES", "color", "cutout", "diff_augment", "parse_policy", "translation"]


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image of ``x`` (N, C, H, W) by its own random (dy, dx), |dy| <= ratio * H and
    |dx| <= ratio * W whole pixels; pixels shifted in from outside are 0."""
    n, _, h, w = x.shape
    max_y, max_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-max_y, max_y + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-max_x, max_x + 1, (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - dy  # source row of each output row
    cols = torch.arange(w, device=x.device).view(1, 1, w) - dx
    inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).unsqueeze(1)  # (N, 1, H, W)
    index = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).view(n, 1, h * w)
    moved = x.reshape(n, x.shape[1], h * w).gather(2, index.expand(-1, x.shape[1], -1))
    return moved.view_as(x) * inside.to(x.dtype)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one random square of side ``ratio`` * the image's per image of ``x`` (N, C, H, W);
    its centre is uniform over the image, so near a border part of it falls outside."""
    n, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - size_y % 2), (n, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - size_x % 2), (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    top, left = cy - size_y // 2, cx - size_x // 2
    hole = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
    return x * (~hole).unsqueeze(1).to(x.dtype)


def color(x: torch.Tensor) -> torch.Tensor:
    """Per image: brightness + U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5)."""
    n = x.shape[0]
    shape = (n, 1, 1, 1)
    x = x + (torch.rand(shape, dtype=x.dtype, device=x.device) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(shape, dtype=x.dtype, device=x.device) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(shape, dtype=x.dtype, device=x.device) + 0.5) + mean


_TRANSFORMS = {"translation": translation, "cutout": cutout, "color": color}


def diff_augment(x: torch.Tensor, policy: str | tuple[str, ...]) -> torch.Tensor:
    """``x`` (N, C, H, W) through each transform of ``policy`` in order (see the module's
    docstring); the identity for an empty policy. Differentiable in ``x``; the randomness
    comes from torch's global generator (seeded by the Trainer, saved in its checkpoints)."""
    parts = parse_policy(policy) if isinstance(policy, str) else policy
    if parts and x.ndim != 4:
        raise ValueError(f"augmentation works on images (N, C, H, W), got shape {tuple(x.shape)}; "
                         "set train.augment='' for 2-D point data")
    for name in parts:
        x = _TRANSFORMS[name](x)
    return x
