"""A second opinion on the course's samples, from judges the course does not ship.

The course chooses its recipes with its own judges (``ganlab.metrics``: the shape judge and the
digit judge). A recipe chosen by one judge drifts toward that judge's quirks, so results are
confirmed by a second pair of classifiers that differ in everything but the task, and that no
recipe search ever sees:

- digits, network: the course judge uses strided 3x3 convolutions and no pooling; this one is
  LeNet-5 (5x5 convolutions, max pooling).
- digits, split: the course judge holds out the last 100 ``mnist-5k`` digits of each class; this
  one holds out the *first* 100 and trains on the rest.
- digits, "not a clean digit": box blur, overlays, noise and blobs there; Gaussian blur,
  side-by-side pairs, noise and half-digits here.
- shapes, network: three 3x3 stages and a dense head there; 5x5 stages and global average
  pooling here.
- shapes, data: ``shapes`` seed 1000 there, seed 2024 here; held-out real shapes seed 77 there,
  seed 4242 here.
- shapes, "not a clean shape": box blur, blotches, squashed there; Gaussian blur, speckle,
  stretched here.

Both judges report a share of real: the samples' recognised share over the same judge's share
on its own held-out real data (``ganlab.metrics.VersusReal``). Training is deterministic (a fixed
seed, one thread count); each judge is trained once and cached in ``$GANLAB_CACHE``.

    python scripts/second_judge.py pretrained:dcgan_mnist32 pretrained:dcgan_shapes64 runs/x
    python scripts/second_judge.py --json out.json pretrained:progan_shapes32

prints, per source, both judges' readings of 1,000 samples (latent seed 1, as the pretrained
README scores them).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganlab import metrics
from ganlab.data import mnist5k, shapes
from ganlab.files import atomic_write_bytes, cache_dir

VERSION = 1  # bump when a network or its training changes: renames the cached files
DIGIT_STEPS, SHAPE_STEPS = 3000, 1000


class LeNetDigits(nn.Module):
    """LeNet-5 (LeCun et al., 1998) with ReLU and max pooling, 11 classes (10: not a digit).
    Any (N, 1, R, R) input in [-1, 1] is resized to 28 x 28 first."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # (N, 6, 14, 14)
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),  # (N, 16, 5, 5)
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 11),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().clamp(-1, 1)
        if x.shape[-1] != 28:
            x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > 28)
        return self.net(x)


class PooledShapes(nn.Module):
    """Two 5x5 convolution stages and global average pooling; 4 classes (3: not a clean
    shape). Any (N, 3, R, R) input is averaged (or resized) to 32 x 32 first."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 24, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # (N, 24, 16, 16)
            nn.Conv2d(24, 48, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # (N, 48, 8, 8)
            nn.Conv2d(48, 64, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 4),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().clamp(-1, 1)
        if x.shape[-1] != 32:
            x = F.interpolate(x, size=32, mode="area" if x.shape[-1] > 32 else "bilinear")
        return self.net(x)


def digit_split(labels: torch.Tensor, held_out_per_class: int = 100
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, held_out) indices: the *first* ``held_out_per_class`` of each digit held out
    (the course judge holds out the last ones)."""
    train, held = [], []
    for k in range(10):
        idx = (labels == k).nonzero().view(-1)
        held.append(idx[:held_out_per_class])
        train.append(idx[held_out_per_class:])
    return torch.cat(train).sort().values, torch.cat(held).sort().values


def _not_a_digit(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    kind = torch.randint(0, 4, (n,), generator=gen)[:, None, None, None]
    blurred = metrics.gaussian_blur(x, 2.0)
    shifted = torch.maximum(x, x.roll(1, dims=0).roll(7, dims=-1))  # two digits, side by side
    noise = torch.rand(x.shape, generator=gen) * 2 - 1
    half = torch.where(torch.arange(28)[None, None, :, None] < 14, x, -1.0)  # top half only
    return torch.where(kind == 0, blurred, torch.where(kind == 1, shifted,
                                                       torch.where(kind == 2, noise, half)))


def _shift(x: torch.Tensor, gen: torch.Generator, most: int = 2) -> torch.Tensor:
    """Each image moved by up to ``most`` pixels in x and y (background filled in)."""
    padded = F.pad(x, (most,) * 4, value=-1.0)
    dx, dy = (torch.randint(0, 2 * most + 1, (2,), generator=gen)).tolist()
    return padded[..., dy:dy + x.shape[-2], dx:dx + x.shape[-1]]


def train_digit_judge(steps: int = DIGIT_STEPS, seed: int = 0) -> LeNetDigits:
    ds = mnist5k()
    train_idx, _ = digit_split(ds.labels)
    x_all, y_all = ds.tensors()[train_idx], ds.labels[train_idx]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model = LeNetDigits()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(steps):
            idx = torch.randint(0, len(x_all), (128,), generator=gen)
            x, y = _shift(x_all[idx], gen), y_all[idx]
            soft = F.interpolate(F.interpolate(x, size=32, mode="bilinear"), size=28,
                                 mode="bilinear", antialias=True)  # as a 32 px GAN's digits
            x = torch.where((torch.rand(128, generator=gen) < 0.5)[:, None, None, None], soft, x)
            xb = torch.cat([x, _not_a_digit(x[:64], gen)])
            yb = torch.cat([y, torch.full((64,), 10)])
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval().requires_grad_(False)


def _not_a_shape(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    n, _, r, _ = x.shape
    kind = torch.randint(0, 3, (n,), generator=gen)[:, None, None, None]
    blurred = metrics.gaussian_blur(x, 1.5)
    speckled = (x + 0.5 * torch.randn(x.shape, generator=gen)).clamp(-1, 1)
    h = r * 5 // 8
    stretched = F.pad(F.interpolate(x, size=(h, r), mode="bilinear"),
                      (0, 0, (r - h) // 2, r - h - (r - h) // 2), mode="replicate")
    return torch.where(kind == 0, blurred, torch.where(kind == 1, speckled, stretched))


def train_shape_judge(steps: int = SHAPE_STEPS, seed: int = 0, n: int = 16_384) -> PooledShapes:
    real = shapes(32, n, seed=2024 + seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model = PooledShapes()
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        for _ in range(steps):
            idx = torch.randint(0, n, (128,), generator=gen)
            x, y = real.data[idx], real.labels[idx]
            xb = torch.cat([x, _not_a_shape(x[:64], gen)])
            yb = torch.cat([y, torch.full((64,), 3)])
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval().requires_grad_(False)


_JUDGES: dict[str, nn.Module] = {}


def judge(data: str) -> nn.Module:
    """The second judge for ``"mnist-5k"`` or ``"shapes"``: trained once, cached on disk."""
    if data in _JUDGES:
        return _JUDGES[data]
    build, train = {"mnist-5k": (LeNetDigits, train_digit_judge),
                    "shapes": (PooledShapes, train_shape_judge)}[data]
    path = cache_dir() / f"second_judge_v{VERSION}_{data}.pt"
    model = build()
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        model.eval().requires_grad_(False)
    except (OSError, RuntimeError, ValueError):
        print(f"training the second {data} judge (a minute or two; cached in {path})",
              file=sys.stderr)
        model = train()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            buf = io.BytesIO()
            torch.save(model.state_dict(), buf)
            atomic_write_bytes(path, buf.getvalue())
        except OSError as err:
            print(f"could not cache it ({err})", file=sys.stderr)
    _JUDGES[data] = model
    return model


def real_held_out(data: str, resolution: int) -> torch.Tensor:
    """The second judge's held-out real images at ``resolution``."""
    if data == "shapes":
        return shapes(resolution, 1000, seed=4242).data
    ds = mnist5k(resolution)
    return ds.tensors()[digit_split(ds.labels)[1]]


def second_opinion(samples: torch.Tensor, data: str) -> metrics.VersusReal:
    """The second judge's reading of ``samples`` beside its reading of its held-out real data."""
    net, resolution = judge(data), samples.shape[-1]
    real = real_held_out(data, resolution)
    if data == "shapes":
        return metrics.VersusReal(data, metrics.shape_recognition(samples, net),
                                  metrics.shape_recognition(real, net), resolution)
    return metrics.VersusReal(data, metrics.digit_recognition(samples, net),
                              metrics.digit_recognition(real, net), resolution)


def main(argv: list[str] | None = None) -> int:
    from ganlab.evaluation import generate_samples, load_generator

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sources", nargs="+", help="pretrained:NAME or a run directory")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1, help="latent seed of the samples")
    p.add_argument("--json", type=Path, help="also write the readings here")
    args = p.parse_args(argv)
    report = []
    for source in args.sources:
        config, G = load_generator(source)
        data = config.data.name
        if data not in metrics.JUDGED_DATA:
            p.error(f"{source} was trained on {data!r}; judges exist for "
                    f"{', '.join(metrics.JUDGED_DATA)}")
        with torch.no_grad():
            x = generate_samples(G, args.n, args.seed)
        course, second = metrics.recognition_vs_real(x, data), second_opinion(x, data)
        print(f"{source}\n  course judge: {course}\n  second judge: {second}")
        report.append({"source": source, "data": data, "n": args.n, "seed": args.seed,
                       **{f"{k}_{f}": getattr(v, f) for k, v in (("course", course),
                                                                 ("second", second))
                          for f in ("share", "real_share", "of_real")}})
    if args.json:
        clean = [{k: (None if isinstance(v, float) and math.isnan(v) else v)
                  for k, v in r.items()} for r in report]
        atomic_write_bytes(args.json, json.dumps(clean, indent=2).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
