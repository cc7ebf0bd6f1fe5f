"""Tests for ganlab.layers: equalized learning rate, PixelNorm, minibatch standard deviation.

Expected values are written out from the paper's formulas here, not taken from the layers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganlab.layers import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# ---------------------------------------------------------------- equalized learning rate


@pytest.mark.parametrize("gain", [math.sqrt(2), 1.0, 0.25])
def test_equalized_linear_scale_is_gain_over_sqrt_fan_in(gain: float) -> None:
    layer = EqualizedLinear(12, 5, gain=gain)
    expected_scale = gain / math.sqrt(12)
    assert layer.scale == pytest.approx(expected_scale, rel=1e-12)
    torch.testing.assert_close(layer.effective_weight(), layer.weight * expected_scale)
    x = torch.randn(3, 12)
    torch.testing.assert_close(layer(x), x @ (layer.weight * expected_scale).T + layer.bias)


@pytest.mark.parametrize(("kernel", "padding"), [(3, 1), (1, 0), (4, 0)])
def test_equalized_conv_scale_and_forward(kernel: int, padding: int) -> None:
    in_ch, out_ch = 6, 4
    conv = EqualizedConv2d(in_ch, out_ch, kernel, padding=padding)
    fan_in = in_ch * kernel * kernel
    expected_scale = math.sqrt(2) / math.sqrt(fan_in)
    assert conv.scale == pytest.approx(expected_scale, rel=1e-12)
    torch.testing.assert_close(conv.effective_weight(), conv.weight * expected_scale)
    with torch.no_grad():
        conv.bias.normal_()  # make the bias visible in the comparison
    x = torch.randn(2, in_ch, 8, 8)
    expected = F.conv2d(x, conv.weight * expected_scale, conv.bias, padding=padding)
    torch.testing.assert_close(conv(x), expected)


def test_equalized_conv_default_padding_keeps_size() -> None:
    conv = EqualizedConv2d(3, 5, 3)
    assert conv(torch.randn(1, 3, 7, 7)).shape == (1, 5, 7, 7)


def test_bias_is_zero_and_not_scaled() -> None:
    linear, conv = EqualizedLinear(8, 3), EqualizedConv2d(8, 3, 3)
    assert torch.equal(linear.bias, torch.zeros(3))
    assert torch.equal(conv.bias, torch.zeros(3))
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.fill_(2.5)
    # With a zero weight the output is the raw bias: the bias is not multiplied by scale.
    torch.testing.assert_close(linear(torch.randn(4, 8)), torch.full((4, 3), 2.5))


def test_no_bias_option() -> None:
    assert EqualizedLinear(4, 2, bias=False).bias is None
    assert EqualizedConv2d(4, 2, 3, bias=False).bias is None


def test_stored_weights_are_standard_normal() -> None:
    weight = EqualizedLinear(1000, 1000).weight.detach()  # 1e6 samples
    assert abs(weight.mean().item()) < 0.01
    assert abs(weight.std().item() - 1.0) < 0.01
    conv_weight = EqualizedConv2d(64, 64, 3).weight.detach()  # 36,864 samples
    assert abs(conv_weight.mean().item()) < 0.03
    assert abs(conv_weight.std().item() - 1.0) < 0.03


def test_deep_stack_keeps_signal_variance_of_order_one() -> None:
    layers = []
    for _ in range(8):
        layers += [EqualizedConv2d(32, 32, 3), torch.nn.LeakyReLU(0.2)]
    stack = torch.nn.Sequential(*layers)
    x = torch.randn(4, 32, 16, 16)
    with torch.no_grad():
        var = stack(x).var().item()
    assert 0.1 < var < 10.0, var
    # Without the run-time scale the same N(0, 1) weights blow the signal up by ~(fan_in)^8.
    with torch.no_grad():
        h = x
        for layer in stack:
            h = F.conv2d(h, layer.weight, padding=1) if hasattr(layer, "weight") else layer(h)
    assert h.var().item() > 1e6


# ---------------------------------------------------------------- PixelNorm


@pytest.mark.parametrize("shape", [(5, 7), (3, 6, 4, 4)])
def test_pixelnorm_gives_unit_mean_square_per_pixel(shape: tuple[int, ...]) -> None:
    x = 3.0 * torch.randn(*shape) + 0.5
    y = PixelNorm()(x)
    torch.testing.assert_close(
        y.square().mean(dim=1), torch.ones(shape[:1] + shape[2:]), atol=1e-5, rtol=0
    )


def test_pixelnorm_matches_formula() -> None:
    x = torch.randn(2, 5, 3, 3, dtype=torch.float64)
    out = PixelNorm(eps=1e-8)(x)
    xn = x.numpy()
    expected = np.empty_like(xn)
    for b in range(2):
        for i in range(3):
            for j in range(3):
                a = xn[b, :, i, j]
                expected[b, :, i, j] = a / math.sqrt(np.mean(a**2) + 1e-8)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=0)


# ---------------------------------------------------------------- minibatch stddev


def _expected_mbstd(x: np.ndarray, group_size: int) -> np.ndarray:
    """Per-group statistic with explicit loops: sample i is in group i % (B // G)."""
    batch = x.shape[0]
    num_groups = batch // group_size
    stats = np.zeros(batch)
    for g in range(num_groups):
        members = [i for i in range(batch) if i % num_groups == g]
        assert len(members) == group_size
        stds = []
        for c in range(x.shape[1]):
            for h in range(x.shape[2]):
                for w in range(x.shape[3]):
                    values = [x[i, c, h, w] for i in members]
                    mean = sum(values) / len(values)
                    var = sum((v - mean) ** 2 for v in values) / len(values)
                    stds.append(math.sqrt(var + 1e-8))
        for i in members:
            stats[i] = sum(stds) / len(stds)
    return stats


def test_mbstd_hand_made_batch() -> None:
    # B=4, group 2: groups are {0, 2} and {1, 3}.
    x = np.zeros((4, 2, 1, 2))
    x[0] = [[[0.0, 1.0]], [[2.0, 3.0]]]
    x[1] = [[[5.0, 5.0]], [[5.0, 5.0]]]
    x[2] = [[[2.0, 1.0]], [[2.0, 7.0]]]
    x[3] = [[[5.0, 5.0]], [[5.0, 5.0]]]
    out = MinibatchStdDev(group_size=2)(torch.tensor(x, dtype=torch.float64))
    assert out.shape == (4, 3, 1, 2)
    torch.testing.assert_close(out[:, :2], torch.tensor(x))  # the input passes through
    # Group {0, 2}: per-feature variances 1, 0, 0, 4 -> stds sqrt(var + 1e-8), averaged.
    # Group {1, 3}: identical samples -> every std is sqrt(1e-8) = 1e-4.
    g02 = (math.sqrt(1 + 1e-8) + 2 * math.sqrt(1e-8) + math.sqrt(4 + 1e-8)) / 4
    expected = np.array([g02, 1e-4, g02, 1e-4])
    np.testing.assert_allclose(out[:, 2, 0, 0].numpy(), expected, atol=1e-7)
    np.testing.assert_allclose(
        out[:, 2].numpy(), np.broadcast_to(expected[:, None, None], (4, 1, 2)), atol=1e-7
    )


@pytest.mark.parametrize(("batch", "group"), [(8, 4), (6, 3), (4, 1)])
def test_mbstd_matches_loops(batch: int, group: int) -> None:
    x = torch.randn(batch, 3, 2, 2, dtype=torch.float64)
    out = MinibatchStdDev(group_size=group)(x)
    assert out.shape == (batch, 4, 2, 2)
    expected = _expected_mbstd(x.numpy(), group)
    np.testing.assert_allclose(
        out[:, 3].numpy(), np.broadcast_to(expected[:, None, None], (batch, 2, 2)), rtol=1e-10
    )


def test_mbstd_batch_smaller_than_group_uses_whole_batch() -> None:
    x = torch.randn(2, 3, 2, 2, dtype=torch.float64)
    out = MinibatchStdDev(group_size=4)(x)
    expected = _expected_mbstd(x.numpy(), 2)
    np.testing.assert_allclose(out[:, 3, 0, 0].numpy(), expected, rtol=1e-10)


def test_mbstd_indivisible_batch_raises() -> None:
    with pytest.raises(ValueError, match=r"batch size 6 .*group size 4"):
        MinibatchStdDev(group_size=4)(torch.randn(6, 3, 4, 4))


def test_mbstd_rejects_non_image_input() -> None:
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        MinibatchStdDev()(torch.randn(4, 3))
