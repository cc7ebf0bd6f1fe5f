"""ganlab.widgets: latent paths, rendering, arithmetic, directions and the headless explorer.

Formulas are written out again here, independently of the code under test. The explorer is
driven the way a learner drives it, by setting widget ``.value``s, and every picture it shows
must be byte-for-byte the pure ``render_png`` of the latents it claims to show.
"""

from __future__ import annotations

import io
import math
import os
import statistics
import subprocess
import sys
import time

import pytest
import torch
from torch import nn

from ganlab import viz
from ganlab import widgets as w
from ganlab.config import DCGANConfig
from ganlab.models import build_generator
from ganlab.models.progan import ProGANConfig
from ganlab.training import sample_z

D = 16  # latent size of the toy generators


@pytest.fixture(scope="module")
def dcgan() -> nn.Module:
    torch.manual_seed(0)
    return build_generator(DCGANConfig(resolution=16, channels=3, latent_dim=D, g_width=8))


@pytest.fixture(scope="module")
def progan() -> nn.Module:
    torch.manual_seed(0)
    return build_generator(ProGANConfig(resolution=16, channels=3, latent_dim=D, width=1 / 32,
                                        images_per_fade=32, images_per_stable=32,
                                        batch_sizes=(8,)))


@pytest.fixture(scope="module")
def explorer(dcgan):
    return w.LatentExplorer(dcgan, chosen=(0, 1), steps=5)


@pytest.fixture(scope="module")
def progan_explorer(progan):
    return w.LatentExplorer(progan)


def png_pixels(data: bytes):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def png_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    return Image.open(io.BytesIO(data)).size


# ------------------------------------------------------------------------------ paths
def test_lerp_matches_formula():
    z0, z1 = torch.randn(D), torch.randn(D)
    torch.testing.assert_close(w.lerp(z0, z1, 0.3), 0.7 * z0 + 0.3 * z1)
    t = torch.tensor([0.0, 0.25, 1.0])
    out = w.lerp(z0, z1, t)
    assert out.shape == (3, D)
    for i, ti in enumerate(t.tolist()):
        torch.testing.assert_close(out[i], (1 - ti) * z0 + ti * z1)


def test_slerp_matches_great_circle_formula():
    z0, z1 = torch.randn(D, dtype=torch.float64), torch.randn(D, dtype=torch.float64)
    omega = math.acos(float(z0 @ z1 / (z0.norm() * z1.norm())))
    for t in (0.0, 0.2, 0.5, 1.0):
        expected = (math.sin((1 - t) * omega) * z0 + math.sin(t * omega) * z1) / math.sin(omega)
        torch.testing.assert_close(w.slerp(z0, z1, t), expected)


def test_slerp_keeps_the_norm_and_lerp_shrinks_it():
    z0 = torch.randn(D)
    z1 = torch.randn(D)
    z1 = z1 / z1.norm() * z0.norm()  # same norm
    mid_s = w.slerp(z0, z1, 0.5)
    mid_l = w.lerp(z0, z1, 0.5)
    torch.testing.assert_close(mid_s.norm(), z0.norm())
    assert mid_l.norm() < z0.norm()


@pytest.mark.parametrize("mode", w.MODES)
def test_interpolation_endpoints_are_the_endpoints(mode):
    z0, z1 = torch.randn(D), torch.randn(D)
    path = w.interpolate(z0, z1, 7, mode)
    assert path.shape == (7, D)
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[-1], z1)


@pytest.mark.parametrize("factor", [1.0, 1.0 + 1e-7, 2.0, -1.0])
def test_slerp_is_finite_for_parallel_and_opposite_vectors(factor):
    z0 = torch.randn(D)
    z1 = factor * z0
    out = w.slerp(z0, z1, torch.linspace(0, 1, 5))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, w.lerp(z0, z1, torch.linspace(0, 1, 5)))


def test_batched_slerp_per_row():
    z0, z1 = torch.randn(3, D), torch.randn(3, D)
    out = w.slerp(z0, z1, 0.4)
    for i in range(3):
        torch.testing.assert_close(out[i], w.slerp(z0[i], z1[i], 0.4))


def test_interpolate_rejects_bad_arguments():
    z = torch.randn(D)
    with pytest.raises(ValueError, match="steps"):
        w.interpolate(z, z, 1)
    with pytest.raises(ValueError, match="mode"):
        w.interpolate(z, z, 4, "cubic")
    with pytest.raises(ValueError, match="same shape"):
        w.lerp(z, torch.randn(D + 1), 0.5)


def test_path_through_keyframes():
    keys = torch.randn(3, D)
    path = w.path_through(keys, 4, "slerp")
    assert path.shape == (2 * 3 + 1, D)
    torch.testing.assert_close(path[0], keys[0])
    torch.testing.assert_close(path[3], keys[1])
    torch.testing.assert_close(path[-1], keys[2])


def test_a_sample_is_its_seed():
    z = w.seeds_to_z([5, 0, 5], D)
    torch.testing.assert_close(z[0], sample_z(1, D, seed=5)[0])
    torch.testing.assert_close(z[1], sample_z(1, D, seed=0)[0])
    torch.testing.assert_close(z[0], z[2])


# ------------------------------------------------------------------------------ rendering
def test_render_png_is_the_grid_of_g_in_eval_mode(dcgan):
    z = w.seeds_to_z(range(4), D)
    dcgan.train()
    png = w.render_png(dcgan, z, nrow=2, scale=2)
    assert dcgan.training, "render_png must restore G's mode"
    dcgan.eval()
    with torch.no_grad():
        expected = viz.grid(dcgan(z), nrow=2, scale=2).numpy()  # (H, W, 3) uint8
    assert (png_pixels(png) == expected).all()
    assert png_size(png) == (2 + 2 * (32 + 2), 2 + 2 * (32 + 2))


def test_generate_runs_without_autograd(dcgan):
    x = w.generate(dcgan, w.seeds_to_z([0, 1], D))
    assert not x.requires_grad and x.dtype == torch.float32 and x.device.type == "cpu"


def test_progan_stages_render_at_the_target_size(progan):
    z = w.seeds_to_z([3], D)
    for stage in range(progan.config.num_stages):
        x = w.generate(progan, z, stage=stage, alpha=0.5)
        assert x.shape == (1, 3, 16, 16)
    with torch.no_grad():
        small = progan.eval()(z, stage=1, alpha=1.0)  # (1, 3, 8, 8)
    torch.testing.assert_close(w.generate(progan, z, stage=1),
                               small.repeat_interleave(2, 2).repeat_interleave(2, 3))


def test_walk_strip_and_gif(dcgan):
    from PIL import Image

    path = w.interpolate(*w.seeds_to_z([0, 1], D), 6, "slerp")
    strip = w.walk_strip_png(dcgan, path)
    assert png_size(strip) == (2 + 6 * 18, 2 + 18)
    gif = Image.open(io.BytesIO(w.walk_gif(dcgan, path, scale=2, bounce=True)))
    assert gif.format == "GIF" and gif.n_frames == 6 + 4


# ------------------------------------------------------------------------------ arithmetic
def test_vector_arithmetic_is_mean_a_minus_mean_b_plus_mean_c():
    a, b, c = [1, 2, 3], [4, 5, 6], [7, 8, 9]

    def mean(seeds):
        return sum(sample_z(1, D, seed=s)[0] for s in seeds) / len(seeds)

    r = w.vector_arithmetic(D, a, b, c, neighbours=9, noise=0.25)
    expected = mean(a) - mean(b) + mean(c)
    torch.testing.assert_close(r.z, expected)
    torch.testing.assert_close(r.mean_a, mean(a))
    assert r.neighbours.shape == (9, D)
    torch.testing.assert_close(r.neighbours[0], expected)
    jitter = r.neighbours[1:] - expected
    assert jitter.abs().max() <= 0.25 + 1e-6 and jitter.abs().max() > 0


# ------------------------------------------------------------------------------ directions
class _ScaledLatent(nn.Module):
    """Features = z * scales (known principal axes), then a constant image."""

    latent_dim = 8

    def __init__(self) -> None:
        super().__init__()
        scales = torch.ones(8)
        scales[3], scales[6] = 10.0, 5.0
        self.features = nn.Linear(8, 8, bias=False)
        with torch.no_grad():
            self.features.weight.copy_(torch.diag(scales))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.features(z).tanh().view(-1, 2, 2, 2)


def test_feature_directions_find_the_known_axes():
    G = _ScaledLatent()
    d = w.principal_directions(G, k=2, space="feature", n=2000, layer=G.features)
    assert d.vectors.shape == (2, 8)
    torch.testing.assert_close(d.vectors.norm(dim=1), torch.ones(2))
    assert abs(d.vectors[0, 3]) > 0.99 and abs(d.vectors[1, 6]) > 0.99
    assert d.explained[0] > d.explained[1]


@pytest.mark.parametrize("shape", [(40, 120), (120, 40)])
def test_pca_coordinates_match_an_svd(shape):
    torch.manual_seed(0)
    y = torch.randn(*shape, dtype=torch.float64) @ torch.randn(shape[1], shape[1],
                                                             dtype=torch.float64)
    yc = y - y.mean(0)
    x, var = w._pca_coordinates(yc, 4)
    u, s, _ = torch.linalg.svd(yc, full_matrices=False)
    torch.testing.assert_close(var, s[:4] ** 2)
    torch.testing.assert_close(x.abs(), (u[:, :4] * s[:4]).abs())  # columns up to sign


def test_latent_pca_of_gaussian_noise_is_flat():
    d = w.principal_directions(_ScaledLatent(), k=8, space="latent", n=4000)
    torch.testing.assert_close(d.vectors @ d.vectors.T, torch.eye(8), atol=1e-5, rtol=0)
    assert d.explained.max() < 1.3 / 8  # every axis explains about 1/8


@pytest.mark.parametrize("fixture", ["dcgan", "progan"])
def test_default_feature_layer_for_ganlab_generators(fixture, request):
    G = request.getfixturevalue(fixture)
    d = w.principal_directions(G, k=3)
    assert d.vectors.shape == (3, D) and d.space == "feature" and d.layer
    assert torch.isfinite(d.vectors).all()


# ------------------------------------------------------------------------------ explorer
def test_import_is_light():
    code = ("import sys, ganlab, ganlab.training; assert 'ganlab.widgets' not in sys.modules;"
            " import ganlab.widgets; assert 'ipywidgets' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_page_shows_the_seeds(explorer):
    e = explorer
    e.first_seed.value = 0
    before = e.page_image.value
    e.first_seed.value = 20
    assert e.page_image.value != before
    assert e.page_seeds() == list(range(20, 36))
    assert e.page_image.value == w.render_png(e.G, w.seeds_to_z(range(20, 36), D), nrow=4,
                                              scale=e.scale)
    assert [t.description for t in e.toggles][:2] == ["20", "21"]
    e.first_seed.value = 0


def test_toggles_choose_the_walk_seeds(explorer):
    e = explorer
    e.chosen.value = "0, 1"
    assert e.toggles[0].value and e.toggles[1].value and not e.toggles[2].value
    e.toggles[2].value = True
    assert e.chosen_seeds() == [0, 1, 2]
    e.toggles[0].value = False
    assert e.chosen_seeds() == [1, 2]
    e.chosen.value = "0, 1"


@pytest.mark.parametrize("mode", w.MODES)
def test_walk_frames_and_endpoints(explorer, mode):
    e = explorer
    e.chosen.value = "0, 1"
    e.steps.value = 5
    e.mode.value = mode
    z0, z1 = w.seeds_to_z([0], D), w.seeds_to_z([1], D)
    e.frame.value = 0
    assert e.frame_image.value == w.render_png(e.G, z0, nrow=1, scale=e.frame_scale)
    e.frame.value = 4
    assert e.frame.max == 4
    assert e.frame_image.value == w.render_png(e.G, z1, nrow=1, scale=e.frame_scale)
    e.frame.value = 2
    mid = (w.slerp if mode == "slerp" else w.lerp)(z0[0], z1[0], 0.5)[None]
    assert e.frame_image.value == w.render_png(e.G, mid, nrow=1, scale=e.frame_scale)
    path = w.interpolate(z0[0], z1[0], 5, mode)
    assert e.strip_image.value == w.render_png(e.G, path, nrow=5, scale=e.scale)


def test_slerp_and_lerp_walks_differ(explorer):
    e = explorer
    e.chosen.value = "0, 1"
    e.frame.value = 1  # not the midpoint: there lerp and slerp differ only in length
    e.mode.value = "lerp"
    lerp_png = e.frame_image.value
    e.mode.value = "slerp"
    assert e.frame_image.value != lerp_png


def test_play_drives_the_frame_slider(explorer):
    e = explorer
    e.chosen.value = "0, 1, 2"
    e.steps.value = 4
    assert e.play.max == e.frame.max == 6
    e.play.value = 5
    assert e.frame.value == 5
    path = w.path_through(w.seeds_to_z([0, 1, 2], D), 4, e.mode.value)
    assert e.frame_image.value == w.render_png(e.G, path[5:6], nrow=1, scale=e.frame_scale)
    e.chosen.value = "0, 1"


def test_hidden_tabs_render_when_opened(dcgan):
    e = w.LatentExplorer(dcgan)
    assert e.tabs.selected_index == 0 and len(e.page_image.value) > 0
    assert len(e.directions_image.value) == 0  # not rendered while hidden
    e.first_seed.value = 5  # the Directions tab shows this page too: still hidden
    e.tabs.selected_index = 2
    z = w.seeds_to_z(range(5, 21), D)
    assert e.directions_image.value == w.render_png(e.G, z, nrow=4, scale=e.scale)
    e.chosen.value = "3, 4, 5"  # changes the Walk tab's length at once, its pictures later
    assert e.frame.max == 2 * (e.steps.value - 1) and len(e.strip_image.value) == 0
    e.tabs.selected_index = 1
    assert len(e.strip_image.value) > 0 and len(e.frame_image.value) > 0


def test_close_closes_every_widget(dcgan):
    from ipywidgets.widgets import widget as widget_module

    def alive() -> set:  # ids of the widget models the kernel holds
        instances = getattr(widget_module, "_instances", None)
        return set(instances if instances is not None else widget_module.Widget.widgets)

    before = alive()
    e = w.LatentExplorer(dcgan)
    assert len(alive() - before) > 50
    e.close()
    assert alive() - before == set()


def test_direction_sliders_move_the_page(explorer):
    e = explorer
    e.tabs.selected_index = 2
    e._reset_directions()
    base = e.directions_image.value
    z = w.seeds_to_z(e.page_seeds(), D)
    assert base == w.render_png(e.G, z, nrow=4, scale=e.scale)
    threads = torch.get_num_threads()
    e.dir_sliders[0].value = 2.0
    assert torch.get_num_threads() == threads, "rendering must restore torch's thread count"
    moved = z + 2.0 * e.directions.vectors[0]
    assert e.directions_image.value != base
    assert e.directions_image.value == w.render_png(e.G, moved, nrow=4, scale=e.scale)
    e.dim_sliders[1].value = -1.5
    moved[:, 1] -= 1.5
    assert e.directions_image.value == w.render_png(e.G, moved, nrow=4, scale=e.scale)
    e._reset_directions()
    assert e.directions_image.value == base


def test_arithmetic_tab_shows_the_formula(explorer):
    e = explorer
    before = e.neighbours_image.value
    e.groups[0].value = "10, 11, 12"
    assert e.neighbours_image.value != before
    r = w.vector_arithmetic(D, [10, 11, 12], [3, 4, 5], [6, 7, 8])
    assert e.neighbours_image.value == w.render_png(e.G, r.neighbours, nrow=3, scale=e.scale)
    row = torch.stack([r.mean_a, r.mean_b, r.mean_c, r.z])
    assert e.arith_image.value == w.render_png(e.G, row, nrow=4, scale=e.scale)


def test_bad_seed_text_is_reported_not_raised(explorer):
    e = explorer
    e.groups[1].value = "3, x"
    assert "not one" in e.status.value
    e.groups[1].value = "3, 4, 5"
    e.chosen.value = "7"
    assert "two seeds" in e.status.value
    e.chosen.value = "0, 1"
    assert e.status.value == ""


def test_progan_stage_and_alpha_sliders(progan_explorer):
    e = progan_explorer
    e.tabs.selected_index = 4
    z = w.seeds_to_z(e.page_seeds(), D)
    assert e.stage.max == 2 and e.stage.value == 2
    final = e.growth_image.value
    e.stage.value = 1
    assert e.growth_image.value != final
    e.alpha.value = 0.5
    assert "fading" in e.stage_label.value
    assert e.growth_image.value == w.render_png(e.G, z, nrow=4, scale=e.scale, stage=1,
                                                alpha=0.5)
    e.stage.value = 0
    assert e.growth_image.value == w.render_png(e.G, z, nrow=4, scale=e.scale, stage=0,
                                                alpha=0.5)
    assert png_size(e.growth_image.value) == png_size(final)


def test_export_writes_png_strip_and_gif(explorer, tmp_path):
    from PIL import Image

    e = explorer
    e.chosen.value = "0, 1"
    e.steps.value = 5
    e.out_dir = tmp_path
    e.export_stem.value = "walk"
    e.export_button.click()
    assert "wrote" in e.status.value
    assert (tmp_path / "walk.png").read_bytes() == e.strip_image.value
    gif = Image.open(tmp_path / "walk.gif")
    assert gif.n_frames == 5 + 3


def test_explorer_sources(tmp_path, dcgan):
    from ganlab.presets import preset
    from ganlab.training import Trainer, load_run

    config = preset("dcgan", "shapes", profile="tiny", train__steps=2)
    trainer = Trainer(config, out_dir=tmp_path / "run", device="cpu", progress=False)
    trainer.fit()
    z = w.seeds_to_z(range(16), config.arch.latent_dim)
    from_dir = w.LatentExplorer(tmp_path / "run")
    from_run = w.LatentExplorer(load_run(tmp_path / "run"))
    from_trainer = w.LatentExplorer(trainer)
    expected = w.render_png(trainer.G, z, nrow=4, scale=from_dir.scale)
    for e in (from_dir, from_run, from_trainer):
        assert e.page_image.value == expected
    assert trainer.G.training, "the explorer must not switch the trainer's G to eval mode"
    with pytest.raises(TypeError, match="cannot explore"):
        w.LatentExplorer(42)
    with pytest.raises(ValueError, match="neither a run directory"):
        w.LatentExplorer(str(tmp_path / "missing"))


def test_slider_rerender_is_fast():
    """A Directions slider re-renders a 4x4 grid of 64x64 DCGAN samples (issue: <= 100 ms).

    The bound here is generous because CI machines are shared; the measured median is printed.
    """
    assert "dcgan_shapes64" in w.pretrained_names(), "the shipped dcgan_shapes64 is missing"
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    if load > 1.5:
        pytest.skip(f"machine too busy for a timing test (load {load:.1f} per core)")
    e = w.LatentExplorer("dcgan_shapes64")
    e.tabs.selected_index = 2
    assert png_size(e.directions_image.value) == (2 + 4 * 66, 2 + 4 * 66)
    times = []
    for i in range(21):
        before = e.directions_image.value
        start = time.perf_counter()
        e.dir_sliders[0].value = -2.0 + 0.25 * (i % 16)
        times.append((time.perf_counter() - start) * 1000)
        assert e.directions_image.value != before
    median = statistics.median(times)
    print(f"slider re-render of a 4x4 grid of 64x64 samples: median {median:.0f} ms")
    assert median <= 250
