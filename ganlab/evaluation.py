"""Evaluating GANs offline: Fréchet distance, KID, density/coverage, SWD and a data-copying test.

Published GAN scores (FID, KID) are computed on the features of an Inception network downloaded at
run time. ganlab computes the same statistics on the features of its own small judges (networks
in ``ganlab.metrics`` that are trained on the spot, no download), so every score here works
offline; Inception features are an optional extra (:func:`inception_network`) from a weights file
you supply.

On features (N, D) of a feature network (or on 2-D points themselves):

- :func:`frechet_distance` (Heusel et al., 2017, "GANs trained by a two time-scale update rule");
- :func:`kid`, the kernel distance (Bińkowski et al., 2018, "Demystifying MMD GANs");
- :func:`density_coverage` (Naeem et al., 2020, "Reliable fidelity and diversity metrics");
- :func:`data_copying`, a memorisation test (Meehan et al., 2020, "A non-parametric test to
  detect data-copying in generative models").

On pixels: :func:`swd`, the sliced Wasserstein distance between Laplacian-pyramid patches of
ProGAN (Karras et al., 2018, Sec. 5 and the official ``metrics/sliced_wasserstein.py``).

:func:`evaluate` computes them all for a set of samples against a data set and reports, beside
each score, its *real-data floor*: the same metric for real images against real images (two
disjoint halves), which is what a perfect generator would get with this many samples. Every
result carries a :class:`Protocol` (sample count, reference set and split, feature network and
its weights hash, resize, seed); the same protocol gives the same numbers. On ``shapes`` and
``mnist-5k`` it also reports how much the course judge recognises (``recognised``, with held-out
real data as its floor) and that as a share of real (``of_real``,
:func:`ganlab.metrics.recognition_vs_real`): a recognised sample that does not look like the data
still shows in FD, density and coverage beside it.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganlab.metrics import recognisable, recognition_vs_real

POINT_SETS = ("ring8", "grid25")


# ------------------------------------------------------------------------ checks
def _features(x: Any, name: str, min_rows: int = 2) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[0] < min_rows:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"expected {name} features of shape (N, D) with N >= {min_rows}, "
                         f"got {got}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} features contain NaN or inf; check the samples (a diverged "
                         "generator) or the feature network")
    return x.detach().to("cpu", torch.float64)


def _same_dim(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"the two feature sets have different sizes: {tuple(a.shape)} and "
                         f"{tuple(b.shape)}; compute both with the same feature network")


def _cdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # Exact Euclidean distances (the matrix-product shortcut loses digits near ties).
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


# ------------------------------------------------------------------------ Fréchet distance
def gaussian_frechet_distance(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor,
                              cov2: torch.Tensor) -> float:
    """Fréchet (2-Wasserstein²) distance between N(mu1, cov1) and N(mu2, cov2):
    ``|mu1 - mu2|² + tr(cov1 + cov2 - 2 (cov1 cov2)^½)`` (Heusel et al., 2017, Eq. 6)."""
    mu1, mu2 = mu1.double(), mu2.double()
    cov1, cov2 = cov1.double(), cov2.double()
    # tr (cov1 cov2)^½ = tr (s cov2 s)^½ with s = cov1^½: similar matrices, and s cov2 s is
    # symmetric PSD, so its square root comes from a symmetric eigendecomposition (stable).
    evals, evecs = torch.linalg.eigh(cov1)
    s = evecs @ torch.diag(evals.clamp(min=0).sqrt()) @ evecs.T
    m = s @ cov2 @ s
    tr_sqrt = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum()
    diff = mu1 - mu2
    return float(diff @ diff + cov1.trace() + cov2.trace() - 2 * tr_sqrt)


def feature_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64."""
    x = _features(x, "the")
    xc = x - x.mean(0)
    return x.mean(0), xc.T @ xc / (x.shape[0] - 1)


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, D) (Heusel et al., 2017).

    FID is this on Inception pool features; on a judge's features it is the same statistic in a
    different space, so numbers are comparable only within one feature network. Biased upwards
    for small N: compare with the real-data floor at the same N.
    """
    real, fake = _features(real, "real"), _features(fake, "fake")
    _same_dim(real, fake)
    return gaussian_frechet_distance(*feature_stats(real), *feature_stats(fake))


# ------------------------------------------------------------------------ KID
def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """KID's kernel ``k(x, y) = (x·y / D + 1)³`` for rows of x (N, D) and y (M, D) -> (N, M)."""
    return (x @ y.T / x.shape[1] + 1) ** 3


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased estimate of MMD² with :func:`polynomial_kernel` (Gretton et al., 2012, Eq. 3):
    within-set sums leave out the diagonal (i = j)."""
    m, n = x.shape[0], y.shape[0]
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    return float((kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
                 + (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1)) - 2 * kxy.mean())


def kid(real: torch.Tensor, fake: torch.Tensor, num_subsets: int = 100,
        subset_size: int = 1000, seed: int = 0, rescale: bool = True) -> tuple[float, float]:
    """Kernel distance (Bińkowski et al., 2018): mean and std of the unbiased polynomial-kernel
    MMD² over ``num_subsets`` random subsets of ``min(subset_size, N)`` samples from each set.

    As the KID paper's code, each subset is drawn without replacement, independently of the
    others. Unbiased: on two samples of one distribution its expectation is 0 (single values can
    be negative). With N <= subset_size every subset is the whole set (std 0, order invariant).

    ``rescale`` divides both sets by the root-mean-square value of the *real* features first.
    The cubic kernel ``(x·y/D + 1)³`` was made for Inception's pool features, whose x·y/D is of
    order 1; a judge's ReLU features can be ten times larger, and their cubes would swamp the
    estimate with noise. One scale for both sets, taken from the real one, changes no ranking;
    being estimated, it adds a bias of order 1/N (``rescale=False`` is exactly unbiased).
    """
    real, fake = _features(real, "real"), _features(fake, "fake")
    _same_dim(real, fake)
    if rescale:
        rms = real.pow(2).mean().sqrt().clamp(min=1e-12)
        real, fake = real / rms, fake / rms
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}")
    m = min(subset_size, real.shape[0], fake.shape[0])
    if m < 2:
        raise ValueError(f"KID needs subsets of at least 2 samples, got subset_size={subset_size}")
    if m == real.shape[0] == fake.shape[0]:  # every subset is the whole of both sets
        return mmd2_unbiased(fake, real), 0.0
    gen = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(num_subsets):
        x = fake[torch.randperm(fake.shape[0], generator=gen)[:m]]
        y = real[torch.randperm(real.shape[0], generator=gen)[:m]]
        values.append(mmd2_unbiased(x, y))
    v = torch.tensor(values, dtype=torch.float64)
    return float(v.mean()), float(v.std(unbiased=False))


# ------------------------------------------------------------------------ density and coverage
def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al., 2020, Eqs. 3 and 4) with k nearest neighbours.

    Each real sample i gets a ball of radius r_i = distance to its k-th nearest *other* real
    sample. ``density = 1/(kM) Σ_j Σ_i [fake_j inside ball i]`` (about 1 when fakes are as dense
    around the reals as the reals themselves; above 1 when they crowd into dense regions);
    ``coverage = 1/N Σ_i [some fake lies inside ball i]`` (the share of the real manifold that is
    reached). "Inside" is strict (distance < r_i), as in the authors' code.
    """
    real, fake = _features(real, "real"), _features(fake, "fake", min_rows=1)
    _same_dim(real, fake)
    if not 1 <= k < real.shape[0]:
        raise ValueError(f"k must lie in [1, {real.shape[0] - 1}] for {real.shape[0]} real "
                         f"samples, got {k}")
    radii = _cdist(real, real).kthvalue(k + 1, dim=1).values  # k+1: each point is its own 0th
    inside = _cdist(real, fake) < radii[:, None]  # (N, M)
    density = inside.sum().item() / (k * fake.shape[0])
    coverage = inside.any(dim=1).double().mean().item()
    return density, coverage


# ------------------------------------------------------------------------ data copying
def mann_whitney_z(x: torch.Tensor, y: torch.Tensor) -> float:
    """Normal approximation of the Mann-Whitney U test: ``U = #{(i, j): x_i > y_j}`` (ties
    count ½), ``Z = (U - mn/2) / sqrt(mn(m + n + 1)/12)``. Z < 0 when x tends to be smaller."""
    x, y = x.double().flatten(), y.double().flatten()
    m, n = x.numel(), y.numel()
    ys = y.sort().values
    below = torch.searchsorted(ys, x, right=False)  # y_j < x_i
    ties = torch.searchsorted(ys, x, right=True) - below
    u = below.sum().item() + 0.5 * ties.sum().item()
    return (u - m * n / 2) / math.sqrt(m * n * (m + n + 1) / 12)


def data_copying(train: torch.Tensor, heldout: torch.Tensor, fake: torch.Tensor) -> float:
    """Meehan et al.'s (2020) data-copying statistic Z_U, on one cell (no partition).

    Compares how close generated samples come to the training set with how close held-out real
    samples come to it: a Mann-Whitney Z of the nearest-training-neighbour distances of ``fake``
    against those of ``heldout``. About 0 (|Z| of a few) for a generator as far from its training
    data as new real data is; strongly negative when it copies training samples; positive when
    its samples are farther (underfit). The paper also splits space into cells and averages a
    per-cell Z, which catches copying confined to some regions; this one-cell version does not.
    """
    train = _features(train, "training", min_rows=1)
    heldout, fake = _features(heldout, "held-out", 1), _features(fake, "fake", 1)
    _same_dim(train, heldout)
    _same_dim(train, fake)
    d_fake = _cdist(fake, train).min(dim=1).values
    d_held = _cdist(heldout, train).min(dim=1).values
    return mann_whitney_z(d_fake, d_held)


# ------------------------------------------------------------------------ SWD (ProGAN)
_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
_GAUSS_5x5 = torch.outer(_BINOMIAL, _BINOMIAL) / 256  # the 5x5 filter of cv2.pyrDown


def _blur(x: torch.Tensor, gain: float) -> torch.Tensor:
    c = x.shape[1]
    w = (_GAUSS_5x5 * gain).to(x)[None, None].expand(c, 1, 5, 5)
    # "reflect" in PyTorch mirrors without repeating the edge (d c b | a b c d), as OpenCV's
    # default border and the official code's scipy "mirror" mode.
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), w, groups=c)


def pyr_down(x: torch.Tensor) -> torch.Tensor:
    """Blur with the 5x5 binomial filter, keep every second pixel: (N, C, H, W) -> H/2, W/2."""
    return _blur(x, 1.0)[:, :, ::2, ::2]


def pyr_up(x: torch.Tensor) -> torch.Tensor:
    """Insert zeros between pixels and blur with 4x the filter: (N, C, H, W) -> 2H, 2W."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    return _blur(up, 4.0)


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Band-pass images from fine to coarse; the last level is the blurred low-pass residual.
    Exactly invertible: ``x = level0 + up(level1 + up(level2 + ...))``."""
    pyramid = [x.float()]
    for _ in range(1, levels):
        down = pyr_down(pyramid[-1])
        pyramid[-1] = pyramid[-1] - pyr_up(down)
        pyramid.append(down)
    return pyramid


def patch_descriptors(level: torch.Tensor, per_image: int, size: int,
                      gen: torch.Generator) -> torch.Tensor:
    """``per_image`` random size x size patches from every image: (N, C, S, S) ->
    (N * per_image, C, size, size), centres drawn uniformly where the patch fits."""
    n, c, s, _ = level.shape
    h = size // 2
    cy = torch.randint(h, s - h, (n * per_image,), generator=gen)
    cx = torch.randint(h, s - h, (n * per_image,), generator=gen)
    offsets = torch.arange(-h, h + 1)
    img = torch.arange(n).repeat_interleave(per_image)
    ys = (cy[:, None] + offsets)[:, None, :, None]  # (P, 1, size, 1)
    xs = (cx[:, None] + offsets)[:, None, None, :]  # (P, 1, 1, size)
    return level[img[:, None, None, None], torch.arange(c)[None, :, None, None], ys, xs]


def _normalise(desc: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance per colour channel over all patches of one set (ProGAN Sec. 5),
    then flattened to (P, C * size * size)."""
    desc = desc - desc.mean(dim=(0, 2, 3), keepdim=True)
    desc = desc / desc.std(dim=(0, 2, 3), keepdim=True, unbiased=False).clamp(min=1e-8)
    return desc.flatten(1)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, repeats: int = 4,
                       directions: int = 128, gen: torch.Generator | None = None) -> float:
    """Sliced Wasserstein-1 distance between two equal-sized point sets (P, D): project both on
    random unit directions, sort, average the absolute differences; ``repeats`` rounds of
    ``directions`` directions each, averaged (Rabin et al., 2011; ProGAN's estimator)."""
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"expected two point sets of the same shape (P, D), got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    results = []
    for _ in range(repeats):
        dirs = torch.randn(a.shape[1], directions, generator=gen)
        dirs = (dirs / dirs.norm(dim=0, keepdim=True)).to(a)
        # Projections (directions, P), sorted along P by NumPy (about twice torch's CPU speed),
        # the two sets in two threads: NumPy's sort releases the GIL.
        pa, pb = _SORTER.map(lambda p: np.sort(p.cpu().numpy(), axis=1),
                             (dirs.T @ a.T, dirs.T @ b.T))
        results.append(float(np.abs(pa - pb).mean()))
    return sum(results) / len(results)


_SORTER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ganlab-swd-sort")


@dataclass(frozen=True)
class SWDSettings:
    """ProGAN's protocol (official ``metrics/sliced_wasserstein.py``)."""

    patch: int = 7  # 7x7 neighbourhoods
    per_image: int = 128  # patches per image and pyramid level
    repeats: int = 4
    directions: int = 128
    min_resolution: int = 16  # pyramid levels 16x16 and up


def swd_resolutions(resolution: int, settings: SWDSettings = SWDSettings()) -> list[int]:
    """The pyramid levels SWD reports, e.g. [32, 16] for 32x32 images ([] below 16x16)."""
    out, r = [], resolution
    while r >= settings.min_resolution:
        out.append(r)
        r //= 2
    return out


def _to_8bit(images: torch.Tensor) -> torch.Tensor:
    # As the official code, which compares 8-bit images: [-1, 1] -> 0..255, rounded.
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round()


def swd_descriptors(images: torch.Tensor, seed: int = 0,
                    settings: SWDSettings = SWDSettings()) -> list[torch.Tensor]:
    """Normalised patch descriptors per pyramid level (fine to coarse) of images in [-1, 1]."""
    _check_images(images, "SWD")
    levels = swd_resolutions(images.shape[-1], settings)
    if not levels:
        raise ValueError(f"SWD needs images of at least {settings.min_resolution}x"
                         f"{settings.min_resolution}, got {tuple(images.shape)}")
    gen = torch.Generator().manual_seed(seed)
    pyramid = laplacian_pyramid(_to_8bit(images.detach().cpu()), len(levels))
    return [_normalise(patch_descriptors(level, settings.per_image, settings.patch, gen))
            for level in pyramid]


def swd(real: torch.Tensor, fake: torch.Tensor, seed: int = 0,
        settings: SWDSettings = SWDSettings()) -> dict[str, float]:
    """ProGAN's sliced Wasserstein distance (Karras et al., 2018, Sec. 5) x 10³ per pyramid
    level (``"32"``, ``"16"``, ...) and their mean (``"avg"``), for two image sets of equal size.

    Each image contributes 128 random 7x7 patches per level of its Laplacian pyramid; each set's
    patches are normalised per colour channel, so SWD ignores a global colour shift or contrast
    change of a whole set. Fine levels measure texture and edges, the coarsest one colour and
    layout. The seed draws the patch positions (the same for both sets, so identical sets score
    exactly 0) and the directions; the official code uses the global RNG, so its numbers change
    from run to run.
    """
    if real.shape != fake.shape:
        raise ValueError(f"SWD compares two image sets of the same shape, got "
                         f"{tuple(real.shape)} and {tuple(fake.shape)}")
    da, db = swd_descriptors(real, seed, settings), swd_descriptors(fake, seed, settings)
    return _swd_from(da, db, real.shape[-1], seed, settings)


def _swd_from(da: list[torch.Tensor], db: list[torch.Tensor], resolution: int, seed: int,
              settings: SWDSettings) -> dict[str, float]:
    gen = torch.Generator().manual_seed(seed + 2)
    out = {str(r): 1e3 * sliced_wasserstein(a, b, settings.repeats, settings.directions, gen)
           for r, a, b in zip(swd_resolutions(resolution, settings), da, db)}
    out["avg"] = sum(out.values()) / len(out)
    return out


# ------------------------------------------------------------------------ feature networks
def _check_images(images: Any, what: str) -> None:
    if (not isinstance(images, torch.Tensor) or images.ndim != 4
            or images.shape[-1] != images.shape[-2]):
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"{what} expects square images of shape (N, C, R, R) in [-1, 1], "
                         f"got {got}")


@dataclass(frozen=True)
class Judge:
    """A feature network for one data set: ``build()`` returns an ``nn.Module`` whose
    ``features(x)`` maps images (B, channels, resolution, resolution) in [-1, 1] to (B, D)."""

    name: str
    build: Callable[[], nn.Module]
    resolution: int
    channels: int


def _shape_judge() -> nn.Module:
    from ganlab.metrics import shape_classifier

    return shape_classifier(32)


def _digit_judge() -> nn.Module:
    from ganlab.metrics import digit_judge

    return digit_judge()


# Data set name -> its judge; register_judge() adds others.
JUDGES: dict[str, Judge] = {
    "shapes": Judge("shape judge (ganlab.metrics.shape_classifier, 32 px)", _shape_judge, 32, 3),
    "mnist-5k": Judge("digit judge (ganlab.metrics.digit_judge, 28 px)", _digit_judge, 28, 1),
}


def register_judge(data: str, judge: Judge) -> None:
    """Make ``judge`` the feature network that :func:`evaluate` uses for data set ``data``."""
    if not isinstance(judge, Judge):
        raise TypeError(f"expected a ganlab.evaluation.Judge, got {type(judge).__name__}")
    JUDGES[data] = judge


def judge_for(data: str) -> Judge:
    """The registered judge for data set ``data``; the error lists what can be evaluated."""
    if data in JUDGES:
        return JUDGES[data]
    raise ValueError(
        f"no judge (feature network) for data set {data!r}. ganlab can evaluate "
        f"{', '.join(sorted(JUDGES))} (images, with their judges) and {', '.join(POINT_SETS)} "
        "(2-D points, no network needed); in Python, pass feature_net= any nn.Module with a "
        "features(x) method to ganlab.evaluation.evaluate, e.g. inception_network(weights)"
    )


def weights_hash(module: nn.Module) -> str:
    """First 12 hex digits of the SHA-256 of a module's state dict (names, shapes and values):
    two feature networks with the same hash give the same features."""
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:12]


def resize_for(images: torch.Tensor, resolution: int | None) -> tuple[torch.Tensor, str]:
    """Images resized to a feature network's input size, and the protocol's words for it:
    antialiased bilinear when shrinking, bilinear when enlarging, "none" at the native size."""
    r = images.shape[-1]
    if resolution is None or r == resolution:
        return images, "none"
    down = resolution < r
    out = F.interpolate(images.float(), size=(resolution, resolution), mode="bilinear",
                        align_corners=False, antialias=down)
    return out, f"bilinear{' antialiased' if down else ''} {r}->{resolution} px"


@torch.no_grad()
def extract_features(net: nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """``net.features(x)`` for all images, in batches, as float64 (N, D) on the CPU."""
    if not callable(getattr(net, "features", None)):
        raise TypeError(f"a feature network needs a features(x) method returning (B, D) "
                        f"activations; {type(net).__name__} has none")
    was_training = net.training
    net.eval()
    try:
        device = next(net.parameters(), torch.empty(0)).device
        out = [net.features(b.to(device)).flatten(1).double().cpu()
               for b in images.split(batch_size)]
    finally:
        net.train(was_training)
    return torch.cat(out)


# ------------------------------------------------------------------------ Inception (optional)
INCEPTION_HELP = (
    "Inception FID/KID need the optional packages (pip install -e '.[inception]': torchmetrics "
    "and torch-fidelity) and the FID Inception weights as a file you download once yourself: "
    "weights-inception-2015-12-05-6726825d.pth, from release v0.2.0 of torch-fidelity on GitHub "
    "(toshas/torch-fidelity; the address is torch_fidelity.feature_extractor_inceptionv3."
    "URL_INCEPTION_V3). ganlab never downloads it"
)


class InceptionFeatures(nn.Module):
    """The 2,048 pool features of the TF-FID Inception-v3 (torchmetrics' ``NoTrainInceptionV3``),
    which resizes every image to 299x299 itself (bilinear, as TensorFlow)."""

    resize = "inception's own bilinear ->299 px"

    def __init__(self, net: nn.Module, sha: str) -> None:
        super().__init__()
        self.net = net
        self.sha = sha

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x8 = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        out = self.net(x8)
        if isinstance(out, (tuple, list)):  # some torchmetrics versions return the feature tuple
            out = out[0]
        return out.reshape(x.shape[0], -1)


def inception_network(weights: str | os.PathLike) -> InceptionFeatures:
    """Inception-v3 features for FID/KID from a weights file you supply (never downloaded)."""
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"no Inception weights at {path}. {INCEPTION_HELP}")
    try:
        from torchmetrics.image.fid import NoTrainInceptionV3
    except ImportError as err:
        raise ImportError(f"{err}. {INCEPTION_HELP}") from None
    net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                             feature_extractor_weights_path=str(path))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return InceptionFeatures(net.eval().requires_grad_(False), sha)


# ------------------------------------------------------------------------ protocol and results
@dataclass(frozen=True)
class Protocol:
    """How a score was computed; two results with equal protocols are comparable (and equal,
    for the same samples)."""

    n: int  # samples per set (generated, reference, floor)
    reference: str  # data set, its split and the floor's split
    features: str  # feature network
    weights: str  # SHA-256 prefix of its weights ("-" for points)
    resize: str  # how images were brought to the network's input size
    seed: int  # latent seed of the samples; KID subsets, SWD patches and directions

    def __str__(self) -> str:
        return (f"protocol: n={self.n} | reference {self.reference} | features {self.features}"
                f" sha256:{self.weights} | resize {self.resize} | seed {self.seed}")


# name: (what good looks like, what it measures)
METRICS: dict[str, tuple[str, str]] = {
    "recognised": ("~floor", "share the judge reads as one clean shape or digit (>= 0.9 sure)"),
    "of_real": ("~1", "recognised / the same judge on held-out real data"),
    "FD": ("lower", "Fréchet distance of judge features (FID's formula)"),
    "KIDx1e3": ("lower", "kernel distance x 10^3 (unbiased: ~0 for real data)"),
    "density": ("~1", "fakes per real neighbourhood (< 1: off the data; > 1: crowded)"),
    "coverage": ("higher", "share of real neighbourhoods that fakes reach"),
    "SWDx1e3": ("lower", "ProGAN's sliced Wasserstein of pyramid patches, levels averaged"),
    "copyZ": ("~0", "data-copying Z (<< 0: copies training samples; > 0: far from them)"),
    "modes": ("all", "mixture modes captured (PacGAN's rule)"),
    "HQ%": ("~99", "samples within 3 std of a mode"),
}


@dataclass(frozen=True)
class Evaluation:
    """Scores of the samples and, per metric, the real-data floor (a disjoint real half)."""

    protocol: Protocol
    scores: dict[str, float]
    floors: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)  # per-level SWD, KID std, ...

    @property
    def of_real(self) -> float | None:
        """The judge's recognition as a share of its recognition of real data (None where the
        data set has no recognising judge)."""
        return self.scores.get("of_real")

    def table(self) -> str:
        lines = [f"{'metric':<10} {'samples':>10} {'real floor':>11}  {'good':<6} what",
                 "-" * 89]
        for name, value in self.scores.items():
            good, what = METRICS.get(name, ("", ""))
            lines.append(f"{name:<10} {_fmt(value):>10} {_fmt(self.floors.get(name)):>11}  "
                         f"{good:<6} {what}")
        if "recognition" in self.details:
            lines.append(f"judge: {self.details['recognition']}")
        return "\n".join([*lines, str(self.protocol)])

    __str__ = table

    def to_dict(self) -> dict[str, Any]:
        return {"protocol": asdict(self.protocol), "protocol_line": str(self.protocol),
                "scores": dict(self.scores), "floors": dict(self.floors),
                "details": self.details}


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):  # counts (modes)
        return str(v)
    return f"{v:.3f}" if abs(v) < 1000 else f"{v:.4g}"


def _attr(obj: Any, name: str, kind: type) -> Any:
    value = getattr(obj, name, None)
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


def _as_float(x: torch.Tensor) -> torch.Tensor:
    if x.dtype == torch.uint8:
        return x.float().div(127.5).sub(1.0)
    return x.detach().float().cpu()


def _featurise(net: nn.Module, resolution: int | None, x: torch.Tensor,
               batch_size: int = 256) -> tuple[torch.Tensor, str]:
    """Features of images (uint8 or float) converted and resized batch by batch (a whole
    training set at 64 px would take 400 MB as float at once)."""
    feats, how = [], "none"
    for b in x.split(batch_size):
        b, how = resize_for(_as_float(b), resolution)
        feats.append(extract_features(net, b, batch_size))
    return torch.cat(feats), how


class Evaluator:
    """Scores sample sets against one data set ``data`` (a :class:`ganlab.data.TensorData`,
    normally the generator's training set); the real side (features, SWD reference patches, the
    floors) is computed once, so scoring many snapshots of a run costs only their own features.

    Splits of ``data``: reference ``[0, n)``; floor ``[n, 2n)``, a disjoint real half scored
    exactly like the samples. The copy test measures distances to the training set without the
    floor half, whose first half serves as held-out real data and whose second half is the
    floor's "samples". Images are scored in the feature space of ``feature_net`` (any module with
    ``features(x)``, and optionally a ``resolution`` to resize to; default: the data set's judge
    in :data:`JUDGES`) and with SWD on pixels (16x16 and up; ``swd=False`` skips it, the
    slowest metric); 2-D points in their own coordinates, plus mode coverage when ``data`` is a
    Gaussian mixture.
    """

    def __init__(self, data: Any, n: int | None = None, seed: int = 0,
                 feature_net: nn.Module | None = None, reference: str | None = None,
                 features_name: str | None = None, swd: bool = True) -> None:
        from ganlab.data import TensorData

        if not isinstance(data, TensorData):
            raise TypeError(f"data must be a ganlab.data.TensorData (ganlab.data.load(...)), got "
                            f"{type(data).__name__}")
        most = len(data) // 2
        n = min(most, 1000) if n is None else n
        if isinstance(n, bool) or not isinstance(n, int) or not 10 <= n <= most:
            raise ValueError(f"n={n!r} samples cannot be scored against {data.name!r}: it has "
                             f"{len(data)} examples, split into a reference and a disjoint floor "
                             f"half, so n must lie in [10, {most}]")
        self.data, self.n, self.seed = data, n, seed
        self.points = len(data.shape) == 1
        real = data.tensors(2 * n).cpu().float()
        ref, floor = real[:n], real[n:]
        train = torch.cat([data.data[:n], data.data[2 * n:]]).cpu()  # all but the floor half
        shape = "x".join(map(str, data.shape))
        reference = reference or f"{data.name} {shape} ({len(data)} examples)"
        where = f"{reference} [0, {n}) (floor [{n}, {2 * n}))"
        if self.points:
            self.net, self.resolution = None, None
            f_ref, f_floor, f_train = ref.double(), floor.double(), _as_float(train).double()
            self.protocol = Protocol(n, where, features_name or "the points themselves", "-",
                                     "none", seed)
        else:
            if feature_net is None:
                judge = judge_for(data.name)
                net, resolution, features_name = judge.build(), judge.resolution, judge.name
            else:
                net, resolution = feature_net, _attr(feature_net, "resolution", int)
                features_name = features_name or type(feature_net).__name__
            self.net, self.resolution = net, resolution
            (f_ref, resize), (f_floor, _), (f_train, _) = (
                _featurise(net, resolution, x) for x in (ref, floor, train))
            # A network may name its own weights and resize (InceptionFeatures does).
            self.protocol = Protocol(n, where, features_name,
                                     _attr(net, "sha", str) or weights_hash(net),
                                     _attr(net, "resize", str) or resize, seed)
        self._ref, self._train, self._held = f_ref, f_train, f_floor[: n // 2]
        self._recognise = not self.points and recognisable(data.name, data.shape[-1])
        self._swd_ref = None
        if swd and not self.points and swd_resolutions(data.shape[-1]):
            self._swd_ref = swd_descriptors(ref, seed)
        self.floors, floor_details = self._score(floor, f_floor, f_floor[n // 2:])
        if self._recognise:  # held-out real data the judge never trained on, not the floor half
            real = recognition_vs_real(floor, data.name).real_share
            self.floors = {"recognised": real, "of_real": 1.0, **self.floors}
        self._floor_details = {f"{k}_floor": v for k, v in floor_details.items()}

    def _score(self, x: torch.Tensor, f_x: torch.Tensor,
               f_copy: torch.Tensor) -> tuple[dict[str, float], dict[str, Any]]:
        scores: dict[str, float] = {}
        details: dict[str, Any] = {}
        scores["FD"] = frechet_distance(self._ref, f_x)
        k_mean, k_std = kid(self._ref, f_x, seed=self.seed)
        scores["KIDx1e3"], details["KIDx1e3_std"] = 1e3 * k_mean, 1e3 * k_std
        scores["density"], scores["coverage"] = density_coverage(self._ref, f_x)
        if self._swd_ref is not None:
            levels = _swd_from(self._swd_ref, swd_descriptors(x, self.seed), x.shape[-1],
                               self.seed, SWDSettings())
            scores["SWDx1e3"], details["SWDx1e3_levels"] = levels["avg"], levels
        scores["copyZ"] = data_copying(self._train, self._held, f_copy)
        if self.points and self.data.mixture is not None:
            from ganlab.metrics import mode_coverage

            cov = mode_coverage(x, self.data.mixture)
            scores["modes"], scores["HQ%"] = cov.modes_captured, 100 * cov.high_quality
        return scores, details

    def __call__(self, samples: torch.Tensor) -> Evaluation:
        """Scores of the first n ``samples`` (images (N, C, R, R) in [-1, 1] or points (N, 2))."""
        _check_samples(samples, self.data)
        if samples.shape[0] < self.n:
            raise ValueError(f"n={self.n} but only {samples.shape[0]} samples were given")
        fake = _as_float(samples[: self.n])
        if not torch.isfinite(fake).all():
            raise ValueError("the samples contain NaN or inf: the generator has diverged")
        f_fake = (fake.double() if self.points
                  else _featurise(self.net, self.resolution, fake)[0])
        scores, details = self._score(fake, f_fake, f_fake)
        if self._recognise:
            vs = recognition_vs_real(fake, self.data.name)
            scores = {"recognised": vs.share, "of_real": vs.of_real, **scores}
            details["recognition"] = str(vs)
        return Evaluation(self.protocol, scores, dict(self.floors),
                          {**details, **self._floor_details})


def _check_samples(samples: Any, data: Any) -> None:
    shape = data.shape
    if not isinstance(samples, torch.Tensor) or tuple(samples.shape[1:]) != shape:
        got = tuple(samples.shape) if isinstance(samples, torch.Tensor) else type(samples).__name__
        raise ValueError(f"expected samples of shape (N, {', '.join(map(str, shape))}) like the "
                         f"data set {data.name!r}, got {got}")


def evaluate(samples: torch.Tensor, data: Any, n: int | None = None, seed: int = 0,
             feature_net: nn.Module | None = None, reference: str | None = None,
             features_name: str | None = None, swd: bool = True) -> Evaluation:
    """Score ``samples`` against the data set ``data``: ``Evaluator(data, ...)(samples)`` (see
    :class:`Evaluator` for the splits); n defaults to min(len(samples), len(data) // 2, 1000)."""
    from ganlab.data import TensorData

    if isinstance(data, TensorData):
        _check_samples(samples, data)  # before the real side is computed
        if n is None:
            n = min(samples.shape[0], len(data) // 2, 1000)
    return Evaluator(data, n, seed, feature_net, reference, features_name, swd)(samples)


# ------------------------------------------------------------------------ runs and pretrained
PRETRAINED_PREFIX = "pretrained:"


def load_generator(source: str | os.PathLike, device: str = "cpu") -> tuple[Any, nn.Module]:
    """(config, G in eval mode) of a run directory or of ``pretrained:NAME``."""
    text = str(source)
    if text.startswith(PRETRAINED_PREFIX):
        from ganlab.widgets import load_pretrained, pretrained_names

        name = text[len(PRETRAINED_PREFIX):]
        if name not in pretrained_names():
            raise ValueError(f"no pretrained generator {name!r}; available: "
                             f"{', '.join(PRETRAINED_PREFIX + p for p in pretrained_names())}")
        p = load_pretrained(name, device=device)
        return p.config, p.G
    from ganlab.training import load_run

    if not Path(source).exists():
        from ganlab.widgets import pretrained_names

        raise ValueError(f"{source} does not exist: evaluate a run directory (made by ganlab "
                         f"train) or a shipped generator, "
                         f"{', '.join(PRETRAINED_PREFIX + p for p in pretrained_names())}")
    run = load_run(source, device=device)
    return run.config, run.G


def describe_data(config: Any, count: int) -> str:
    """The reference set as a protocol names it, from a run's DataConfig and the set's size."""
    parts = [config.name]
    if config.resolution is not None and config.name not in POINT_SETS:
        parts.append(f"{config.resolution}px")
    parts.append(f"size {count}")
    if config.name == "shapes" or config.name in POINT_SETS:  # drawn from a seed
        parts.append(f"seed {config.seed}")
    if config.name in POINT_SETS and (config.radius is not None or config.std is not None):
        radius, std = config.geometry
        parts.append(f"radius {radius:g} std {std:g}")
    return " ".join(parts) + " (training set)"


@torch.no_grad()
def generate_samples(G: nn.Module, n: int, seed: int, batch_size: int = 250) -> torch.Tensor:
    """n samples of G for the latents ``ganlab.training.sample_z(n, ..., seed)``, on the CPU."""
    from ganlab.training import sample_z

    device = next(G.parameters()).device
    z = sample_z(n, G.latent_dim, seed=seed)
    return torch.cat([G(b.to(device)).float().cpu() for b in z.split(batch_size)])


def evaluate_source(source: str | os.PathLike, n: int | None = None, seed: int = 0,
                    device: str = "cpu") -> Evaluation:
    """:func:`evaluate` for a run directory or ``pretrained:NAME`` against its training set."""
    import dataclasses

    from ganlab.data import load_config

    config, G = load_generator(source, device)
    data_cfg = dataclasses.replace(config.data, download=False)
    if data_cfg.name not in POINT_SETS:
        judge_for(data_cfg.name)  # fail before loading data or sampling
    data = load_config(data_cfg)
    most = len(data) // 2
    n = n if n is not None else min(1000, most)
    if n > most:
        raise ValueError(f"--n {n} is too many for {data_cfg.name!r}: its training set has "
                         f"{len(data)} examples, split into a reference and a disjoint floor "
                         f"half; use --n {most} or fewer")
    samples = generate_samples(G, n, seed)
    return evaluate(samples, data, n=n, seed=seed,
                    reference=describe_data(data_cfg, len(data)))
