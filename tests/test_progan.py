"""Tests for ganlab.models.progan: fade-in identities, schedule, shapes, fixed topology, errors.

Tiny networks (width 1/32, latent 16, up to 32x32) keep the whole file to a few seconds on a CPU.
Expected values come from the paper's definitions written out here.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F

from ganlab.models.progan import (
    Phase,
    ProGANConfig,
    ProGANDiscriminator,
    ProGANGenerator,
    fade_real,
    phase_at,
    steps_for_schedule,
    total_images,
    upsample_to,
)

LATENT = 16
BATCH = 4


def tiny_config(**changes) -> ProGANConfig:
    values = dict(
        resolution=32,
        channels=3,
        latent_dim=LATENT,
        width=1 / 32,
        images_per_fade=50,
        images_per_stable=100,
        batch_sizes=(8, 4),
    )
    values.update(changes)
    return ProGANConfig(**values)


@pytest.fixture(scope="module")
def cfg() -> ProGANConfig:
    return tiny_config()


@pytest.fixture(scope="module")
def G(cfg: ProGANConfig) -> ProGANGenerator:
    torch.manual_seed(0)
    G = ProGANGenerator(cfg)
    with torch.no_grad():  # non-zero biases so every path matters in the comparisons
        for name, p in G.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.1)
    return G


@pytest.fixture(scope="module")
def D(cfg: ProGANConfig) -> ProGANDiscriminator:
    torch.manual_seed(1)
    D = ProGANDiscriminator(cfg)
    with torch.no_grad():
        for name, p in D.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.1)
    return D


def upsample_nearest(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Nearest-neighbour upsampling written out: repeat every pixel factor x factor times."""
    return x.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)


def box_downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Average of each factor x factor block, written out with a reshape."""
    b, c, h, w = x.shape
    return x.reshape(b, c, h // factor, factor, w // factor, factor).mean(dim=(3, 5))


# ---------------------------------------------------------------- fade-in identities


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_generator_alpha0_is_upsampled_previous_stage(G, stage: int) -> None:
    z = torch.randn(BATCH, LATENT)
    with torch.no_grad():
        faded = G(z, stage, 0.0)
        previous = G(z, stage - 1, 1.0)
    expected = F.interpolate(previous, scale_factor=2, mode="nearest")
    torch.testing.assert_close(faded, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(faded, upsample_nearest(previous, 2), rtol=0, atol=1e-6)


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_discriminator_alpha0_is_previous_stage_on_pooled_images(D, cfg, stage: int) -> None:
    r = cfg.resolution_of(stage)
    x = torch.randn(BATCH, 3, r, r)
    with torch.no_grad():
        faded = D(x, stage, 0.0)
        previous = D(F.avg_pool2d(x, 2), stage - 1, 1.0)
    assert faded.shape == (BATCH,)
    torch.testing.assert_close(faded, previous, rtol=0, atol=1e-6)


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_alpha1_is_the_stable_network(G, D, cfg, stage: int) -> None:
    z = torch.randn(BATCH, LATENT)
    r = cfg.resolution_of(stage)
    x = torch.randn(BATCH, 3, r, r)
    with torch.no_grad():
        assert torch.equal(G(z, stage, 1.0), G(z, stage))
        assert torch.equal(D(x, stage, 1.0), D(x, stage))
    if stage == cfg.num_stages - 1:
        with torch.no_grad():
            assert torch.equal(G(z), G(z, stage, 1.0))  # stage=None is the final stage
            assert torch.equal(D(x), D(x, stage, 1.0))


@pytest.mark.parametrize("alpha", [0.5, 0.3])
def test_generator_mid_fade_is_lerp_of_both_paths(G, alpha: float) -> None:
    z = torch.randn(BATCH, LATENT)
    with torch.no_grad():
        old, new, mid = G(z, 2, 0.0), G(z, 2, 1.0), G(z, 2, alpha)
    torch.testing.assert_close(mid, alpha * new + (1 - alpha) * old, rtol=0, atol=1e-6)


def test_alpha_is_ignored_at_stage0(G) -> None:
    z = torch.randn(BATCH, LATENT)
    with torch.no_grad():
        assert torch.equal(G(z, 0, 0.0), G(z, 0, 1.0))


# ---------------------------------------------------------------- real-image fade


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_fade_real_endpoints_and_midpoint(cfg, stage: int) -> None:
    x = torch.randn(BATCH, 3, 32, 32)
    r = cfg.resolution_of(stage)
    x_s = box_downsample(x, 32 // r)
    blurred = upsample_nearest(box_downsample(x_s, 2), 2)
    torch.testing.assert_close(fade_real(x, stage, 1.0, cfg), x_s, rtol=0, atol=1e-6)
    torch.testing.assert_close(fade_real(x, stage, 0.0, cfg), blurred, rtol=0, atol=1e-6)
    torch.testing.assert_close(
        fade_real(x, stage, 0.25, cfg), 0.25 * x_s + 0.75 * blurred, rtol=0, atol=1e-6
    )


def test_fade_real_stage0_is_4x4_average(cfg) -> None:
    x = torch.randn(BATCH, 3, 32, 32)
    out = fade_real(x, 0, 0.3, cfg)
    torch.testing.assert_close(out, box_downsample(x, 8), rtol=0, atol=1e-6)


def test_fade_real_rejects_wrong_size(cfg) -> None:
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        fade_real(torch.randn(BATCH, 3, 16, 16), 2, 0.5, cfg)


# ---------------------------------------------------------------- schedule


def test_schedule_boundaries(cfg) -> None:
    # stable 100, fade 50, four stages: [0,100) s0 | [100,150) fade s1 | [150,250) s1 |
    # [250,300) fade s2 | [300,400) s2 | [400,450) fade s3 | [450,550) s3 | then s3 forever.
    def sa(n: int) -> tuple[int, float, bool]:
        p = phase_at(cfg, n)
        return p.stage, p.alpha, p.fading

    assert sa(0) == (0, 1.0, False)
    assert sa(99) == (0, 1.0, False)
    assert sa(100) == (1, 0.0, True)
    assert sa(125) == (1, 0.5, True)
    assert sa(149) == (1, 49 / 50, True)
    assert sa(150) == (1, 1.0, False)
    assert sa(249) == (1, 1.0, False)
    assert sa(250) == (2, 0.0, True)
    assert sa(275) == (2, 0.5, True)
    assert sa(300) == (2, 1.0, False)
    assert sa(400) == (3, 0.0, True)
    assert sa(449) == (3, 49 / 50, True)
    assert sa(450) == (3, 1.0, False)
    assert sa(549) == (3, 1.0, False)
    assert sa(550) == (3, 1.0, False)
    assert sa(10**12) == (3, 1.0, False)
    assert total_images(cfg) == 4 * 100 + 3 * 50


def test_schedule_batch_sizes_follow_stage(cfg) -> None:
    assert phase_at(cfg, 0) == Phase(stage=0, alpha=1.0, batch_size=8, fading=False)
    assert phase_at(cfg, 100).batch_size == 4  # fading into stage 1 uses stage 1's batch
    assert phase_at(cfg, 10**9).batch_size == 4  # the last entry repeats
    assert phase_at(cfg, 300).resolution == 16


def test_schedule_is_monotone(cfg) -> None:
    previous = (-1, -1.0)
    for n in range(0, 700, 3):
        p = phase_at(cfg, n)
        assert 0.0 <= p.alpha <= 1.0
        assert (p.stage, p.alpha) >= previous, n
        previous = (p.stage, p.alpha)


def test_schedule_rejects_negative(cfg) -> None:
    with pytest.raises(ValueError, match="images_seen"):
        phase_at(cfg, -1)


def test_schedule_without_fade() -> None:
    cfg = tiny_config(resolution=8, images_per_fade=0)
    assert (phase_at(cfg, 99).stage, phase_at(cfg, 100).stage) == (0, 1)
    assert phase_at(cfg, 100).alpha == 1.0
    assert total_images(cfg) == 200


def test_steps_for_schedule() -> None:
    # Phases are multiples of the batch sizes: 96/16 + (48 + 96)/8 + (48 + 96)/4 = 6+18+36.
    cfg = tiny_config(
        resolution=16, images_per_stable=96, images_per_fade=48, batch_sizes=(16, 8, 4)
    )
    assert steps_for_schedule(cfg) == 60
    # A step is never split: stage 0 (batch 3) takes 0,3,6,9 -> 12 images in 4 steps; the rest
    # (batch 7, phases end at 20 and 30) takes 12,19,26 -> 33 in 3 steps.
    cfg = tiny_config(
        resolution=8,
        images_per_stable=10,
        images_per_fade=10,
        batch_sizes=(3, 7),
        mbstd_group_size=1,
    )
    assert steps_for_schedule(cfg) == 7


# ---------------------------------------------------------------- shapes and topology


def test_shapes_at_every_stage(G, D, cfg) -> None:
    z = torch.randn(BATCH, LATENT)
    with torch.no_grad():
        for stage, r in enumerate([4, 8, 16, 32]):
            for alpha in (0.0, 0.5, 1.0):
                x_fake = G(z, stage, alpha)
                assert x_fake.shape == (BATCH, 3, r, r)
                assert D(x_fake, stage, alpha).shape == (BATCH,)


def test_topology_is_fixed(cfg) -> None:
    G, D = ProGANGenerator(cfg), ProGANDiscriminator(cfg)
    names = ["4x4", "8x8", "16x16", "32x32"]
    assert list(G.blocks.keys()) == names
    assert list(G.to_rgb.keys()) == names
    assert list(D.blocks.keys()) == names
    assert list(D.from_rgb.keys()) == names
    g_params = [(n, p.shape) for n, p in G.named_parameters()]
    d_params = [(n, p.shape) for n, p in D.named_parameters()]
    g_modules = [n for n, _ in G.named_modules()]
    z = torch.randn(BATCH, LATENT)
    with torch.no_grad():
        for stage in range(cfg.num_stages):
            D(G(z, stage, 0.5), stage, 0.5)
            assert [(n, p.shape) for n, p in G.named_parameters()] == g_params
            assert [(n, p.shape) for n, p in D.named_parameters()] == d_params
            assert [n for n, _ in G.named_modules()] == g_modules


def test_channels_follow_paper_list() -> None:
    cfg = ProGANConfig(resolution=1024)
    resolutions = [4, 8, 16, 32, 64, 128, 256, 512, 1024]
    paper = [512, 512, 512, 512, 256, 128, 64, 32, 16]
    assert [cfg.channels_at(r) for r in resolutions] == paper
    half = ProGANConfig(resolution=1024, width=0.5)
    assert [half.channels_at(r) for r in resolutions] == [c // 2 for c in paper]
    assert ProGANConfig(width=1e-6).channels_at(4) == 1


def test_channel_base_moves_the_halving_down() -> None:
    # min(max_channels, channel_base / r) * width, written out for channel_base 512, cap 64.
    cfg = ProGANConfig(resolution=128, channel_base=512, max_channels=64)
    assert [cfg.channels_at(r) for r in (4, 8, 16, 32, 64, 128)] == [64, 64, 32, 16, 8, 4]
    assert ProGANConfig(channel_base=512, max_channels=64, width=0.5).channels_at(16) == 16
    G = ProGANGenerator(tiny_config(resolution=16, channel_base=256, max_channels=32, width=1.0))
    assert G.blocks["16x16"].conv0.weight.shape == (16, 32, 3, 3)  # 8x8 has 32, 16x16 has 16


def test_layer_widths_use_channels_at() -> None:
    cfg = tiny_config(resolution=128, width=1 / 16)  # 32, 32, 32, 32, 16, 8 channels
    G, D = ProGANGenerator(cfg), ProGANDiscriminator(cfg)
    assert G.blocks["64x64"].conv0.weight.shape == (16, 32, 3, 3)
    assert G.blocks["128x128"].conv1.weight.shape == (8, 8, 3, 3)
    assert G.to_rgb["128x128"].weight.shape == (3, 8, 1, 1)
    assert D.from_rgb["128x128"][0].weight.shape == (8, 3, 1, 1)
    assert D.blocks["128x128"].conv1.weight.shape == (16, 8, 3, 3)
    assert D.blocks["4x4"].conv.weight.shape == (32, 33, 3, 3)  # + minibatch stddev map


def test_gradients_reach_every_used_parameter(cfg) -> None:
    torch.manual_seed(3)
    G, D = ProGANGenerator(cfg), ProGANDiscriminator(cfg)
    D(G(torch.randn(BATCH, LATENT), 3, 0.5), 3, 0.5).sum().backward()
    # At stage 3 (32x32) with 0.5 < alpha < 1: every block, and the RGB layers of 32 and 16.
    used_rgb = ("32x32", "16x16")
    for prefix, net, rgb in (("G", G, "to_rgb"), ("D", D, "from_rgb")):
        for name, p in net.named_parameters():
            used = name.startswith("blocks.") or name.split(".")[1] in used_rgb
            if used:
                assert p.grad is not None and p.grad.abs().sum() > 0, f"{prefix}.{name}"
            else:
                assert name.startswith(rgb)
                assert p.grad is None, f"{prefix}.{name} should be unused at stage 3"


def test_upsample_to() -> None:
    images = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(upsample_to(images, 32), upsample_nearest(images, 4))
    assert upsample_to(images, 8) is images
    with pytest.raises(ValueError, match="multiple"):
        upsample_to(images, 12)


def test_mbstd_can_be_switched_off() -> None:
    D = ProGANDiscriminator(tiny_config(resolution=8, mbstd_group_size=1))
    assert D.blocks["4x4"].conv.weight.shape[1] == 16
    assert D(torch.randn(3, 3, 8, 8)).shape == (3,)


# ---------------------------------------------------------------- config


def test_config_basics() -> None:
    cfg = tiny_config(batch_sizes=(16, 8))
    assert cfg.family == "progan"
    assert cfg.num_stages == 4
    assert ProGANConfig(resolution=4).num_stages == 1
    assert ProGANConfig(resolution=1024).num_stages == 9
    assert [cfg.resolution_of(s) for s in range(4)] == [4, 8, 16, 32]
    assert cfg.resolution_of(None) == 32
    assert cfg.image_shape == (3, 32, 32)
    assert [cfg.batch_size_at(s) for s in range(4)] == [16, 8, 8, 8]


def test_config_json_round_trip() -> None:
    cfg = tiny_config()
    data = json.loads(json.dumps(dataclasses.asdict(cfg)))
    assert isinstance(data["batch_sizes"], list)
    assert ProGANConfig(**{**data, "batch_sizes": tuple(data["batch_sizes"])}) == cfg
    assert ProGANConfig(**data) == cfg  # lists from JSON are turned back into tuples


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"resolution": 24}, r"power of two .*8, 16, 32"),
        ({"resolution": 2048}, "power of two"),
        ({"resolution": 2}, "power of two"),
        ({"width": 0.0}, "width"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"channel_base": 0}, "channel_base"),
        ({"images_per_stable": 0}, "images_per_stable"),
        ({"images_per_fade": -1}, "images_per_fade"),
        ({"batch_sizes": ()}, "batch_sizes"),
        ({"batch_sizes": (8, 0)}, "batch_sizes"),
        ({"batch_sizes": (8, 6)}, r"batch size 6 at stage 1 \(8x8\).*mbstd_group_size 4"),
    ],
)
def test_config_rejects_bad_values(changes: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        tiny_config(**changes)


# ---------------------------------------------------------------- bad inputs


def test_wrong_image_size_names_expected_shape(D) -> None:
    with pytest.raises(ValueError, match=r"\(B, 3, 16, 16\) for stage 2 \(16x16\)"):
        D(torch.randn(BATCH, 3, 32, 32), 2, 1.0)
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\).*got \(4, 1, 32, 32\)"):
        D(torch.randn(BATCH, 1, 32, 32))


def test_wrong_latent_shape(G) -> None:
    with pytest.raises(ValueError, match=r"\(B, 16\).*\(4, 8\)"):
        G(torch.randn(BATCH, 8))


@pytest.mark.parametrize("stage", [4, -1, 1.5, True])
def test_stage_out_of_range(G, D, stage) -> None:
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        G(torch.randn(BATCH, LATENT), stage)
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        D(torch.randn(BATCH, 3, 32, 32), stage)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan")])
def test_alpha_out_of_range(G, D, cfg, alpha: float) -> None:
    with pytest.raises(ValueError, match=r"alpha .*\[0, 1\]"):
        G(torch.randn(BATCH, LATENT), 2, alpha)
    with pytest.raises(ValueError, match=r"alpha .*\[0, 1\]"):
        D(torch.randn(BATCH, 3, 16, 16), 2, alpha)
    with pytest.raises(ValueError, match=r"alpha .*\[0, 1\]"):
        fade_real(torch.randn(BATCH, 3, 32, 32), 2, alpha, cfg)
