"""Pictures: sample grids as PNG bytes, GIF animations and the course's standard plots.

The grid and GIF functions use only torch and Pillow, so interactive widgets can render without
matplotlib; the plotting helpers import matplotlib when they are called.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1], (B, C, H, W) -> uint8 (B, C, H, W) on the CPU."""
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (B, C, H, W), got {tuple(images.shape)}")
    x = images.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round()
    return x.to(torch.uint8)


def grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2,
         pad_value: int = 255, scale: int = 1) -> torch.Tensor:
    """Tile (B, C, H, W) images in [-1, 1] into one uint8 (H', W', 3) array (grey becomes RGB)."""
    x = to_uint8(images)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[1] != 3:
        raise ValueError(f"expected 1 or 3 channels, got {x.shape[1]}")
    if scale > 1:
        x = x.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)
    b, _, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(b))
    ncol = math.ceil(b / nrow)
    out = torch.full((3, ncol * (h + padding) + padding, nrow * (w + padding) + padding),
                     pad_value, dtype=torch.uint8)
    for i in range(b):
        r, c = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + c * (w + padding)
        out[:, top:top + h, left:left + w] = x[i]
    return out.permute(1, 2, 0).contiguous()  # (H', W', 3)


def grid_image(images: torch.Tensor, nrow: int | None = None, scale: int = 1, padding: int = 2):
    """A PIL image of the grid."""
    from PIL import Image

    return Image.fromarray(grid(images, nrow=nrow, scale=scale, padding=padding).numpy(), "RGB")


def png_bytes(images: torch.Tensor, nrow: int | None = None, scale: int = 1,
              padding: int = 2, compress_level: int = 6) -> bytes:
    """PNG-encoded grid; the bytes depend only on the pixel values (no timestamps).

    ``compress_level`` is zlib's (0-9): interactive views use 1, which encodes several times
    faster for files slightly larger.
    """
    buf = io.BytesIO()
    grid_image(images, nrow=nrow, scale=scale, padding=padding).save(
        buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def save_png(images: torch.Tensor, path: str | os.PathLike, nrow: int | None = None,
             scale: int = 1) -> Path:
    return _write(path, png_bytes(images, nrow=nrow, scale=scale))


def _write(path: str | os.PathLike, data: bytes) -> Path:
    """Write a picture atomically, creating its folder; a StorageError names the path."""
    from ganlab.files import atomic_write_bytes, make_dir

    path = Path(path)
    make_dir(path.parent)
    atomic_write_bytes(path, data)
    return path


def points_png(points: torch.Tensor, centers: torch.Tensor | None = None, size: int = 256,
               limit: float = 1.1) -> bytes:
    """A scatter plot of 2-D points in [-limit, limit]^2 as PNG bytes (Pillow, no matplotlib)."""
    from PIL import Image, ImageDraw

    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"expected points of shape (N, 2), got {tuple(points.shape)}")
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)

    def to_px(p: torch.Tensor) -> torch.Tensor:
        return ((p.detach().float().cpu() + limit) / (2 * limit) * (size - 1)).round()

    for x, y in to_px(points).tolist():
        draw.point((x, size - 1 - y), fill=(230, 120, 20))
    if centers is not None:
        for x, y in to_px(centers).tolist():
            y = size - 1 - y
            draw.line((x - 3, y - 3, x + 3, y + 3), fill="black")
            draw.line((x - 3, y + 3, x + 3, y - 3), fill="black")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def save_points_png(points: torch.Tensor, path: str | os.PathLike,
                    centers: torch.Tensor | None = None) -> Path:
    return _write(path, points_png(points, centers))


def gif_bytes(frames: Sequence[torch.Tensor], nrow: int | None = None, scale: int = 1,
              duration_ms: int = 200, loop: int = 0) -> bytes:
    """An animated GIF; each frame is a batch of images in [-1, 1] tiled as a grid."""
    if not frames:
        raise ValueError("gif_bytes needs at least one frame")
    pictures = [grid_image(f, nrow=nrow, scale=scale) for f in frames]
    size = pictures[-1].size
    pictures = [p if p.size == size else p.resize(size) for p in pictures]
    buf = io.BytesIO()
    pictures[0].save(buf, format="GIF", save_all=True, append_images=pictures[1:],
                     duration=duration_ms, loop=loop)
    return buf.getvalue()


def save_gif(frames: Sequence[torch.Tensor], path: str | os.PathLike, **kwargs: Any) -> Path:
    return _write(path, gif_bytes(frames, **kwargs))


def compact_figures(colors: int = 256) -> bool:
    """Show this IPython session's matplotlib figures as palette PNGs of at most ``colors`` colours.

    A figure of sample grids saved as a full-colour PNG takes 100-400 kB of a notebook; reduced
    to a 256-colour palette (no dithering, so flat areas stay flat) it takes about half, with no
    visible change to plots, digits or shapes. The course's notebooks call this in their first
    cell so that each stays under the 1 MB of outputs that ``make check-notebooks`` allows.
    Returns False (and changes nothing) outside IPython.
    """
    _check_colors(colors)
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    # matplotlib loads its backend (matplotlib-inline in Jupyter) with the first figure, and the
    # backend then registers its own PNG formatter: ours must come after it.
    plt.close(plt.figure())
    shell.display_formatter.formatters["image/png"].for_type(
        Figure, lambda fig: palette_png(fig, colors))
    return True


def palette_png(fig: Any, colors: int = 256) -> bytes | None:
    """``fig`` rendered as IPython's inline backend renders it (tight box, its own dpi and face
    colour), then stored as a palette PNG; None for a figure with nothing drawn."""
    if not fig.axes and not fig.lines:
        return None
    buf = io.BytesIO()
    fig.canvas.print_figure(buf, format="png", bbox_inches="tight", dpi=fig.dpi,
                            facecolor=fig.get_facecolor(), edgecolor=fig.get_edgecolor())
    return palette_bytes(buf.getvalue(), colors)


def _check_colors(colors: int) -> None:
    if not 2 <= colors <= 256:
        raise ValueError(f"colors must lie in 2..256 (a PNG palette), got {colors!r}")


def palette_bytes(png: bytes, colors: int = 256) -> bytes:
    """A PNG (e.g. a rendered strip shown with ``IPython.display.Image``) as a palette PNG of at
    most ``colors`` colours, without dithering: about half the bytes for the course's pictures."""
    from PIL import Image

    _check_colors(colors)
    image = Image.open(io.BytesIO(png))
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    method = Image.Quantize.FASTOCTREE if image.mode == "RGBA" else Image.Quantize.MEDIANCUT
    small = image.quantize(colors, method=method, dither=Image.Dither.NONE)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def show(images: torch.Tensor, title: str | None = None, nrow: int | None = None,
         ax: Any = None, scale: int = 1):
    """Draw a grid with matplotlib (for notebooks)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(grid(images, nrow=nrow, scale=scale).numpy(), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_history(history: Sequence[dict[str, float]], axes: Any = None):
    """Loss curves and D(x) / D(G(z)) against images seen, from ``Trainer.history``."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    seen = [h["images_seen"] for h in history]
    axes[0].plot(seen, [h["loss_D"] for h in history], label="loss D")
    axes[0].plot(seen, [h["loss_G"] for h in history], label="loss G")
    axes[0].set_xlabel("images seen")
    axes[0].set_title("losses")
    axes[0].legend()
    axes[1].plot(seen, [h["D_x"] for h in history], label="D(x)")
    axes[1].plot(seen, [h["D_G_z"] for h in history], label="D(G(z))")
    axes[1].set_xlabel("images seen")
    axes[1].set_title("discriminator outputs")
    axes[1].legend()
    return axes


def plot_points(fake: torch.Tensor | None = None, real: torch.Tensor | None = None,
                centers: torch.Tensor | None = None, ax: Any = None, title: str | None = None,
                limit: float | None = None):
    """Scatter 2-D samples over the real data and the mixture's mode centres, in
    [-limit, limit]^2: by default [-1.1, 1.1]^2, or wider where the real data or the centres
    reach further (a mixture in the literature's geometry), so every plot of one data set shares
    its axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    if real is not None:
        r = real.detach().cpu()
        ax.scatter(r[:, 0], r[:, 1], s=2, c="tab:blue", alpha=0.3, label="real")
    if fake is not None:
        f = fake.detach().float().cpu()
        ax.scatter(f[:, 0], f[:, 1], s=2, c="tab:orange", alpha=0.5, label="generated")
    if centers is not None:
        ax.scatter(centers[:, 0], centers[:, 1], marker="x", c="k", s=30, label="modes")
    if limit is None:
        reach = [t.detach().float().abs().max().item() for t in (real, centers) if t is not None]
        limit = 1.1 * max([1.0, *reach])
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax
