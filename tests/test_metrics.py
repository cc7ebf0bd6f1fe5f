"""Tests for ganlab.metrics: mode coverage on the 2-D mixtures, shape recognition."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
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


def test_shape_classifier_features_are_its_penultimate_layer(small_classifier) -> None:
    x = data.shapes(16, 8, seed=3).tensors()
    feats = small_classifier.features(x)
    assert feats.shape == (8, 64)
    assert bool((feats >= 0).all())  # after a ReLU
    torch.testing.assert_close(small_classifier[-1](feats), small_classifier(x))


def test_shape_calibration_orders_real_blurred_noise(small_classifier) -> None:
    cal = metrics.shape_calibration(16, small_classifier, n=300)
    assert list(cal) == ["real", "blurred", "noise"]
    assert all(r.num_samples == 300 for r in cal.values())
    real, blurred, noise = (cal[k].recognised for k in ("real", "blurred", "noise"))
    assert real >= 0.8, cal["real"]
    assert real - blurred >= 0.3, cal
    assert noise <= 0.05, cal["noise"]


def test_gaussian_blur_against_its_formula() -> None:
    sigma = 1.3
    x = torch.zeros(1, 1, 21, 21)
    x[0, 0, 10, 10] = 1.0  # an impulse: its blur is the kernel itself
    out = metrics.gaussian_blur(x, sigma)[0, 0]
    r = torch.arange(-4, 5, dtype=torch.float32)  # radius ceil(3 sigma) = 4
    g = torch.exp(-r**2 / (2 * sigma**2))
    g = g / g.sum()
    expected = torch.zeros(21, 21)
    expected[6:15, 6:15] = g[:, None] * g[None, :]
    torch.testing.assert_close(out, expected)
    flat = torch.full((2, 3, 9, 9), 0.3)
    torch.testing.assert_close(metrics.gaussian_blur(flat, 2.0), flat)  # replicate padding
    with pytest.raises(ValueError, match="sigma"):
        metrics.gaussian_blur(flat, 0.0)


def test_the_default_shape_judge_is_the_shipped_file(monkeypatch: pytest.MonkeyPatch) -> None:
    path = metrics.SHIPPED_SHAPE_JUDGES[32]
    state = torch.load(path, weights_only=True)  # runs no pickled code
    assert state["format"] == "ganlab-shape-judge"
    assert state["settings"] == {"resolution": 32, **metrics.SHAPE_JUDGE_SETTINGS}
    monkeypatch.setattr(metrics, "_CLASSIFIERS", {})
    monkeypatch.setattr(metrics, "train_shape_classifier",
                        lambda *a, **k: pytest.fail("the shipped judge was retrained"))
    judge = metrics.shape_classifier(32)
    for name, value in judge.state_dict().items():
        assert torch.equal(value, state["weights"][name])
    assert not judge.training and not any(p.requires_grad for p in judge.parameters())
    with pytest.raises(ValueError, match="trained with"):
        metrics.load_shape_classifier(path, {"resolution": 32, "n": 64, "steps": 1, "seed": 0})
    # It is the judge its script trains, and it reads held-out real shapes, not noise.
    cal = metrics.shape_calibration(32, judge, n=300)
    assert cal["real"].recognised >= 0.95, cal["real"]
    assert cal["real"].recognised - cal["blurred"].recognised >= 0.5, cal
    assert cal["noise"].recognised <= 0.01, cal["noise"]


def test_a_damaged_shipped_shape_judge_is_retrained_with_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "shape_judge8.pt"
    bad.write_bytes(b"not a judge")
    monkeypatch.setattr(metrics, "SHIPPED_SHAPE_JUDGES", {8: bad})
    monkeypatch.setattr(metrics, "SHAPE_JUDGE_SETTINGS", {"n": 128, "steps": 2, "seed": 5})
    monkeypatch.setattr(metrics, "_CLASSIFIERS", {})
    with pytest.warns(UserWarning, match="shape_judge8.pt is unusable"):
        judge = metrics.shape_classifier(8, n=128, steps=2, seed=5)
    trained = metrics.train_shape_classifier(8, n=128, steps=2, seed=5)
    for a, b in zip(judge.parameters(), trained.parameters()):
        assert torch.equal(a, b)


def test_a_saved_shape_judge_loads_back(tmp_path: Path) -> None:
    model = metrics.train_shape_classifier(8, n=128, steps=2, seed=5)
    path = tmp_path / "judge.pt"
    metrics.save_shape_classifier(model, path, 8, 128, 2, 5)
    back = metrics.load_shape_classifier(path, {"resolution": 8, "n": 128, "steps": 2, "seed": 5})
    x = data.shapes(8, 4, seed=3).tensors()
    assert torch.equal(back(x), model(x))
    with pytest.raises(ValueError, match="not a ganlab shape judge"):
        metrics.load_shape_classifier(metrics.SHIPPED_JUDGE)  # the digit judge


# ---------------------------------------------------------------- digit recognition
@pytest.fixture(scope="module")
def judge(tmp_path_factory: pytest.TempPathFactory):
    """The judge with its default settings: the shipped one (an empty cache directory, so
    nothing cached by an earlier session can stand in for it)."""
    return metrics.digit_judge(directory=tmp_path_factory.mktemp("cache"))


def test_the_shipped_judge_is_weights_only_with_its_settings(judge) -> None:
    assert metrics.SHIPPED_JUDGE.is_file()
    state = torch.load(metrics.SHIPPED_JUDGE, weights_only=True)  # runs no pickled code
    assert state["format"] == "ganlab-digit-judge"
    assert state["version"] == metrics.DIGIT_JUDGE_VERSION
    assert state["settings"] == {"steps": metrics.JUDGE_STEPS, "seed": 0}
    assert all(v.dtype == torch.float16 for v in state["weights"].values())
    for name, value in judge.state_dict().items():  # the default judge is the shipped one
        assert torch.equal(value, state["weights"][name].float())
    with pytest.raises(ValueError, match="trained with"):
        metrics.load_digit_judge(metrics.SHIPPED_JUDGE, steps=5, seed=0)


def test_digit_calibration_real_blurred_noise(judge) -> None:
    cal = metrics.digit_calibration(judge)
    assert list(cal) == ["real", "blurred", "noise"]
    real, blurred, noise = cal["real"], cal["blurred"], cal["noise"]
    assert real.num_samples == 1000  # 100 held-out digits of each class
    assert real.confident >= 0.95, real  # sure of real digits it never saw
    at32 = metrics.digit_calibration(judge, resolution=32)["real"]  # as a 32 px GAN's digits
    assert at32.confident >= 0.95, at32
    assert real.classes == 10 and real.kl_uniform < 0.02, real
    assert real.confident - blurred.confident >= 0.25, cal
    assert blurred.confident - noise.confident >= 0.1, cal
    assert noise.confident <= 0.02 and noise.classes <= 1, noise
    assert noise.rejected >= 0.95, noise


def test_held_out_digits_are_read_as_their_own_class(judge) -> None:
    ds = data.mnist5k()
    _, held = metrics.mnist5k_split(ds.labels)
    with torch.no_grad():
        predicted = judge(ds.tensors()[held]).argmax(dim=1)
    assert float((predicted == ds.labels[held]).float().mean()) >= 0.93


def test_a_generator_of_one_digit_scores_one_class(judge) -> None:
    ds = data.mnist5k(32)  # at a GAN's 32 px: the judge resizes to 28
    _, held = metrics.mnist5k_split(ds.labels)
    sevens = ds.tensors()[held][ds.labels[held] == 7]  # (100, 1, 32, 32)
    r = metrics.digit_recognition(sevens.repeat(3, 1, 1, 1), judge)
    assert r.classes == 1, r
    assert r.counts[7] == max(r.counts) and r.confident >= 0.8, r
    p = np.array(r.counts, dtype=float) / sum(r.counts)
    expected = sum(q * math.log(q / 0.1) for q in p if q > 0)
    assert r.kl_uniform == pytest.approx(expected, rel=1e-9)
    assert r.kl_uniform > 2.0  # close to log 10 = 2.303, the most a 10-class histogram can be


class _PixelJudge(torch.nn.Module):
    """A stand-in judge: sample i's top-left pixel p says its class, its next pixel how sure."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cls = x[:, 0, 0, 0].round().long()  # 0-9 digits, 10 "not a digit"
        sure = x[:, 0, 0, 1]
        return torch.nn.functional.one_hot(cls, 11).float() * sure[:, None]  # (N, 11) logits


def _coded(classes: list[int], sure: float) -> torch.Tensor:
    x = torch.zeros(len(classes), 1, 8, 8)
    x[:, 0, 0, 0] = torch.tensor(classes, dtype=torch.float32)
    x[:, 0, 0, 1] = sure
    return x


def test_digit_recognition_counts_and_kl_against_the_formula() -> None:
    # 100 confident: 50 zeros, 30 ones, 18 twos, 2 threes (2% < 3%); 20 unsure; 10 rejected.
    classes = [0] * 50 + [1] * 30 + [2] * 18 + [3] * 2
    x = torch.cat([_coded(classes, 20.0), _coded([5] * 20, 1.0), _coded([10] * 10, 20.0)])
    r = metrics.digit_recognition(x, _PixelJudge())
    assert r.num_samples == 130
    assert r.counts == (50, 30, 18, 2, 0, 0, 0, 0, 0, 0)
    assert r.confident == pytest.approx(100 / 130)
    assert r.rejected == pytest.approx(10 / 130)
    assert r.classes == 3  # the threes have 2% of the confident samples, under 3%
    p = np.array([0.5, 0.3, 0.18, 0.02])
    assert r.kl_uniform == pytest.approx(float(np.sum(p * np.log(p / 0.1))), rel=1e-9)
    assert metrics.digit_recognition(x, _PixelJudge(), min_share=0.01).classes == 4
    # e^1 / (e^1 + 10) = 0.21: the unsure ones count only under a threshold below that.
    assert metrics.digit_recognition(x, _PixelJudge(), threshold=0.2).counts[5] == 20
    uniform = metrics.digit_recognition(_coded(list(range(10)) * 7, 20.0), _PixelJudge())
    assert uniform.classes == 10 and uniform.kl_uniform == pytest.approx(0.0, abs=1e-12)
    assert "10/10 digits" in str(uniform) and "70 images" in str(uniform)


def test_digit_recognition_without_confident_samples() -> None:
    r = metrics.digit_recognition(_coded([10] * 5, 20.0), _PixelJudge())
    assert r.confident == 0.0 and r.classes == 0 and r.counts == (0,) * 10
    assert math.isnan(r.kl_uniform) and "n/a" in str(r)


@pytest.mark.parametrize(
    ("samples", "kwargs", "pattern"),
    [
        (torch.zeros(4, 3, 28, 28), {}, r"\(N, 1, R, R\).*got \(4, 3, 28, 28\)"),
        (torch.zeros(4, 28, 28), {}, r"\(N, 1, R, R\)"),
        (torch.zeros(4, 1, 28, 20), {}, r"\(N, 1, R, R\)"),
        (torch.zeros(4, 1, 4, 4), {}, r"R >= 8"),
        (torch.zeros(4, 1, 28, 28), {"threshold": 0.0}, "threshold"),
        (torch.zeros(4, 1, 28, 28), {"min_share": 1.5}, "min_share"),
    ],
)
def test_digit_recognition_bad_input(samples, kwargs, pattern) -> None:
    judge = metrics.DigitJudge().eval()  # untrained: the checks come before any reading
    with pytest.raises(ValueError, match=pattern):
        metrics.digit_recognition(samples, judge, **kwargs)


def test_judge_features_are_its_penultimate_layer(judge) -> None:
    x = data.mnist5k(32).tensors(6)
    feats = judge.features(x)
    assert feats.shape == (6, 128)
    torch.testing.assert_close(judge.head(feats), judge(x))
    # 28 px input and the same digits at 32 px give close features (the judge resizes to 28).
    close = judge.features(data.mnist5k().tensors(6))
    assert torch.nn.functional.cosine_similarity(feats, close).min() > 0.9


def test_mnist5k_split_holds_out_100_per_class() -> None:
    labels = data.mnist5k().labels
    train, held = metrics.mnist5k_split(labels)
    assert len(train) == 4000 and len(held) == 1000
    assert not set(train.tolist()) & set(held.tolist())
    assert torch.bincount(labels[held], minlength=10).tolist() == [100] * 10
    with pytest.raises(ValueError, match="held_out_per_class"):
        metrics.mnist5k_split(labels, held_out_per_class=500)


def test_judge_training_is_deterministic_and_keeps_the_global_rng() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = metrics.train_digit_judge(steps=3, seed=5, batch_size=16)
    assert torch.equal(torch.rand(3), expected)
    b = metrics.train_digit_judge(steps=3, seed=5, batch_size=16)
    c = metrics.train_digit_judge(steps=3, seed=6, batch_size=16)
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(pa, pb)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.state_dict().values(),
                                                          c.state_dict().values()))
    with pytest.raises(ValueError, match="steps >= 1"):
        metrics.train_digit_judge(steps=0)
    with pytest.raises(ValueError, match="batch_size >= 4"):
        metrics.train_digit_judge(steps=1, batch_size=2)


def test_jitter_moves_half_of_the_digits_and_keeps_the_background() -> None:
    x = data.mnist5k().tensors(200)
    out = metrics._jitter(x, torch.Generator().manual_seed(0))
    same = (out == x).flatten(1).all(dim=1)
    assert 70 < int(same.sum()) < 130  # about half untouched
    assert out.shape == x.shape and out.min() >= -1 and out.max() <= 1
    assert torch.allclose(out[~same][:, :, 0, 0], torch.full_like(out[~same][:, :, 0, 0], -1))
    # A moved digit keeps about its ink: rotation, a 10% zoom and a 2 px shift lose little.
    ink = lambda t: (t + 1).sum(dim=(1, 2, 3))  # noqa: E731
    ratio = ink(out[~same]) / ink(x[~same])
    assert ((ratio > 0.75) & (ratio < 1.3)).all(), ratio


def test_judge_is_cached_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(metrics.CACHE_ENV, str(tmp_path / "cache"))
    assert metrics.cache_dir() == tmp_path / "cache"
    first = metrics.digit_judge(steps=2, seed=3)
    (path,) = (tmp_path / "cache").iterdir()
    assert path.name == f"digit_judge_v{metrics.DIGIT_JUDGE_VERSION}_steps2_seed3.pt"
    state = torch.load(path, weights_only=True)  # weights only: no pickled code
    assert state["settings"] == {"steps": 2, "seed": 3}
    metrics._JUDGES.clear()

    def no_training(*args, **kwargs):
        raise AssertionError("the cached judge should have been loaded, not trained")

    monkeypatch.setattr(metrics, "train_digit_judge", no_training)
    again = metrics.digit_judge(steps=2, seed=3)
    assert again is not first
    for pa, pb in zip(first.state_dict().values(), again.state_dict().values()):
        assert torch.equal(pa, pb)
    assert metrics.digit_judge(steps=2, seed=3) is again  # and kept for the session
    monkeypatch.undo()

    metrics._JUDGES.clear()
    path.write_bytes(b"not a judge")
    with pytest.warns(UserWarning, match="retraining the digit judge"):
        retrained = metrics.digit_judge(steps=2, seed=3, directory=tmp_path / "cache")
    for pa, pb in zip(first.state_dict().values(), retrained.state_dict().values()):
        assert torch.equal(pa, pb)
    assert torch.load(path, weights_only=True)["format"] == "ganlab-digit-judge"


# ---------------------------------------------------------------- recognition against real data
def test_recognition_vs_real_divides_by_the_same_judge_on_real_shapes() -> None:
    fresh = data.shapes(32, 400, seed=5).data  # real shapes neither the judge nor seed 77 hold
    vs = metrics.recognition_vs_real(fresh, "shapes")
    real = metrics.shape_calibration(32)["real"].recognised
    assert vs.real_share == real and vs.share == metrics.shape_recognition(fresh).recognised
    assert vs.of_real == pytest.approx(vs.share / real)
    assert 0.95 < vs.of_real < 1.02  # fresh real data is as recognisable as held-out data
    noise = torch.rand(400, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert metrics.recognition_vs_real(noise, "shapes").of_real == 0.0
    text = str(vs)
    assert "of real" in text and "held-out real shapes at 32 px" in text


def test_recognition_vs_real_reads_larger_shapes_averaged_down_to_32_px() -> None:
    big = data.shapes(64, 300, seed=5).data
    vs = metrics.recognition_vs_real(big, "shapes")
    small = metrics.shape_recognition(F.interpolate(big, size=32, mode="area"))
    assert vs.share == small.recognised and vs.resolution == 64
    assert "held-out real shapes at 32 px" in str(vs)  # read where the judge reads
    assert vs.of_real > 0.95


def test_recognition_vs_real_of_the_held_out_digits_is_exactly_one() -> None:
    ds = data.mnist5k(32)
    _, held = metrics.mnist5k_split(ds.labels)
    vs = metrics.recognition_vs_real(ds.tensors()[held], "mnist-5k")
    assert vs.of_real == 1.0 and vs.real_share == vs.share
    assert vs.real.num_samples == 1000 and vs.resolution == 32


def test_recognition_vs_real_errors() -> None:
    with pytest.raises(ValueError, match="at least 32 px"):
        metrics.recognition_vs_real(torch.zeros(4, 3, 16, 16), "shapes")
    with pytest.raises(ValueError, match="no recognising judge for data set 'ring8'"):
        metrics.recognition_vs_real(torch.zeros(4, 2), "ring8")
    with pytest.raises(ValueError, match=r"expected images \(N, C, R, R\)"):
        metrics.recognition_vs_real(torch.zeros(4, 32, 32), "mnist-5k")
    assert metrics.recognisable("mnist-5k", 28) and not metrics.recognisable("shapes", 16)
    nothing = metrics.ShapeRecognition(0.0, {}, 1.0, 10)
    assert math.isnan(metrics.VersusReal("shapes", nothing, nothing, 32).of_real)


def test_live_pixels_counts_outputs_tanh_still_passes_gradient_through():
    # tanh outputs of pre-activations 0, 1, 2.5 and 3 (|x| 0, 0.76, 0.987, 0.995) and +-20
    pre = torch.tensor([0.0, 1.0, -2.5, 3.0, 20.0, -20.0])
    x = torch.tanh(pre).view(1, 1, 2, 3)
    assert metrics.live_pixels(x) == pytest.approx(3 / 6)
    assert metrics.live_pixels(x, bound=0.5) == pytest.approx(1 / 6)
    # the definition: tanh's derivative 1 - x^2 is above 1 - bound^2 exactly where |x| < bound
    gate = 1 - x ** 2
    assert metrics.live_pixels(x) == pytest.approx((gate > 1 - 0.99 ** 2).float().mean().item())
    blank = -torch.ones(4, 1, 8, 8)  # a collapsed G: every pixel pinned at black
    assert metrics.live_pixels(blank) == 0.0


@pytest.mark.parametrize("bad, match", [
    (torch.zeros(2, 3, dtype=torch.long), "float tensor"),
    ([0.0, 0.5], "float tensor"),
    (torch.zeros(0), "no samples"),
])
def test_live_pixels_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        metrics.live_pixels(bad)


@pytest.mark.parametrize("bound", [0.0, 1.0, 1.5])
def test_live_pixels_rejects_a_bound_outside_the_open_unit_interval(bound):
    with pytest.raises(ValueError, match=r"bound must be in \(0, 1\)"):
        metrics.live_pixels(torch.zeros(3), bound=bound)
