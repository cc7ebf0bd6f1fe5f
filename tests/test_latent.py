"""ganlab.latent: latent paths, rendering, arithmetic and directions.

Formulas are written out again here, independently of the code under test.
"""

from __future__ import annotations

import io
import math
import subprocess
import sys

import pytest
import torch
from conftest import TOY_LATENT as D
from conftest import png_size
from torch import nn

from ganlab import latent, viz
from ganlab.training import sample_z


def png_pixels(data: bytes):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_import_needs_no_widgets():
    code = ("import sys, ganlab.latent; assert 'ipywidgets' not in sys.modules, "
            "'ganlab.latent imported ipywidgets'; assert 'ganlab.widgets' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------------------ paths
def test_lerp_matches_formula():
    z0, z1 = torch.randn(D), torch.randn(D)
    torch.testing.assert_close(latent.lerp(z0, z1, 0.3), 0.7 * z0 + 0.3 * z1)
    t = torch.tensor([0.0, 0.25, 1.0])
    out = latent.lerp(z0, z1, t)
    assert out.shape == (3, D)
    for i, ti in enumerate(t.tolist()):
        torch.testing.assert_close(out[i], (1 - ti) * z0 + ti * z1)


def test_slerp_matches_great_circle_formula():
    z0, z1 = torch.randn(D, dtype=torch.float64), torch.randn(D, dtype=torch.float64)
    omega = math.acos(float(z0 @ z1 / (z0.norm() * z1.norm())))
    for t in (0.0, 0.2, 0.5, 1.0):
        expected = (math.sin((1 - t) * omega) * z0 + math.sin(t * omega) * z1) / math.sin(omega)
        torch.testing.assert_close(latent.slerp(z0, z1, t), expected)


def test_slerp_keeps_the_norm_and_lerp_shrinks_it():
    z0 = torch.randn(D)
    z1 = torch.randn(D)
    z1 = z1 / z1.norm() * z0.norm()  # same norm
    mid_s = latent.slerp(z0, z1, 0.5)
    mid_l = latent.lerp(z0, z1, 0.5)
    torch.testing.assert_close(mid_s.norm(), z0.norm())
    assert mid_l.norm() < z0.norm()


@pytest.mark.parametrize("mode", latent.MODES)
def test_interpolation_endpoints_are_the_endpoints(mode):
    z0, z1 = torch.randn(D), torch.randn(D)
    path = latent.interpolate(z0, z1, 7, mode)
    assert path.shape == (7, D)
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[-1], z1)


@pytest.mark.parametrize("factor", [1.0, 1.0 + 1e-7, 2.0, -1.0])
def test_slerp_is_finite_for_parallel_and_opposite_vectors(factor):
    z0 = torch.randn(D)
    z1 = factor * z0
    out = latent.slerp(z0, z1, torch.linspace(0, 1, 5))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, latent.lerp(z0, z1, torch.linspace(0, 1, 5)))


def test_batched_slerp_per_row():
    z0, z1 = torch.randn(3, D), torch.randn(3, D)
    out = latent.slerp(z0, z1, 0.4)
    for i in range(3):
        torch.testing.assert_close(out[i], latent.slerp(z0[i], z1[i], 0.4))


def test_interpolate_rejects_bad_arguments():
    z = torch.randn(D)
    with pytest.raises(ValueError, match="steps"):
        latent.interpolate(z, z, 1)
    with pytest.raises(ValueError, match="mode"):
        latent.interpolate(z, z, 4, "cubic")
    with pytest.raises(ValueError, match="same shape"):
        latent.lerp(z, torch.randn(D + 1), 0.5)


def test_path_through_keyframes():
    keys = torch.randn(3, D)
    path = latent.path_through(keys, 4, "slerp")
    assert path.shape == (2 * 3 + 1, D)
    torch.testing.assert_close(path[0], keys[0])
    torch.testing.assert_close(path[3], keys[1])
    torch.testing.assert_close(path[-1], keys[2])


def test_a_sample_is_its_seed():
    z = latent.seeds_to_z([5, 0, 5], D)
    torch.testing.assert_close(z[0], sample_z(1, D, seed=5)[0])
    torch.testing.assert_close(z[1], sample_z(1, D, seed=0)[0])
    torch.testing.assert_close(z[0], z[2])


# ------------------------------------------------------------------------------ rendering
def test_render_png_is_the_grid_of_g_in_eval_mode(toy_dcgan):
    z = latent.seeds_to_z(range(4), D)
    toy_dcgan.train()
    png = latent.render_png(toy_dcgan, z, nrow=2, scale=2)
    assert toy_dcgan.training, "render_png must restore G's mode"
    toy_dcgan.eval()
    with torch.no_grad():
        expected = viz.grid(toy_dcgan(z), nrow=2, scale=2).numpy()  # (H, W, 3) uint8
    assert (png_pixels(png) == expected).all()
    assert png_size(png) == (2 + 2 * (32 + 2), 2 + 2 * (32 + 2))


def test_generate_runs_without_autograd(toy_dcgan):
    x = latent.generate(toy_dcgan, latent.seeds_to_z([0, 1], D))
    assert not x.requires_grad and x.dtype == torch.float32 and x.device.type == "cpu"


def test_progan_stages_render_at_the_target_size(toy_progan):
    z = latent.seeds_to_z([3], D)
    for stage in range(toy_progan.config.num_stages):
        x = latent.generate(toy_progan, z, stage=stage, alpha=0.5)
        assert x.shape == (1, 3, 16, 16)
    with torch.no_grad():
        small = toy_progan.eval()(z, stage=1, alpha=1.0)  # (1, 3, 8, 8)
    torch.testing.assert_close(latent.generate(toy_progan, z, stage=1),
                               small.repeat_interleave(2, 2).repeat_interleave(2, 3))


def test_walk_strip_and_gif(toy_dcgan):
    from PIL import Image

    path = latent.interpolate(*latent.seeds_to_z([0, 1], D), 6, "slerp")
    strip = latent.walk_strip_png(toy_dcgan, path)
    assert png_size(strip) == (2 + 6 * 18, 2 + 18)
    gif = Image.open(io.BytesIO(latent.walk_gif(toy_dcgan, path, scale=2, bounce=True)))
    assert gif.format == "GIF" and gif.n_frames == 6 + 4


# ------------------------------------------------------------------------------ arithmetic
def test_vector_arithmetic_is_mean_a_minus_mean_b_plus_mean_c():
    a, b, c = [1, 2, 3], [4, 5, 6], [7, 8, 9]

    def mean(seeds):
        return sum(sample_z(1, D, seed=s)[0] for s in seeds) / len(seeds)

    r = latent.vector_arithmetic(D, a, b, c, neighbours=9, noise=0.25)
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
    d = latent.principal_directions(G, k=2, space="feature", n=2000, layer=G.features)
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
    x, var = latent._pca_coordinates(yc, 4)
    u, s, _ = torch.linalg.svd(yc, full_matrices=False)
    torch.testing.assert_close(var, s[:4] ** 2)
    torch.testing.assert_close(x.abs(), (u[:, :4] * s[:4]).abs())  # columns up to sign


def test_latent_pca_of_gaussian_noise_is_flat():
    d = latent.principal_directions(_ScaledLatent(), k=8, space="latent", n=4000)
    torch.testing.assert_close(d.vectors @ d.vectors.T, torch.eye(8), atol=1e-5, rtol=0)
    assert d.explained.max() < 1.3 / 8  # every axis explains about 1/8


@pytest.mark.parametrize("fixture", ["toy_dcgan", "toy_progan", "toy_r3gan"])
def test_default_feature_layer_for_ganlab_generators(fixture, request):
    G = request.getfixturevalue(fixture)
    d = latent.principal_directions(G, k=3)
    assert d.vectors.shape == (3, D) and d.space == "feature" and d.layer
    assert torch.isfinite(d.vectors).all()


