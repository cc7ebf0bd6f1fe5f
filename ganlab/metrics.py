"""Sample-quality metrics that need no pretrained network.

Shape recognition on the ``shapes`` data set (:func:`shape_recognition`): the share of samples
that a small classifier, trained here on real shapes, calls a clean circle, square or triangle.

Mode coverage on the 2-D Gaussian mixtures, measured as VEEGAN (Srivastava et al., 2017) and
PacGAN (Lin et al., 2018) report it: a sample is *high quality* if it lies within 3 standard
deviations of its nearest mode centre; a mode is *captured* if it holds at least
``min_fraction`` of the expected share of high-quality samples (PacGAN counts a mode when it
receives at least 20 samples out of 2,500; the default here is that same share).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

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


# ---------------------------------------------------------------- shape recognition
@dataclass(frozen=True)
class ShapeRecognition:
    recognised: float  # share of samples called one clean shape with probability >= threshold
    counts: dict[str, int]  # recognised samples per shape
    rejected: float  # share whose most likely class is "not a clean shape"
    num_samples: int

    def __str__(self) -> str:
        per = ", ".join(f"{n} {k}s" for k, n in self.counts.items())
        return (f"{100 * self.recognised:.1f}% recognised as a clean shape ({per}), "
                f"{100 * self.rejected:.1f}% rejected, of {self.num_samples:,} images")


class ShapeClassifier(nn.Sequential):
    """The shape judge's CNN; ``features(x)`` are its penultimate activations (B, 64), the
    feature space of ``ganlab.evaluation``'s Fréchet distance, KID and density/coverage."""

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self[:-1](x)  # every layer but the last Linear (64 -> 4 logits)


_CLASSIFIERS: dict[tuple[int, int, int, int], nn.Module] = {}


def _corrupt(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Real shapes made wrong in the ways an undertrained G is wrong (the extra class).

    A third each: blurred edges, blotchy colour, and shapes squashed to ovals and oblongs.
    """
    n, _, r, _ = x.shape
    kind = torch.randint(0, 3, (n,), generator=gen)
    k = 2 * max(1, r // 16) + 1  # 5x5 box blur at 32 px
    blurred = F.avg_pool2d(F.pad(x, (k // 2,) * 4, mode="replicate"), k, 1)
    blotches = F.interpolate(torch.randn(n, 3, 4, 4, generator=gen), size=r, mode="bilinear")
    blotchy = (x + 0.6 * blotches).clamp(-1, 1)
    w = r * 5 // 8
    squashed = F.pad(F.interpolate(x, size=(r, w), mode="bilinear"),
                     ((r - w) // 2, r - w - (r - w) // 2, 0, 0), mode="replicate")
    choice = kind[:, None, None, None]
    return torch.where(choice == 0, blurred, torch.where(choice == 1, blotchy, squashed))


def shape_classifier(resolution: int = 32, n: int = 16_384, steps: int = 512, seed: int = 0,
                     progress: bool = False) -> nn.Module:
    """A small CNN that tells circle, square, triangle and "not a clean shape" apart.

    Trained on ``ganlab.data.shapes(resolution, n, seed=1000 + seed)`` (not the seed the GANs
    train on) plus corrupted copies as the fourth class (blurred, blotchy, squashed). About a
    minute on 2 CPU cores at the defaults; cached per argument set for the session; the global
    RNG is left untouched. On held-out real images at 32 px it recognises about 96%.
    """
    from ganlab.data import shapes

    key = (resolution, n, steps, seed)
    if key in _CLASSIFIERS:
        return _CLASSIFIERS[key]
    if resolution < 8:
        raise ValueError(f"the shape classifier needs images of at least 8x8, got {resolution}")
    if n < 64 or steps < 1:
        raise ValueError(f"train the shape classifier on n >= 64 images for steps >= 1, got "
                         f"n={n}, steps={steps}")
    real = shapes(resolution, n, seed=1000 + seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        c = (32, 64, 64)
        layers: list[nn.Module] = []
        size, prev = resolution, 3
        for ch in c:
            layers += [nn.Conv2d(prev, ch, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            prev, size = ch, size // 2
        model = ShapeClassifier(*layers, nn.Flatten(), nn.Linear(prev * size * size, 64), nn.ReLU(),
                              nn.Linear(64, 4))
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        batches = range(steps)  # minibatches of 128 real + 64 corrupted images
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="shape classifier", unit="batch")
        it = iter(())
        for _ in batches:
            idx = next(it, None)
            if idx is None:
                it = iter(torch.randperm(n, generator=gen).split(128))
                idx = next(it)
            x, y = real.data[idx], real.labels[idx]
            half = x.shape[0] // 2
            xb = torch.cat([x, _corrupt(x[:half], gen)])
            yb = torch.cat([y, torch.full((half,), 3)])
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval().requires_grad_(False)
    _CLASSIFIERS[key] = model
    return model


def shape_recognition(samples: torch.Tensor, classifier: nn.Module | None = None,
                      threshold: float = 0.9) -> ShapeRecognition:
    """How many ``samples`` (N, 3, R, R) in [-1, 1] read as a clean circle, square or triangle.

    A sample counts when :func:`shape_classifier` (trained for R unless given) puts probability
    ``>= threshold`` on one of the three shapes. Compare with real images: a generator is as
    recognisable as the data when the two numbers agree.
    """
    from ganlab.data import SHAPE_NAMES

    if (not isinstance(samples, torch.Tensor) or samples.ndim != 4 or samples.shape[1] != 3
            or samples.shape[2] != samples.shape[3]):
        got = tuple(samples.shape) if isinstance(samples, torch.Tensor) else type(samples).__name__
        raise ValueError(f"expected RGB images of shape (N, 3, R, R), got {got}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold!r}")
    x = samples.detach().float().cpu().clamp(-1, 1)
    model = classifier if classifier is not None else shape_classifier(x.shape[-1])
    with torch.no_grad():
        probs = torch.cat([torch.softmax(model(b), dim=1) for b in x.split(500)])
    conf, cls = probs.max(dim=1)
    ok = (cls < 3) & (conf >= threshold)
    counts = {name: int((ok & (cls == k)).sum()) for k, name in enumerate(SHAPE_NAMES)}
    return ShapeRecognition(float(ok.float().mean()), counts, float((cls == 3).float().mean()),
                            x.shape[0])
