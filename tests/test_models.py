"""Tests for ganlab.models (MLP and DCGAN): shapes, the DCGAN paper's guidelines, init, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganlab.config import DCGANConfig, MLPConfig
from ganlab.models import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    build,
)

B = 4
POOLING = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.LPPool2d)


def _leaves_in_call_order(model: nn.Module, *inputs: torch.Tensor) -> list[nn.Module]:
    """Leaf modules in the order a forward pass calls them (whatever the container layout)."""
    order: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda mod, i, o: order.append(mod))
             for m in model.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in hooks:
            h.remove()
    return order


# ---------------------------------------------------------------- MLP
@pytest.mark.parametrize("shape", [(1, 16, 16), (3, 8, 8), (2,)])
def test_mlp_shapes(shape: tuple[int, ...]) -> None:
    cfg = MLPConfig(data_shape=shape, latent_dim=8, g_hidden=(16,), d_hidden=(16, 8))
    G, D = build(cfg)
    assert isinstance(G, MLPGenerator) and isinstance(D, MLPDiscriminator)
    x = G(torch.randn(B, 8))
    assert x.shape == (B, *shape)
    assert x.abs().max() <= 1.0
    logits = D(torch.randn(B, *shape))
    assert logits.shape == (B,)


@pytest.mark.parametrize(
    "arch",
    [MLPConfig(data_shape=(2,), latent_dim=2, d_dropout=0.0),
     DCGANConfig(resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4)],
    ids=["mlp", "dcgan"],
)
def test_discriminators_return_raw_logits(arch) -> None:
    torch.manual_seed(0)
    D = build(arch)[1]  # train mode: BatchNorm normalises, so the scale reaches the output
    last = [m for m in D.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    with torch.no_grad():
        last.weight.mul_(100.0)
    logits = D(torch.randn(256, *arch.image_shape))
    assert logits.shape == (256,)
    # A probability would stay in [0, 1]; logits of a scaled-up last layer leave it on both sides.
    assert logits.min() < 0.0 and logits.max() > 1.0


def test_mlp_errors_name_the_expected_shape() -> None:
    cfg = MLPConfig(data_shape=(1, 16, 16), latent_dim=8)
    G, D = build(cfg)
    with pytest.raises(ValueError, match=r"\(B, 8\)"):
        G(torch.randn(B, 9))
    with pytest.raises(ValueError, match=r"\(B, 8\)"):
        G(torch.randn(8))
    with pytest.raises(ValueError, match=r"\(B, 1, 16, 16\)"):
        D(torch.randn(B, 1, 8, 8))
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        MLPDiscriminator(MLPConfig(data_shape=(2,)))(torch.randn(B, 3))


# ---------------------------------------------------------------- DCGAN
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("resolution", [16, 32, 64])
def test_dcgan_shapes_and_range(resolution: int, channels: int) -> None:
    cfg = DCGANConfig(resolution=resolution, channels=channels, latent_dim=10, g_width=4,
                      d_width=4)
    G, D = build(cfg)
    assert isinstance(G, DCGANGenerator) and isinstance(D, DCGANDiscriminator)
    x = G(torch.randn(B, 10))
    assert x.shape == (B, channels, resolution, resolution)
    assert x.abs().max() <= 1.0  # tanh output
    logits = D(x)
    assert logits.shape == (B,)


def _is_conv(m: nn.Module) -> bool:
    return isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))


@pytest.mark.parametrize("resolution", [16, 32, 64])
def test_dcgan_follows_the_papers_guidelines(resolution: int) -> None:
    cfg = DCGANConfig(resolution=resolution, channels=3, latent_dim=10, g_width=4, d_width=4)
    G, D = build(cfg)
    g_order = _leaves_in_call_order(G, torch.randn(2, 10))
    d_order = _leaves_in_call_order(D, torch.randn(2, 3, resolution, resolution))

    # No pooling and no fully connected layers: strided convolutions do the resampling.
    for m in g_order + d_order:
        assert not isinstance(m, POOLING + (nn.Linear,)), f"unexpected {m}"
    assert all(isinstance(m, nn.ConvTranspose2d) for m in g_order if _is_conv(m))
    assert all(isinstance(m, nn.Conv2d) for m in d_order if _is_conv(m))

    # G: no BatchNorm right after its last conv (the output layer), which feeds tanh.
    g_convs = [i for i, m in enumerate(g_order) if _is_conv(m)]
    assert isinstance(g_order[g_convs[-1] + 1], nn.Tanh)
    assert g_order[-1] is g_order[g_convs[-1] + 1]
    # Every other conv of G is followed by BatchNorm then ReLU.
    for i in g_convs[:-1]:
        assert isinstance(g_order[i + 1], nn.BatchNorm2d)
        assert type(g_order[i + 2]) is nn.ReLU
    assert not any(isinstance(m, nn.LeakyReLU) for m in g_order)

    # D: no BatchNorm right after its first conv (the input layer); LeakyReLU(0.2) throughout.
    d_convs = [i for i, m in enumerate(d_order) if _is_conv(m)]
    assert isinstance(d_order[d_convs[0] + 1], nn.LeakyReLU)
    acts = [m for m in d_order if isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid))]
    assert acts and all(type(m) is nn.LeakyReLU and m.negative_slope == 0.2 for m in acts)
    # D ends in its last conv: raw logits, no sigmoid.
    assert d_order[-1] is d_order[d_convs[-1]]
    for i in d_convs[1:-1]:
        assert isinstance(d_order[i + 1], nn.BatchNorm2d)


def test_dcgan_init_statistics() -> None:
    torch.manual_seed(0)
    G, D = build(DCGANConfig(resolution=64, channels=3, g_width=64, d_width=64))
    for net in (G, D):
        convs = [m for m in net.modules() if _is_conv(m)]
        weights = torch.cat([m.weight.detach().flatten() for m in convs])
        assert abs(weights.mean().item()) < 1e-3
        assert weights.std().item() == pytest.approx(0.02, rel=0.02)
        bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
        gamma = torch.cat([m.weight.detach() for m in bns])
        beta = torch.cat([m.bias.detach() for m in bns])
        assert gamma.numel() >= 800  # enough channels for the statistics below
        assert gamma.mean().item() == pytest.approx(1.0, abs=0.003)
        assert gamma.std().item() == pytest.approx(0.02, abs=0.003)
        assert torch.equal(beta, torch.zeros_like(beta))


@pytest.mark.parametrize("resolution", [16, 32, 64])
def test_dcgan_layer_output_sizes_follow_the_conv_formulas(resolution: int) -> None:
    cfg = DCGANConfig(resolution=resolution, channels=1, latent_dim=10, g_width=4, d_width=4)
    G, D = build(cfg)
    seen: list[tuple[nn.Module, int, int]] = []

    def record(mod: nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        seen.append((mod, inputs[0].shape[-1], output.shape[-1]))

    hooks = [m.register_forward_hook(record) for m in list(G.modules()) + list(D.modules())
             if _is_conv(m)]
    with torch.no_grad():
        D(G(torch.randn(2, 10)))
    for h in hooks:
        h.remove()
    assert len(seen) == len([m for m in list(G.modules()) + list(D.modules()) if _is_conv(m)])
    for mod, h_in, h_out in seen:
        k, s, p = mod.kernel_size[0], mod.stride[0], mod.padding[0]
        if isinstance(mod, nn.ConvTranspose2d):
            assert h_out == (h_in - 1) * s - 2 * p + k
        else:
            assert h_out == (h_in + 2 * p - k) // s + 1
    g_sizes = [h_out for mod, _, h_out in seen if isinstance(mod, nn.ConvTranspose2d)]
    assert g_sizes[0] == 4 and g_sizes[-1] == resolution
    assert all(b == 2 * a for a, b in zip(g_sizes, g_sizes[1:]))
    d_sizes = [h_out for mod, _, h_out in seen if isinstance(mod, nn.Conv2d)]
    assert d_sizes[-1] == 1


@pytest.mark.parametrize(
    "arch",
    [
        MLPConfig(data_shape=(1, 8, 8), latent_dim=6, g_hidden=(8,), d_hidden=(8,)),
        MLPConfig(data_shape=(2,), latent_dim=2, g_hidden=(8, 8), d_hidden=(8,), d_dropout=0.0),
        DCGANConfig(resolution=16, channels=3, latent_dim=6, g_width=4, d_width=4),
    ],
    ids=["mlp-images", "mlp-points", "dcgan"],
)
def test_gradients_reach_every_parameter(arch) -> None:
    torch.manual_seed(0)
    G, D = build(arch)
    D(G(torch.randn(8, arch.latent_dim))).square().mean().backward()
    for name, p in list(G.named_parameters()) + list(D.named_parameters()):
        assert p.grad is not None, f"{name} got no gradient"
        assert p.grad.abs().sum() > 0, f"{name} got a zero gradient"


def test_dcgan_errors_name_the_expected_shape() -> None:
    G, D = build(DCGANConfig(resolution=32, channels=3, latent_dim=10, g_width=4, d_width=4))
    with pytest.raises(ValueError, match=r"\(B, 10\)"):
        G(torch.randn(B, 11))
    with pytest.raises(ValueError, match=r"\(B, 10\)"):
        G(torch.randn(B, 10, 1, 1))
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)") as info:
        D(torch.randn(B, 1, 32, 32))
    assert "(4, 1, 32, 32)" in str(info.value)
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        D(torch.randn(B, 3, 16, 16))


@pytest.mark.parametrize("resolution", [8, 48, 128])
def test_dcgan_unsupported_resolution(resolution: int) -> None:
    with pytest.raises(ValueError, match=str(resolution)):
        DCGANConfig(resolution=resolution)


def test_build_rejects_unknown_configs() -> None:
    with pytest.raises(ValueError):
        build(object())


def test_mlp_generator_with_a_linear_output_reaches_any_point() -> None:
    torch.manual_seed(0)
    linear = MLPGenerator(MLPConfig(data_shape=(2,), latent_dim=4, g_output="linear"))
    assert not any(isinstance(m, nn.Tanh) for m in linear.modules())
    with torch.no_grad():
        linear.net[-1].bias.fill_(3.0)  # a point tanh could never give
        out = linear(torch.zeros(5, 4))
    assert out.shape == (5, 2) and (out > 1).all()
    tanh = MLPGenerator(MLPConfig(data_shape=(2,), latent_dim=4))
    assert isinstance(tanh.net[-1], nn.Tanh)


@pytest.mark.parametrize("batch_norm, in_g, in_d", [("both", True, True), ("g", True, False),
                                                    ("d", False, True), ("none", False, False)])
def test_dcgan_batch_norm_only_where_asked(batch_norm: str, in_g: bool, in_d: bool) -> None:
    cfg = DCGANConfig(resolution=16, channels=1, g_width=8, d_width=8, batch_norm=batch_norm)
    G, D = DCGANGenerator(cfg), DCGANDiscriminator(cfg)
    for net, has_bn in ((G, in_g), (D, in_d)):
        assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == has_bn
        convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        # Without batch norm every hidden convolution carries a bias, initialised to zero; the
        # output layer never has one.
        biased = [m for m in convs[:-1] if m.bias is not None]
        assert len(biased) == (0 if has_bn else len(convs) - 1)
        assert all((m.bias == 0).all() for m in biased)
        assert convs[-1].bias is None
    assert G(torch.randn(3, cfg.latent_dim)).shape == (3, 1, 16, 16)
    assert D(torch.randn(3, 1, 16, 16)).shape == (3,)
