"""Tests for ganlab.viz: grid layout, deterministic PNG bytes, GIF frames, plots."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ganlab import viz


def _images(b: int, c: int = 3, h: int = 4, w: int = 6, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(b, c, h, w, generator=gen) * 2 - 1


@pytest.mark.parametrize(("b", "nrow"), [(1, None), (5, None), (16, None), (5, 5), (7, 2)])
def test_grid_shape_follows_the_padding_formula(b: int, nrow: int | None) -> None:
    h, w, pad = 4, 6, 2
    g = viz.grid(_images(b, h=h, w=w), nrow=nrow, padding=pad)
    cols = nrow or math.ceil(math.sqrt(b))  # images per row
    rows = math.ceil(b / cols)
    assert g.shape == (rows * (h + pad) + pad, cols * (w + pad) + pad, 3)
    assert g.dtype == torch.uint8


def test_grid_places_pixels_and_padding() -> None:
    x = torch.full((5, 3, 4, 6), -1.0)
    x[1] = 1.0  # white image at row 0, column 1
    x[4, 0] = 0.0  # image at row 1, column 1: R = 0 -> 128 (127.5 rounds to even)
    g = viz.grid(x, padding=2, pad_value=200)
    assert g[0, 0].tolist() == [200, 200, 200]
    top, left = 2, 2 + 1 * (6 + 2)
    assert (g[top:top + 4, left:left + 6] == 255).all()
    assert (g[2:6, 2:8] == 0).all()
    top = 2 + 1 * (4 + 2)
    assert (g[top:top + 4, left:left + 6, 0] == 128).all()
    assert (g[top:top + 4, left:left + 6, 1:] == 0).all()
    # Unused slot (row 1, column 2) keeps the padding colour.
    assert (g[top:top + 4, 2 + 2 * 8:2 + 2 * 8 + 6] == 200).all()


def test_grid_turns_grey_into_rgb_and_clamps() -> None:
    x = torch.tensor([-3.0, 0.5, 3.0]).view(3, 1, 1, 1)
    g = viz.grid(x, nrow=3, padding=0)
    assert g.shape == (1, 3, 3)
    expected = [0, round((0.5 + 1) * 127.5), 255]
    assert g[0, :, 0].tolist() == expected
    assert torch.equal(g[..., 0], g[..., 1]) and torch.equal(g[..., 0], g[..., 2])


def test_grid_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        viz.grid(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match="channels"):
        viz.grid(torch.zeros(2, 2, 4, 4))


def test_png_bytes_deterministic_and_decodable() -> None:
    from PIL import Image

    x = _images(6)
    a, b = viz.png_bytes(x), viz.png_bytes(x.clone())
    assert a == b
    assert a[:8] == b"\x89PNG\r\n\x1a\n"
    assert viz.png_bytes(_images(6, seed=1)) != a
    decoded = torch.tensor(np.array(Image.open(io.BytesIO(a))))
    assert torch.equal(decoded, viz.grid(x))


def test_save_png_writes_the_same_bytes(tmp_path: Path) -> None:
    x = _images(4)
    path = viz.save_png(x, tmp_path / "sub" / "grid.png")
    assert path.read_bytes() == viz.png_bytes(x)


@pytest.mark.parametrize("n", [1, 4])
def test_gif_has_one_frame_per_batch(n: int, tmp_path: Path) -> None:
    from PIL import Image

    frames = [torch.full((4, 3, 8, 8), -1.0 + 2.0 * i / max(n - 1, 1)) for i in range(n)]
    data = viz.gif_bytes(frames)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "GIF"
        assert getattr(im, "n_frames", 1) == n
    assert viz.save_gif(frames, tmp_path / "a.gif").read_bytes() == data


def test_gif_needs_frames() -> None:
    with pytest.raises(ValueError):
        viz.gif_bytes([])


def test_plot_history_draws_the_logged_values() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = [dict(loss_D=1.0 + i, loss_G=2.0 - i, D_x=0.6, D_G_z=0.4, step=i,
                    images_seen=64 * i, seconds=0.1 * i) for i in range(1, 4)]
    axes = viz.plot_history(history)
    try:
        lines = axes[0].get_lines()
        assert list(lines[0].get_xdata()) == [64, 128, 192]
        assert list(lines[0].get_ydata()) == [2.0, 3.0, 4.0]
        assert list(lines[1].get_ydata()) == [1.0, 0.0, -1.0]
        assert len(axes[1].get_lines()) == 2
    finally:
        plt.close("all")


def test_palette_png_keeps_the_picture_in_fewer_bytes() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    viz.show(torch.rand(16, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1,
             ax=axes[0])
    axes[1].plot(np.sin(np.arange(200) / 7))
    full = io.BytesIO()
    fig.canvas.print_figure(full, format="png", bbox_inches="tight", dpi=fig.dpi,
                            facecolor=fig.get_facecolor())
    small = viz.palette_png(fig, colors=128)
    plt.close(fig)
    a, b = Image.open(full), Image.open(io.BytesIO(small))
    assert b.mode == "P" and b.size == a.size  # the same picture, pixel for pixel in size
    assert len(b.getcolors(256)) <= 128
    assert len(small) < len(full.getvalue()) / 2
    # Close to the original: a palette of 128 colours for a plot and 16 tiles of noise.
    diff = np.abs(np.asarray(a.convert("RGB"), dtype=int) - np.asarray(b.convert("RGB"), dtype=int))
    assert np.median(diff) <= 2 and diff.mean() < 6


def test_palette_png_skips_empty_figures_and_checks_colours() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    assert viz.palette_png(fig) is None
    plt.close(fig)
    with pytest.raises(ValueError, match="colors must lie in 2..256"):
        viz.compact_figures(colors=300)
    assert viz.compact_figures() is False  # not in IPython: nothing to change


def test_palette_bytes_of_a_grid_png() -> None:
    from PIL import Image

    png = viz.png_bytes(_images(16, h=16, w=16, seed=3), nrow=4, scale=2)
    small = viz.palette_bytes(png, colors=32)
    a, b = Image.open(io.BytesIO(png)), Image.open(io.BytesIO(small))
    assert (b.mode, b.size) == ("P", a.size)
    assert len(b.getcolors(256)) <= 32
    with pytest.raises(ValueError, match="colors must lie in 2..256"):
        viz.palette_bytes(png, colors=1)
