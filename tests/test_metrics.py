"""Tests for ganlab.metrics: mode coverage on the 2-D mixtures, shape recognition."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ganlab import data, metrics
from ganlab.data import grid25, ring8
from ganlab.metrics import mode_coverage


def test_real_samples_cover_every_mode_ring8() -> None:
    ds = ring8(20_000, seed=1)
    cov = mode_coverage(ds.data, ds.mixture)
    assert (cov.modes_captured, cov.num_modes) == (8, 8)
    # A 2-D isotropic Gaussian lies within radius 3 std with probability 1 - exp(-9/2).
    expected = 1 - math.exp(-4.5)  # 0.9889
    assert cov.high_quality == pytest.approx(expected, abs=0.004)
    assert sum(cov.counts) == round(cov.high_quality * 20_000)
    assert len(cov.counts) == 8


def test_real_samples_cover_every_mode_grid25() -> None:
    ds = grid25(20_000, seed=2)
    cov = mode_coverage(ds.data, ds.mixture)
    assert (cov.modes_captured, cov.num_modes) == (25, 25)
    assert cov.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.004)


def test_all_samples_on_one_centre_capture_one_mode() -> None:
    mixture = ring8(10).mixture
    samples = mixture.centers[3].expand(2500, 2).clone()
    cov = mode_coverage(samples, mixture)
    assert cov.modes_captured == 1
    assert cov.high_quality == 1.0
    assert cov.counts[3] == 2500 and sum(cov.counts) == 2500


def test_samples_far_away_have_no_quality() -> None:
    mixture = ring8(10).mixture
    samples = torch.full((1000, 2), 5.0)
    cov = mode_coverage(samples, mixture)
    assert cov.high_quality == 0.0
    assert cov.modes_captured == 0
    # Just outside 3 std of a centre is not high quality; just inside is.
    centre, std = mixture.centers[0], mixture.std
    outside = (centre + torch.tensor([3.05 * std, 0.0])).expand(100, 2)
    inside = (centre + torch.tensor([0.0, 2.95 * std])).expand(100, 2)
    assert mode_coverage(outside, mixture).high_quality == 0.0
    assert mode_coverage(inside, mixture).high_quality == 1.0


def test_a_mode_needs_pacgans_share_of_samples() -> None:
    # PacGAN: a mode counts when it gets >= 20 of 2,500 high-quality samples.
    mixture = ring8(10).mixture
    c = mixture.centers
    samples = torch.cat([c[0].expand(2461, 2), c[1].expand(19, 2), c[2].expand(20, 2)])
    cov = mode_coverage(samples, mixture)
    assert cov.counts[:3] == (2461, 19, 20)
    assert cov.modes_captured == 2
    assert mode_coverage(samples, mixture, min_count=19).modes_captured == 3


def test_wrong_shape_is_rejected() -> None:
    mixture = ring8(10).mixture
    for bad in (torch.zeros(10, 3), torch.zeros(10), torch.zeros(2, 5, 2)):
        with pytest.raises(ValueError, match=r"\(N, 2\)"):
            mode_coverage(bad, mixture)


def test_str_reports_both_numbers() -> None:
    ds = ring8(2500, seed=0)
    text = str(mode_coverage(ds.data, ds.mixture))
    assert "8/8" in text and "%" in text


# ---------------------------------------------------------------- shape recognition
@pytest.fixture(scope="module")
def small_classifier():
    return metrics.shape_classifier(16, n=2048, steps=250)


def test_real_shapes_are_recognised_noise_is_not(small_classifier) -> None:
    real = data.shapes(16, 600, seed=77)  # a seed neither the GANs nor the classifier train on
    r = metrics.shape_recognition(real.data, small_classifier)
    assert r.recognised >= 0.85, r
    assert min(r.counts.values()) >= 0.2 * 600, r  # every shape, not just one
    assert sum(r.counts.values()) == round(r.recognised * 600)
    assert r.num_samples == 600
    for junk in (torch.rand(200, 3, 16, 16) * 2 - 1, torch.zeros(200, 3, 16, 16)):
        j = metrics.shape_recognition(junk, small_classifier)
        assert j.recognised <= 0.05, j


def test_corrupted_shapes_are_rejected(small_classifier) -> None:
    real = data.shapes(16, 300, seed=78).data
    blurred = F.avg_pool2d(F.pad(real, (2, 2, 2, 2), mode="replicate"), 5, 1)
    r = metrics.shape_recognition(blurred, small_classifier)
    assert r.rejected >= 0.8, r
    assert r.recognised + r.rejected <= 1.0


def test_classifier_is_deterministic_and_keeps_the_global_rng() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = metrics.shape_classifier(8, n=128, steps=2, seed=5)
    assert torch.equal(torch.rand(3), expected)  # training did not draw from the global RNG
    metrics._CLASSIFIERS.clear()
    b = metrics.shape_classifier(8, n=128, steps=2, seed=5)
    assert a is not b
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert metrics.shape_classifier(8, n=128, steps=2, seed=5) is b  # cached


@pytest.mark.parametrize(
    ("samples", "kwargs", "pattern"),
    [
        (torch.zeros(4, 1, 16, 16), {}, r"\(N, 3, R, R\), got \(4, 1, 16, 16\)"),
        (torch.zeros(4, 3, 16, 8), {}, r"\(N, 3, R, R\)"),
        (torch.zeros(3, 16, 16), {}, r"\(N, 3, R, R\)"),
        (torch.zeros(4, 3, 16, 16), {"threshold": 1.0}, "threshold"),
    ],
)
def test_shape_recognition_bad_input(small_classifier, samples, kwargs, pattern) -> None:
    with pytest.raises(ValueError, match=pattern):
        metrics.shape_recognition(samples, small_classifier, **kwargs)


def test_shape_classifier_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least 8x8"):
        metrics.shape_classifier(4)
    with pytest.raises(ValueError, match="n >= 64"):
        metrics.shape_classifier(16, n=10)
