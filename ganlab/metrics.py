"""Sample-quality metrics that need no pretrained network.

Mode coverage on the 2-D Gaussian mixtures, measured as VEEGAN (Srivastava et al., 2017) and
PacGAN (Lin et al., 2018) report it: a sample is *high quality* if it lies within 3 standard
deviations of its nearest mode centre; a mode is *captured* if it holds at least
``min_fraction`` of the expected share of high-quality samples (PacGAN counts a mode when it
receives at least 20 samples out of 2,500; the default here is that same share).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganlab.data import GaussianMixture


@dataclass(frozen=True)
class ModeCoverage:
    modes_captured: int
    num_modes: int
    high_quality: float  # fraction of samples within 3 std of a mode
    counts: tuple[int, ...]  # high-quality samples per mode

    def __str__(self) -> str:
        return (f"{self.modes_captured}/{self.num_modes} modes captured, "
                f"{100 * self.high_quality:.1f}% high-quality samples")


def mode_coverage(samples: torch.Tensor, mixture: GaussianMixture, num_std: float = 3.0,
                  min_count: int | None = None) -> ModeCoverage:
    """Modes captured and fraction of high-quality samples for 2-D ``samples`` (N, 2).

    ``min_count`` is the number of high-quality samples a mode needs to count as captured;
    by default PacGAN's 20 per 2,500 samples, scaled to N (at least 1).
    """
    if samples.ndim != 2 or samples.shape[1] != mixture.centers.shape[1]:
        raise ValueError(f"expected samples of shape (N, {mixture.centers.shape[1]}), "
                         f"got {tuple(samples.shape)}")
    x = samples.detach().float().cpu()
    centers = mixture.centers.float().cpu()
    dist = torch.cdist(x, centers)  # (N, M)
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist <= num_std * mixture.std
    counts = torch.bincount(nearest[good], minlength=centers.shape[0])
    if min_count is None:
        min_count = max(1, round(20 * x.shape[0] / 2500))
    captured = int((counts >= min_count).sum())
    return ModeCoverage(captured, centers.shape[0], float(good.float().mean()),
                        tuple(int(c) for c in counts))
