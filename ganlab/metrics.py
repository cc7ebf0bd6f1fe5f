"""Sample-quality metrics whose networks ganlab trains itself (no downloaded weights).

Shape recognition on the ``shapes`` data set (:func:`shape_recognition`): the share of samples
that a small classifier, trained on real shapes (the 32 px one shipped in ``ganlab/judges/``),
calls a clean circle, square or triangle.

Digit recognition on MNIST-like samples (:func:`digit_recognition`): a small CNN, the *digit
judge*, trained deterministically on 4,000 of the 5,000 ``mnist-5k`` digits (shipped in
``ganlab/judges/``), reports the share of samples it reads as one digit with confidence >= 0.9,
how many of the ten digits get >= 3% of those, and the KL divergence of their class histogram
from uniform. Both classifiers expose ``features(x)``, their penultimate activations (N, F), for
distances between feature distributions. :func:`digit_calibration` and
:func:`shape_calibration` say what the numbers mean: they score held-out real images, blurred
ones and noise.

Mode coverage on the 2-D Gaussian mixtures, measured as VEEGAN (Srivastava et al., 2017) and
PacGAN (Lin et al., 2018) report it: a sample is *high quality* if it lies within 3 standard
deviations of its nearest mode centre; a mode is *captured* if it holds at least
``min_fraction`` of the expected share of high-quality samples (PacGAN counts a mode when it
receives at least 20 samples out of 2,500; the default here is that same share).

Live pixels (:func:`live_pixels`): the share of a tanh generator's outputs that can still pass a
gradient back, to tell a G that has stopped learning (every pixel pinned at -1 or 1) from one
that is still moving.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.data import GaussianMixture
from ganlab.files import CACHE_ENV, cache_dir  # noqa: F401 - cache_dir is part of this API


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


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur images (N, C, H, W) with a Gaussian of std ``sigma`` pixels (separable, replicate
    padding, kernel radius 3 sigma)."""
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0 pixels, got {sigma!r}")
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).to(x.dtype)
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)  # along W
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)  # along H


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


SHAPE_JUDGE_SETTINGS = {"n": 16_384, "steps": 512, "seed": 0}  # shape_classifier's defaults
SHIPPED_SHAPE_JUDGES = {32: Path(__file__).resolve().parent / "judges" / "shape_judge32.pt"}
_SHAPE_FORMAT = "ganlab-shape-judge"


def _shape_net(resolution: int) -> ShapeClassifier:
    """The untrained judge for ``resolution`` x ``resolution`` RGB images."""
    layers: list[nn.Module] = []
    size, prev = resolution, 3
    for ch in (32, 64, 64):
        layers += [nn.Conv2d(prev, ch, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        prev, size = ch, size // 2
    return ShapeClassifier(*layers, nn.Flatten(), nn.Linear(prev * size * size, 64), nn.ReLU(),
                           nn.Linear(64, 4))


def train_shape_classifier(resolution: int = 32, n: int = 16_384, steps: int = 512,
                           seed: int = 0, progress: bool = False) -> ShapeClassifier:
    """Train the shape judge: on ``ganlab.data.shapes(resolution, n, seed=1000 + seed)`` (not
    the seed the GANs train on) plus corrupted copies as the fourth class (blurred, blotchy,
    squashed), minibatches of 128 real and 64 corrupted images, Adam at lr 3e-3. About a minute
    on 2 CPU cores at the defaults; deterministic on one machine and thread count (another
    thread count sums in another order and gives a slightly different judge); the global RNG is
    left untouched."""
    from ganlab.data import shapes

    if resolution < 8:
        raise ValueError(f"the shape classifier needs images of at least 8x8, got {resolution}")
    if n < 64 or steps < 1:
        raise ValueError(f"train the shape classifier on n >= 64 images for steps >= 1, got "
                         f"n={n}, steps={steps}")
    real = shapes(resolution, n, seed=1000 + seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model = _shape_net(resolution)
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
    return model.eval().requires_grad_(False)


def save_shape_classifier(model: ShapeClassifier, path: str | os.PathLike, resolution: int,
                          n: int, steps: int, seed: int) -> None:
    """Write the judge's weights (float32) and the settings it was trained with, atomically."""
    _write_state({"format": _SHAPE_FORMAT, "version": 1,
                  "settings": {"resolution": resolution, "n": n, "steps": steps, "seed": seed},
                  "weights": {k: v.float() for k, v in model.state_dict().items()}}, path)


def _write_state(state: dict, path: str | os.PathLike) -> None:
    """``torch.save`` a judge's state to ``path`` atomically, creating its folder."""
    import io

    from ganlab.files import atomic_write_bytes

    buffer = io.BytesIO()  # not a named file: torch.save would record its name in the archive
    torch.save(state, buffer)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())


def load_shape_classifier(path: str | os.PathLike,
                          settings: dict[str, int] | None = None) -> ShapeClassifier:
    """A judge saved by :func:`save_shape_classifier`, read with ``weights_only=True``; when
    ``settings`` are given (resolution, n, steps, seed), the file must have been trained with
    them (a ValueError if not)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != _SHAPE_FORMAT:
        raise ValueError(f"{path} is not a ganlab shape judge")
    if settings is not None and state.get("settings") != settings:
        raise ValueError(f"{path} was trained with {state.get('settings')}, not {settings}")
    model = _shape_net(state["settings"]["resolution"])
    model.load_state_dict(state["weights"])
    return model.eval().requires_grad_(False)


def shape_classifier(resolution: int = 32, n: int = 16_384, steps: int = 512, seed: int = 0,
                     progress: bool = False) -> ShapeClassifier:
    """The shape judge: a small CNN that tells circle, square, triangle and "not a clean shape"
    apart (:func:`train_shape_classifier`).

    With the default ``n``, ``steps`` and ``seed`` at 32x32 it is the judge shipped in
    ``ganlab/judges/shape_judge32.pt`` (written by ``python scripts/train_shape_judge.py``), so
    every machine and thread count scores with the same network; other arguments (or a missing
    or damaged file) train one, about a minute on 2 CPU cores at the defaults. Cached per
    argument set for the session. ``model.features(x)`` gives its 64 penultimate activations.
    :func:`shape_calibration` scores held-out real images, blurred ones and noise with it.
    """
    key = (resolution, n, steps, seed)
    if key in _CLASSIFIERS:
        return _CLASSIFIERS[key]
    model = None
    settings = {"resolution": resolution, "n": n, "steps": steps, "seed": seed}
    shipped = SHIPPED_SHAPE_JUDGES.get(resolution)
    if {"n": n, "steps": steps, "seed": seed} == SHAPE_JUDGE_SETTINGS and shipped is not None \
            and shipped.is_file():
        try:
            model = load_shape_classifier(shipped, settings)
        except Exception as err:  # noqa: BLE001 - an unreadable file is simply retrained
            warnings.warn(f"training the shape judge: {shipped} is unusable ({err})",
                          stacklevel=2)
    if model is None:
        model = train_shape_classifier(resolution, n, steps, seed, progress)
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


def shape_calibration(resolution: int = 32, classifier: nn.Module | None = None, n: int = 1000,
                      blur_sigma: float = 1.0, threshold: float = 0.9
                      ) -> dict[str, ShapeRecognition]:
    """:func:`shape_recognition` on three references, so that a GAN's score can be read.

    ``"real"``: ``n`` held-out real shapes (seed 77, which neither the GANs nor the classifier
    train on); ``"blurred"``: the same images blurred by a Gaussian of ``blur_sigma`` pixels;
    ``"noise"``: uniform noise in [-1, 1]. A generator scores like its data when it matches
    ``"real"``.
    """
    from ganlab.data import shapes

    model = classifier if classifier is not None else shape_classifier(resolution)
    real = shapes(resolution, n, seed=77).data
    noise = torch.rand(n, 3, resolution, resolution, generator=torch.Generator().manual_seed(77))
    cases = {"real": real, "blurred": gaussian_blur(real, blur_sigma), "noise": noise * 2 - 1}
    return {name: shape_recognition(x, model, threshold) for name, x in cases.items()}


# ---------------------------------------------------------------- digit recognition
DIGIT_CLASSES = 10  # the judge's class 10 is "not a clean digit"
DIGIT_JUDGE_VERSION = 2  # bump when the judge's network or training changes: renames the cache


@dataclass(frozen=True)
class DigitRecognition:
    confident: float  # share of samples read as one digit with probability >= threshold
    classes: int  # digits that get at least ``min_share`` of the confident samples
    kl_uniform: float  # KL(confident class histogram || uniform over 10), nats; nan if none
    counts: tuple[int, ...]  # confident samples per digit 0-9
    rejected: float  # share whose most likely class is "not a clean digit"
    num_samples: int
    threshold: float
    min_share: float

    def __str__(self) -> str:
        kl = "n/a" if math.isnan(self.kl_uniform) else f"{self.kl_uniform:.3f}"
        return (f"{100 * self.confident:.1f}% read as a digit with confidence >= "
                f"{self.threshold:g}, {self.classes}/10 digits with >= "
                f"{100 * self.min_share:g}% of them, KL from uniform {kl} nats, "
                f"{100 * self.rejected:.1f}% rejected, of {self.num_samples:,} images")


class DigitJudge(nn.Module):
    """A small CNN that reads one handwritten digit, 0-9, or says "not a clean digit" (class 10).

    Why: a GAN's digits are judged by whether a classifier trained on real digits reads them
    with confidence, and as which digit (the Inception Score's idea, with a network trained on
    the data itself). Any square input (N, 1, R, R) in [-1, 1] is resized to 28x28 first.
    ``features(x)`` returns the 128 penultimate activations.
    """

    resolution = 28

    def __init__(self) -> None:
        super().__init__()
        # Strided convolutions, not pooling: a quarter of the work for the same receptive field.
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(),  # (N, 32, 14, 14)
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),  # (N, 64, 7, 7)
            nn.Conv2d(64, 64, 3, stride=2, padding=1), nn.ReLU(),  # (N, 64, 4, 4)
            nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(),  # (N, 128)
        )
        self.head = nn.Linear(128, DIGIT_CLASSES + 1)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Check (N, 1, R, R), clamp to [-1, 1] and resize to 28x28 (antialiased bilinear)."""
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 1 \
                or x.shape[2] != x.shape[3] or x.shape[2] < 8:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"expected grayscale digits of shape (N, 1, R, R) with R >= 8, in "
                             f"[-1, 1], got {got}")
        x = x.float().clamp(-1, 1)
        if x.shape[-1] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear",
                              align_corners=False, antialias=True)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate activations, (N, 128)."""
        return self.body(self.prepare(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (N, 11) logits


def mnist5k_split(labels: torch.Tensor, held_out_per_class: int = 100
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices ``(train, held_out)`` into ``mnist-5k``: per digit, the last
    ``held_out_per_class`` of its examples (in the data set's fixed order) are held out."""
    train, held = [], []
    for k in range(DIGIT_CLASSES):
        idx = (labels == k).nonzero().view(-1)
        if len(idx) <= held_out_per_class:
            raise ValueError(f"digit {k} has {len(idx)} examples, not more than "
                             f"held_out_per_class={held_out_per_class}")
        train.append(idx[:-held_out_per_class])
        held.append(idx[-held_out_per_class:])
    return torch.cat(train).sort().values, torch.cat(held).sort().values


def _not_a_digit(x: torch.Tensor, labels: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Images (N, 1, 28, 28) in [-1, 1] that are no clean digit: the judge's class 10.

    A quarter each: heavily blurred digits (7x7 box), two different digits overlaid (a blurred
    digit where the neighbour is the same digit), pixel noise, and smooth random blobs.
    """
    n = x.shape[0]
    kind = torch.randint(0, 4, (n,), generator=gen)[:, None, None, None]
    blurred = F.avg_pool2d(F.pad(x, (3, 3, 3, 3), mode="replicate"), 7, 1)
    other = labels.roll(1) != labels
    overlaid = torch.where(other[:, None, None, None], torch.maximum(x, x.roll(1, dims=0)),
                           blurred)
    pixels = torch.rand(x.shape, generator=gen) * 2 - 1
    blobs = F.interpolate(torch.randn(n, 1, 5, 5, generator=gen), size=28, mode="bicubic",
                          align_corners=False).mul(1.5).tanh()
    return torch.where(kind == 0, blurred, torch.where(kind == 1, overlaid,
                                                       torch.where(kind == 2, pixels, blobs)))


def _round_trip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Half of the digits (at random) resized 28 -> 32 -> 28, as a 32 px GAN's digits reach the
    judge: without it, that slight softening alone costs real digits much of their score."""
    up = F.interpolate(x, size=32, mode="bilinear", align_corners=False)
    back = F.interpolate(up, size=28, mode="bilinear", align_corners=False, antialias=True)
    pick = (torch.rand(x.shape[0], generator=gen) < 0.5)[:, None, None, None]
    return torch.where(pick, back, x)


def _jitter(x: torch.Tensor, gen: torch.Generator, degrees: float = 12.0, scale: float = 0.1,
            shift: float = 2.0) -> torch.Tensor:
    """Half of the digits (at random) rotated by up to ``degrees``, scaled by up to ``scale``
    and moved by up to ``shift`` pixels: handwriting varies that much, and 4,000 examples do not
    show it all."""
    n, r = x.shape[0], x.shape[-1]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(degrees)
    zoom = 1 + (torch.rand(n, generator=gen) * 2 - 1) * scale
    move = (torch.rand(n, 2, generator=gen) * 2 - 1) * (2 * shift / r)  # in [-1, 1] units
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, move[:, 0]], 1),
                         torch.stack([sin, cos, move[:, 1]], 1)], 1)  # (N, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    moved = F.grid_sample(x + 1, grid, align_corners=False) - 1  # background stays at -1
    pick = (torch.rand(n, generator=gen) < 0.5)[:, None, None, None]
    return torch.where(pick, moved, x)


def train_digit_judge(steps: int = 6000, seed: int = 0, batch_size: int = 128,
                      progress: bool = False) -> DigitJudge:
    """Train a :class:`DigitJudge` on the training split of ``mnist-5k`` (4,000 digits).

    Deterministic given the arguments (on one machine and thread count); the global RNG is left
    untouched. Each minibatch holds ``batch_size`` real digits, half of them jittered
    (:func:`_jitter`) and half through a 28 -> 32 -> 28 resize, and a quarter as many "not a
    clean digit" images (:func:`_not_a_digit`) made from those same digits, so that sharpness
    tells the judge nothing; Adam at lr 2e-3, decayed linearly to 0.
    """
    from ganlab.data import mnist5k

    if steps < 1 or batch_size < 4:
        raise ValueError(f"train the digit judge for steps >= 1 with batch_size >= 4, got "
                         f"steps={steps}, batch_size={batch_size}")
    ds = mnist5k()
    train_idx, _ = mnist5k_split(ds.labels)
    x_all, y_all = ds.tensors()[train_idx], ds.labels[train_idx]  # (4000, 1, 28, 28)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model = DigitJudge()
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1 - i / steps)
        batches = range(steps)
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="digit judge", unit="batch")
        it = iter(())
        for _ in batches:
            idx = next(it, None)
            if idx is None or len(idx) < batch_size:
                it = iter(torch.randperm(len(x_all), generator=gen).split(batch_size))
                idx = next(it)
            x, y = _round_trip(_jitter(x_all[idx], gen), gen), y_all[idx]
            k = x.shape[0] // 4
            xb = torch.cat([x, _not_a_digit(x[:k], y[:k], gen)])
            yb = torch.cat([y, torch.full((k,), DIGIT_CLASSES)])
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
    return model.eval().requires_grad_(False)


_JUDGES: dict[tuple[str, int, int], DigitJudge] = {}
_JUDGE_FORMAT = "ganlab-digit-judge"


SHIPPED_JUDGE = Path(__file__).resolve().parent / "judges" / "digit_judge.pt"
JUDGE_STEPS = 6000  # train_digit_judge's default; the shipped judge was trained with it, seed 0


def digit_judge(steps: int = JUDGE_STEPS, seed: int = 0,
                directory: str | os.PathLike | None = None, progress: bool = False) -> DigitJudge:
    """The digit judge: the one shipped with ganlab, or one trained and cached on disk.

    With the default arguments this is ``ganlab/judges/digit_judge.pt``, written by
    ``python scripts/train_digit_judge.py`` (:func:`train_digit_judge` with its defaults, weights
    stored in float16). Other arguments, or a missing shipped file, train a judge with
    :func:`train_digit_judge` once and keep it in ``directory`` (default :func:`cache_dir`) as a
    weights-only file named by the judge's version and the arguments; a damaged file is
    retrained, and a directory that cannot be written only costs the training next session.
    """
    folder = Path(directory) if directory is not None else cache_dir()
    cached = folder / f"digit_judge_v{DIGIT_JUDGE_VERSION}_steps{steps}_seed{seed}.pt"
    shipped = (steps, seed) == (JUDGE_STEPS, 0) and SHIPPED_JUDGE.is_file()
    path = SHIPPED_JUDGE if shipped else cached
    key = (str(path.resolve()), steps, seed)
    if key in _JUDGES:
        return _JUDGES[key]
    try:
        model = load_digit_judge(path, steps, seed)
    except FileNotFoundError:
        model = _train_and_cache(cached, steps, seed, progress)
    except Exception as err:  # noqa: BLE001 - any unreadable file is simply retrained
        warnings.warn(f"retraining the digit judge: {path} is unusable ({err})", stacklevel=2)
        model = _train_and_cache(cached, steps, seed, progress)
    _JUDGES[key] = model
    return model


def load_digit_judge(path: str | os.PathLike, steps: int | None = None,
                     seed: int | None = None) -> DigitJudge:
    """A judge saved by :func:`save_digit_judge`, read with ``weights_only=True``; when ``steps``
    and ``seed`` are given, the file must have been trained with them (a ValueError if not)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != _JUDGE_FORMAT:
        raise ValueError(f"{path} is not a ganlab digit judge")
    if state.get("version") != DIGIT_JUDGE_VERSION:
        raise ValueError(f"{path} holds a judge of version {state.get('version')}, this ganlab "
                         f"uses version {DIGIT_JUDGE_VERSION}")
    wanted = {"steps": steps, "seed": seed}
    if steps is not None and seed is not None and state.get("settings") != wanted:
        raise ValueError(f"{path} was trained with {state.get('settings')}, not {wanted}")
    model = DigitJudge()
    model.load_state_dict({k: v.float() for k, v in state["weights"].items()})
    return model.eval().requires_grad_(False)


def save_digit_judge(model: DigitJudge, path: str | os.PathLike, steps: int, seed: int,
                     dtype: torch.dtype = torch.float32) -> None:
    """Write ``model``'s weights (in ``dtype``) and its training settings, atomically."""
    weights = {k: v.to(dtype) if v.is_floating_point() else v
               for k, v in model.state_dict().items()}
    _write_state({"format": _JUDGE_FORMAT, "version": DIGIT_JUDGE_VERSION,
                  "settings": {"steps": steps, "seed": seed}, "weights": weights}, path)


def _train_and_cache(path: Path, steps: int, seed: int, progress: bool) -> DigitJudge:
    model = train_digit_judge(steps=steps, seed=seed, progress=progress)
    try:
        save_digit_judge(model, path, steps, seed)
    except OSError as err:
        warnings.warn(f"could not cache the digit judge in {path} ({err}); set {CACHE_ENV} to a "
                      "writable directory to keep it between sessions", stacklevel=3)
    return model


def digit_recognition(samples: torch.Tensor, judge: nn.Module | None = None,
                      threshold: float = 0.9, min_share: float = 0.03) -> DigitRecognition:
    """How many ``samples`` (N, 1, R, R) in [-1, 1] read as a digit, and how varied they are.

    A sample is *confident* when the judge (:func:`digit_judge` unless given) puts probability
    ``>= threshold`` on one digit 0-9. Of the confident ones, ``classes`` counts the digits that
    get at least ``min_share`` of them, and ``kl_uniform`` is ``sum_k p_k log(10 p_k)`` for
    their class histogram ``p``: 0 when every digit is equally common, log 10 = 2.303 when all
    are one digit. Compare with :func:`digit_calibration`'s real digits.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold!r}")
    if not 0.0 < min_share <= 1.0:
        raise ValueError(f"min_share must lie in (0, 1], got {min_share!r}")
    model = judge if judge is not None else digit_judge()
    x = samples.detach().cpu() if isinstance(samples, torch.Tensor) else samples
    if isinstance(model, DigitJudge):
        x = model.prepare(x)  # checks the shape before any work
    with torch.no_grad():
        probs = torch.cat([torch.softmax(model(b), dim=1) for b in x.split(500)])
    conf, cls = probs.max(dim=1)
    ok = (cls < DIGIT_CLASSES) & (conf >= threshold)
    counts = torch.bincount(cls[ok], minlength=DIGIT_CLASSES)[:DIGIT_CLASSES]
    total = int(counts.sum())
    if total:
        p = counts.double() / total
        nz = p > 0
        kl = float((p[nz] * torch.log(p[nz] * DIGIT_CLASSES)).sum())
        classes = int((p >= min_share).sum())
    else:
        kl, classes = math.nan, 0
    return DigitRecognition(float(ok.float().mean()), classes, kl,
                            tuple(int(c) for c in counts),
                            float((cls == DIGIT_CLASSES).float().mean()), x.shape[0], threshold,
                            min_share)


def digit_calibration(judge: nn.Module | None = None, resolution: int = 28,
                      blur_sigma: float = 1.25, threshold: float = 0.9
                      ) -> dict[str, DigitRecognition]:
    """:func:`digit_recognition` on three references, so that a GAN's score can be read.

    ``"real"``: the 1,000 ``mnist-5k`` digits the judge never trained on (100 per class), at
    ``resolution``; ``"blurred"``: the same digits blurred by a Gaussian of ``blur_sigma``
    pixels (at 28 px); ``"noise"``: 1,000 images of uniform noise in [-1, 1].
    """
    from ganlab.data import mnist5k

    ds = mnist5k(resolution)
    _, held = mnist5k_split(ds.labels)
    real = ds.tensors()[held]
    scale = resolution / 28
    noise = torch.rand(real.shape, generator=torch.Generator().manual_seed(77)) * 2 - 1
    cases = {"real": real, "blurred": gaussian_blur(real, blur_sigma * scale), "noise": noise}
    return {name: digit_recognition(x, judge, threshold) for name, x in cases.items()}


# ---------------------------------------------------------------- recognition against real data
JUDGED_DATA = ("shapes", "mnist-5k")  # the data sets whose judge reads single images


@dataclass(frozen=True)
class VersusReal:
    """A judge's reading of generated samples beside the same judge's reading of held-out real
    data (digits at the samples' resolution, shapes at the judge's 32 px): a share of real
    (``of_real``) of 1 means "as recognisable as the data", whatever the judge's own strictness.
    """

    data: str
    samples: ShapeRecognition | DigitRecognition
    real: ShapeRecognition | DigitRecognition
    resolution: int  # the samples' resolution

    @property
    def share(self) -> float:
        return _recognised(self.samples)

    @property
    def real_share(self) -> float:
        return _recognised(self.real)

    @property
    def of_real(self) -> float:
        """``share / real_share``; nan when the judge recognises no real image."""
        return self.share / self.real_share if self.real_share > 0 else math.nan

    def __str__(self) -> str:
        what = "shapes" if self.data == "shapes" else "digits"
        at = 32 if self.data == "shapes" else self.resolution  # the shape judge reads 32 px
        return (f"{self.samples}; {self.of_real:.2f} of real (held-out real {what} at {at} px: "
                f"{100 * self.real_share:.1f}%)")


def _recognised(r: ShapeRecognition | DigitRecognition) -> float:
    return r.recognised if isinstance(r, ShapeRecognition) else r.confident


_LEAST = {"shapes": 32, "mnist-5k": 8}


def recognisable(data: str, resolution: int) -> bool:
    """Whether :func:`recognition_vs_real` can read ``data`` images at ``resolution`` px."""
    return data in JUDGED_DATA and resolution >= _LEAST[data]


_REAL_READINGS: dict[tuple[str, int], ShapeRecognition | DigitRecognition] = {}


def recognition_vs_real(samples: torch.Tensor, data: str) -> VersusReal:
    """The course judge's recognition of ``samples`` beside its recognition of real data.

    ``data`` is ``"shapes"`` (samples (N, 3, R, R): the shipped 32 px shape judge, larger
    images averaged down to 32 px first, against 1,000 held-out real shapes) or ``"mnist-5k"``
    (samples (N, 1, R, R): the digit judge, against the 1,000 held-out ``mnist-5k`` digits at R
    px). Samples in [-1, 1]; :func:`recognisable` says which resolutions can be read.
    """
    if data not in JUDGED_DATA:
        raise ValueError(f"no recognising judge for data set {data!r}; there is one for "
                         f"{', '.join(JUDGED_DATA)}")
    if not isinstance(samples, torch.Tensor) or samples.ndim != 4:
        got = tuple(samples.shape) if isinstance(samples, torch.Tensor) else type(samples).__name__
        raise ValueError(f"expected images (N, C, R, R) in [-1, 1], got {got}")
    x = samples.detach().float().cpu()
    resolution = x.shape[-1]
    if not recognisable(data, resolution):
        raise ValueError(f"the {data} judge reads images of at least {_LEAST[data]} px, got "
                         f"{resolution} px")
    if data == "shapes":
        if resolution > 32:
            x = F.interpolate(x, size=32, mode="area")
        read = shape_recognition(x, shape_classifier(32))
        key = ("shapes", 32)
        if key not in _REAL_READINGS:
            _REAL_READINGS[key] = shape_calibration(32)["real"]
    else:
        read = digit_recognition(x)
        key = ("mnist-5k", resolution)
        if key not in _REAL_READINGS:
            _REAL_READINGS[key] = digit_calibration(resolution=resolution)["real"]
    return VersusReal(data, read, _REAL_READINGS[key], resolution)


def live_pixels(samples: torch.Tensor, bound: float = 0.99) -> float:
    """Share of a tanh generator's output values that can still move: ``|x| < bound``.

    Every gradient G receives passes through its output tanh, whose derivative at an output x is
    ``1 - x**2`` (0.02 at the default bound 0.99). Pixels pinned at -1 or 1 pass almost nothing
    back, so a G whose outputs are nearly all pinned has stopped learning, whatever its loss
    asks. Compare with the same share of real images: MNIST's black background is at -1 too.
    """
    if not isinstance(samples, torch.Tensor) or not samples.is_floating_point():
        got = samples.dtype if isinstance(samples, torch.Tensor) else type(samples).__name__
        raise ValueError(f"expected a float tensor of generator outputs in [-1, 1], got {got}")
    if samples.numel() == 0:
        raise ValueError("no samples: live_pixels needs at least one output value")
    if not 0.0 < bound < 1.0:
        raise ValueError(f"bound must be in (0, 1) (tanh's outputs reach neither -1 nor 1), "
                         f"got {bound}")
    return (samples.detach().abs() < bound).float().mean().item()
