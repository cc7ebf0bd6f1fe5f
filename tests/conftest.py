"""Shared test settings, and the fixtures that make file systems fail for real.

Every model in the unit tests is tiny, and a 2-core CI machine runs them while other processes
compete for the cores: one intra-op thread is as fast as two for these sizes and never suffers
from oversubscribed thread pools. It also keeps runs that are compared bit for bit in one
configuration.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)


# ---------------------------------------------------------------- hostile checkpoints
UNPICKLED: list[str] = []  # grows if loading a file ever runs the code it carries


def mark_unpickled() -> str:
    UNPICKLED.append("ran")
    return "pwned"


class Sneaky:
    """Pickles into a call of ``mark_unpickled``: what a malicious checkpoint would do."""

    def __reduce__(self):
        return (mark_unpickled, ())


# ---------------------------------------------------------------- real file-system failures

NOBODY = 65534


def skip_loudly(reason: str, what: str = "REAL FILE-SYSTEM TEST") -> None:
    """Skip with a banner on stderr and a warning: a skip that nobody can miss."""
    message = f"{what} SKIPPED: {reason}"
    print(f"\n{'!' * 78}\n{message}\n{'!' * 78}", file=sys.stderr)
    warnings.warn(message, stacklevel=2)
    pytest.skip(message)


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A fresh directory under /tmp that any user can reach (pytest's tmp_path is private)."""
    path = Path(tempfile.mkdtemp(prefix="ganlab-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def small_tmpfs(public_dir: Path) -> Iterator[Callable[[int], Path]]:
    """``mount(size_bytes)`` mounts a fresh tmpfs of that size and returns its path; unmounted at
    the end. Needs root (or CAP_SYS_ADMIN): elsewhere the test skips, saying so loudly."""
    mounted: list[Path] = []

    def mount(size: int) -> Path:
        point = public_dir / f"tmpfs{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                               str(point)], capture_output=True, text=True)
        if done.returncode != 0:
            skip_loudly(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); "
                        "run the tests as root to check a really full / read-only disk. The "
                        "mock-based tests still ran.")
        mounted.append(point)
        return point

    try:
        yield mount
    finally:
        for point in reversed(mounted):
            subprocess.run(["umount", "-l", str(point)], capture_output=True)


def fill(directory: Path, leave: int = 0) -> Path:
    """Fill the file system holding ``directory`` up, then free ``leave`` bytes again."""
    filler = directory / "filler.bin"
    chunk = b"\0" * 65536
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError:
            pass
        with contextlib.suppress(OSError):
            f.close()
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave))
    return filler


def remount_read_only(point: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True, capture_output=True)


@contextlib.contextmanager
def _as_root() -> Iterator[None]:
    os.seteuid(0)  # allowed: the real and saved user ids are still root's
    os.setegid(0)
    try:
        yield
    finally:
        os.setegid(NOBODY)
        os.seteuid(NOBODY)


@contextlib.contextmanager
def unprivileged() -> Iterator[None]:
    """Run the body as user ``nobody`` when we are root (permissions do not stop root); a normal
    user is already unprivileged.

    The body's ``import`` statements still run as root: the checkout and its venv may be private
    (a clone under /root, mode 0700, where nobody cannot read ganlab's or tqdm's source), and what
    is under test is the file the body touches, never a module it happens to import first.
    """
    if os.geteuid() != 0:
        yield
        return
    real_import = builtins.__import__

    def import_as_root(*args: object, **kwargs: object) -> object:
        if os.geteuid() == 0:  # a module imported by a module being imported
            return real_import(*args, **kwargs)
        with _as_root():
            return real_import(*args, **kwargs)

    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    builtins.__import__ = import_as_root
    try:
        yield
    finally:
        builtins.__import__ = real_import
        os.seteuid(0)
        os.setegid(0)


# ---------------------------------------------------------------- toy generators, pictures
TOY_LATENT = 16  # latent size of the toy generators below


@pytest.fixture(scope="module")
def toy_dcgan() -> torch.nn.Module:
    """A DCGAN generator for 16x16 RGB images, small enough to render in milliseconds."""
    from ganlab.config import DCGANConfig
    from ganlab.models import build_generator

    torch.manual_seed(0)
    return build_generator(DCGANConfig(resolution=16, channels=3, latent_dim=TOY_LATENT,
                                       g_width=8))


@pytest.fixture(scope="module")
def toy_progan() -> torch.nn.Module:
    """A ProGAN generator growing 4x4 -> 16x16 (three stages), a few hundred weights wide."""
    from ganlab.models import build_generator
    from ganlab.models.progan import ProGANConfig

    torch.manual_seed(0)
    return build_generator(ProGANConfig(resolution=16, channels=3, latent_dim=TOY_LATENT,
                                        width=1 / 32, images_per_fade=32, images_per_stable=32,
                                        batch_sizes=(8,)))


@pytest.fixture(scope="module")
def toy_r3gan() -> torch.nn.Module:
    """An R3GAN generator for 16x16 RGB images: one residual block of 8 channels per stage."""
    from ganlab.config import R3GANConfig
    from ganlab.models import build_generator

    torch.manual_seed(0)
    return build_generator(R3GANConfig(resolution=16, channels=3, latent_dim=TOY_LATENT,
                                       widths=(8,), blocks=(1,), cardinality=(2,)))


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of PNG bytes."""
    import io

    from PIL import Image

    return Image.open(io.BytesIO(data)).size


def run_cli(argv: list, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``ganlab`` in this process: (exit status, stdout, stderr); argparse exits become statuses."""
    from ganlab.cli import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse errors and --help
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err
