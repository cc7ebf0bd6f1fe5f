"""Tests for ganlab.evaluation: each metric against a formula written out here (or scipy), and
sanity checks of the whole evaluation on real, noisy, collapsed and copied samples."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import scipy.linalg
import scipy.ndimage
import scipy.stats
import torch
import torch.nn.functional as F

from ganlab import data, evaluation, metrics
from ganlab.evaluation import (
    Judge,
    data_copying,
    density_coverage,
    evaluate,
    frechet_distance,
    gaussian_frechet_distance,
    kid,
    mann_whitney_z,
    mmd2_unbiased,
    sliced_wasserstein,
    swd,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _random_cov(d: int, seed: int) -> torch.Tensor:
    a = torch.randn(d, d, generator=_gen(seed), dtype=torch.float64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


# ---------------------------------------------------------------- Fréchet distance
def test_gaussian_frechet_distance_matches_the_closed_form_with_scipy_sqrtm() -> None:
    d = 6
    mu1 = torch.randn(d, generator=_gen(0), dtype=torch.float64)
    mu2 = torch.randn(d, generator=_gen(1), dtype=torch.float64)
    c1, c2 = _random_cov(d, 2), _random_cov(d, 3)  # they do not commute
    assert not torch.allclose(c1 @ c2, c2 @ c1)
    covmean = scipy.linalg.sqrtm(c1.numpy() @ c2.numpy()).real
    expected = (float(((mu1 - mu2) ** 2).sum()) + float(np.trace(c1.numpy()))
                + float(np.trace(c2.numpy())) - 2 * float(np.trace(covmean)))
    assert gaussian_frechet_distance(mu1, c1, mu2, c2) == pytest.approx(expected, rel=1e-9)
    assert gaussian_frechet_distance(mu1, c1, mu1, c1) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_of_samples_approaches_the_two_gaussian_value() -> None:
    # Diagonal covariances: FD = |mu1 - mu2|^2 + sum_k (sigma1_k - sigma2_k)^2.
    mu1, mu2 = torch.tensor([0.0, 1.0, -1.0]), torch.tensor([0.5, 1.0, 0.0])
    s1, s2 = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([1.5, 1.0, 0.5])
    n = 200_000
    a = mu1 + s1 * torch.randn(n, 3, generator=_gen(0))
    b = mu2 + s2 * torch.randn(n, 3, generator=_gen(1))
    expected = float(((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum())  # 1.25 + 1.25 = 2.5
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.02)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-9)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_rejects_bad_features() -> None:
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        frechet_distance(torch.zeros(5), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="different sizes"):
        frechet_distance(torch.zeros(5, 2), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(torch.full((5, 2), float("nan")), torch.zeros(5, 2))


# ---------------------------------------------------------------- KID
def test_mmd2_unbiased_matches_the_double_sum_written_out() -> None:
    x = torch.randn(6, 3, generator=_gen(0), dtype=torch.float64)
    y = torch.randn(5, 3, generator=_gen(1), dtype=torch.float64) + 0.3

    def k(a, b):
        return (float(a @ b) / 3 + 1) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    assert mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_kid_is_unbiased_on_equal_distributions() -> None:
    # Many independent pairs of samples from one distribution: the mean of KID is 0 within its
    # standard error, while the biased (V-statistic) estimate, diagonal included, is clearly > 0.
    unbiased, biased = [], []
    for s in range(200):
        x = torch.randn(20, 4, generator=_gen(2 * s), dtype=torch.float64)
        y = torch.randn(20, 4, generator=_gen(2 * s + 1), dtype=torch.float64)
        unbiased.append(kid(x, y, num_subsets=1, rescale=False)[0])
        k = evaluation.polynomial_kernel
        biased.append(float(k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()))
    u, b = torch.tensor(unbiased), torch.tensor(biased)
    se = float(u.std() / math.sqrt(len(u)))
    assert abs(float(u.mean())) < 3 * se, (float(u.mean()), se)
    assert (u < 0).any()  # single estimates can be negative: it is unbiased, not a distance
    assert float(b.mean()) > 10 * se


def test_kid_grows_with_a_shift_and_is_deterministic() -> None:
    x = torch.randn(300, 4, generator=_gen(0))
    values = [kid(x, torch.randn(300, 4, generator=_gen(1)) + t, subset_size=100, seed=3)[0]
              for t in (0.0, 0.5, 1.0)]
    assert values[0] < values[1] < values[2]
    y = torch.randn(300, 4, generator=_gen(1))
    assert kid(x, y, subset_size=100, seed=3) == kid(x, y, subset_size=100, seed=3)
    assert kid(x, y, subset_size=100, seed=3) != kid(x, y, subset_size=100, seed=4)
    mean, std = kid(x, y, subset_size=1000)  # subsets of the whole set: all equal
    rms = x.double().pow(2).mean().sqrt()  # both sets in units of the real set's RMS value
    assert std == 0.0
    assert mean == pytest.approx(mmd2_unbiased(y.double() / rms, x.double() / rms), rel=1e-9)
    raw, _ = kid(x, y, subset_size=1000, rescale=False)
    assert raw == pytest.approx(mmd2_unbiased(y.double(), x.double()), rel=1e-9)
    assert kid(10 * x, 10 * y, subset_size=1000)[0] == pytest.approx(mean, rel=1e-6)


# ---------------------------------------------------------------- density and coverage
def test_density_and_coverage_on_a_hand_computed_line() -> None:
    # Reals at 0, 1, ..., 9 on a line. The distance from i to its 5th nearest other real:
    # i=0 and 9: 5; i=1 and 8: 4 (1,1,2,3,4); i=2..7: 3 (1,1,2,2,3).
    real = torch.stack([torch.arange(10.0), torch.zeros(10)], dim=1)
    # One fake at 4.5 lies within |4.5 - i| < r_i of every real: 10 balls of 10.
    d, c = density_coverage(real, torch.tensor([[4.5, 0.0]]), k=5)
    assert (d, c) == (pytest.approx(10 / 5), pytest.approx(1.0))
    # Fakes at 0 and 9: 0 lies in the balls of 0, 1, 2 (|0 - 3| = 3 is not < r_3 = 3), 9 in
    # those of 9, 8, 7: 6 hits, density 6 / (5 * 2), coverage 6 / 10.
    d, c = density_coverage(real, torch.tensor([[0.0, 0.0], [9.0, 0.0]]), k=5)
    assert (d, c) == (pytest.approx(0.6), pytest.approx(0.6))
    d, c = density_coverage(real, torch.tensor([[20.0, 0.0]]), k=5)
    assert (d, c) == (0.0, 0.0)


def test_density_coverage_checks_k() -> None:
    with pytest.raises(ValueError, match=r"k must lie in \[1, 4\]"):
        density_coverage(torch.randn(5, 2), torch.randn(5, 2), k=5)


# ---------------------------------------------------------------- data copying
def test_mann_whitney_z_matches_scipy_with_ties() -> None:
    x = torch.tensor([0.1, 0.5, 0.5, 0.9, 1.3, 2.0, 0.5])
    y = torch.tensor([0.2, 0.5, 0.7, 1.0, 1.0, 3.0])
    u = scipy.stats.mannwhitneyu(x.numpy(), y.numpy()).statistic  # pairs x > y, ties 1/2
    m, n = len(x), len(y)
    assert mann_whitney_z(x, y) == pytest.approx((u - m * n / 2) /
                                                 math.sqrt(m * n * (m + n + 1) / 12))


def test_data_copying_flags_copies_not_fresh_samples() -> None:
    train = torch.randn(2000, 4, generator=_gen(0))
    heldout = torch.randn(300, 4, generator=_gen(1))
    fresh = torch.randn(300, 4, generator=_gen(2))
    copies = train[:300] + 1e-3 * torch.randn(300, 4, generator=_gen(3))
    far = 3 * torch.randn(300, 4, generator=_gen(4))
    assert abs(data_copying(train, heldout, fresh)) < 3
    assert data_copying(train, heldout, copies) < -15
    assert data_copying(train, heldout, far) > 5


# ---------------------------------------------------------------- SWD
def test_pyramid_matches_the_official_scipy_filters_and_inverts() -> None:
    # The official code: scipy.ndimage.convolve with the 5x5 binomial filter in "mirror" mode.
    x = torch.rand(2, 3, 16, 16, generator=_gen(0), dtype=torch.float64) * 255
    k = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1])[None, None] / 256.0
    down = scipy.ndimage.convolve(x.numpy(), k, mode="mirror")[:, :, ::2, ::2]
    assert np.allclose(evaluation.pyr_down(x).numpy(), down, atol=1e-9)
    small = torch.from_numpy(down)
    zeros = np.zeros((2, 3, 16, 16))
    zeros[:, :, ::2, ::2] = down
    up = scipy.ndimage.convolve(zeros, 4 * k, mode="mirror")
    assert np.allclose(evaluation.pyr_up(small).numpy(), up, atol=1e-9)
    pyramid = evaluation.laplacian_pyramid(x.float(), 3)
    assert [tuple(p.shape[-2:]) for p in pyramid] == [(16, 16), (8, 8), (4, 4)]
    rebuilt = pyramid[-1]
    for level in pyramid[-2::-1]:
        rebuilt = evaluation.pyr_up(rebuilt) + level
    torch.testing.assert_close(rebuilt, x.float(), atol=1e-3, rtol=0)


def test_patch_descriptors_are_the_pixels_around_their_centres() -> None:
    level = torch.arange(2 * 3 * 16 * 16, dtype=torch.float32).view(2, 3, 16, 16)
    patches = evaluation.patch_descriptors(level, per_image=5, size=7, gen=_gen(0))
    assert patches.shape == (10, 3, 7, 7)
    for p, patch in enumerate(patches):
        img = p // 5
        c0 = patch[0]
        y, x = divmod(int(c0[3, 3] - level[img, 0, 0, 0]), 16)  # the centre's position
        assert 3 <= y < 13 and 3 <= x < 13
        torch.testing.assert_close(patch, level[img, :, y - 3:y + 4, x - 3:x + 4])


def test_sliced_wasserstein_in_one_dimension_is_w1_of_sorted_values() -> None:
    a = torch.randn(500, 1, generator=_gen(0))
    b = 2 * torch.randn(500, 1, generator=_gen(1)) + 1
    w1 = float((a.flatten().sort().values - b.flatten().sort().values).abs().mean())
    assert sliced_wasserstein(a, b, gen=_gen(5)) == pytest.approx(w1, rel=1e-5)


def test_sliced_wasserstein_is_zero_for_one_set_and_linear_in_a_translation() -> None:
    a = torch.randn(400, 10, generator=_gen(0))
    e = torch.zeros(10)
    e[3] = 1.0
    assert sliced_wasserstein(a, a, gen=_gen(1)) == 0.0
    one = sliced_wasserstein(a, a + 0.5 * e, gen=_gen(1))
    two = sliced_wasserstein(a, a + 1.0 * e, gen=_gen(1))
    assert one > 0 and two == pytest.approx(2 * one, rel=1e-5)
    # A translation t e moves every projection on a unit direction theta by t theta_3, and
    # sorting keeps the shift: SW = t * mean |theta_3| over the directions drawn (4 x 128).
    g = _gen(1)
    thetas = []
    for _ in range(4):
        d = torch.randn(10, 128, generator=g)
        thetas.append(d / d.norm(dim=0, keepdim=True))
    assert two == pytest.approx(float(torch.cat(thetas, 1)[3].abs().mean()), rel=1e-5)


@pytest.fixture(scope="module")
def shapes32() -> torch.Tensor:
    return data.shapes(32, 96, seed=11).data


def test_swd_is_zero_on_identical_sets_and_grows_with_noise(shapes32: torch.Tensor) -> None:
    same = swd(shapes32, shapes32.clone(), seed=0)
    assert same == {"32": 0.0, "16": 0.0, "avg": 0.0}
    noise = torch.randn(shapes32.shape, generator=_gen(1))
    values = [swd(shapes32, (shapes32 + s * noise).clamp(-1, 1), seed=0)["avg"]
              for s in (0.05, 0.2, 0.5)]
    assert 0 < values[0] < values[1] < values[2], values


def test_swd_ignores_a_global_colour_shift_as_the_protocol_says(shapes32: torch.Tensor) -> None:
    # ProGAN normalises each set's patches per colour channel: 38 grey levels added to every
    # pixel of 8-bit images (no clipping) change nothing; blurring every image does.
    x = torch.round((shapes32 * 0.5 + 1) * 127.5) / 127.5 - 1  # on the 8-bit grid, in [-.5, .5]
    shifted = swd(x, x + 38 / 127.5, seed=0)["avg"]
    assert shifted == pytest.approx(0.0, abs=0.05)
    blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, 1)
    assert swd(x, blurred, seed=0)["32"] > 100 * max(shifted, 0.05)


def test_swd_errors() -> None:
    with pytest.raises(ValueError, match="at least 16x16"):
        swd(torch.zeros(4, 3, 8, 8), torch.zeros(4, 3, 8, 8))
    with pytest.raises(ValueError, match="same shape"):
        swd(torch.zeros(4, 3, 16, 16), torch.zeros(5, 3, 16, 16))


# ---------------------------------------------------------------- feature networks
@pytest.fixture(scope="module")
def judge16():
    return metrics.shape_classifier(16, n=2048, steps=250)


def test_shape_judge_features_are_its_penultimate_activations(judge16) -> None:
    x = data.shapes(16, 8, seed=5).data
    seen = {}
    hook = judge16[-1].register_forward_hook(lambda m, inp, out: seen.update(x=inp[0]))
    try:
        judge16(x)
    finally:
        hook.remove()
    f = judge16.features(x)
    assert f.shape == (8, 64)
    torch.testing.assert_close(f, seen["x"])


def test_weights_hash_names_the_weights(judge16) -> None:
    h = evaluation.weights_hash(judge16)
    assert len(h) == 12 and h == evaluation.weights_hash(judge16)
    other = metrics.shape_classifier(16, n=128, steps=2, seed=9)
    assert evaluation.weights_hash(other) != h


def test_resize_for_names_what_it_did() -> None:
    x = torch.zeros(2, 3, 64, 64)
    assert evaluation.resize_for(x, 32)[1] == "bilinear antialiased 64->32 px"
    assert evaluation.resize_for(x, 32)[0].shape == (2, 3, 32, 32)
    assert evaluation.resize_for(torch.zeros(2, 3, 16, 16), 32)[1] == "bilinear 16->32 px"
    assert evaluation.resize_for(x, 64)[1] == "none"


# ---------------------------------------------------------------- evaluate: sanity
N = 200


@pytest.fixture(scope="module")
def shapes16() -> data.TensorData:
    return data.shapes(16, 1200, seed=0)


@pytest.fixture(scope="module")
def real_result(shapes16, judge16):
    fresh = data.shapes(16, N, seed=123).data  # new real images, not in the data set
    return evaluate(fresh, shapes16, n=N, feature_net=judge16)


def test_real_scores_far_better_than_noise_and_one_repeated_image(shapes16, judge16,
                                                                  real_result) -> None:
    noise = torch.rand(N, 3, 16, 16, generator=_gen(0)) * 2 - 1
    repeated = shapes16.data[700:701].expand(N, -1, -1, -1).clone()
    bad = {name: evaluate(x, shapes16, n=N, feature_net=judge16)
           for name, x in (("noise", noise), ("repeated", repeated))}
    real = real_result.scores
    for name, r in bad.items():
        assert r.scores["FD"] > 10 * real["FD"], (name, r.scores, real)
        assert r.scores["KIDx1e3"] > 10 * max(real["KIDx1e3"], 1.0), (name, r.scores, real)
        assert r.scores["coverage"] < 0.5 * real["coverage"], (name, r.scores, real)
        assert r.scores["SWDx1e3"] > 2 * real["SWDx1e3"], (name, r.scores, real)
    assert bad["repeated"].scores["coverage"] <= 0.1
    # Fresh real images reach about as much of the data as the floor half does, and are no
    # closer to the training set than held-out images. (Their FD can be several times the
    # floor's: at n = 200 in 64 dimensions FD varies a lot from one real draw to the next.)
    assert real["coverage"] > 0.8 * real_result.floors["coverage"]
    assert abs(real["copyZ"]) < 4 and abs(real_result.floors["copyZ"]) < 4


def test_a_memorising_generator_is_caught_by_the_copy_test_alone(shapes16, judge16,
                                                                 real_result) -> None:
    copies = shapes16.data[2 * N:3 * N]  # training images (outside the floor half)
    r = evaluate(copies, shapes16, n=N, feature_net=judge16)
    assert r.scores["copyZ"] < -8
    assert r.scores["FD"] < 3 * real_result.floors["FD"] + 1
    assert r.scores["coverage"] > 0.7


def test_evaluate_is_order_invariant(shapes16, judge16, real_result) -> None:
    fresh = data.shapes(16, N, seed=123).data
    perm = torch.randperm(N, generator=_gen(9))
    r = evaluate(fresh[perm], shapes16, n=N, feature_net=judge16)
    for key in ("FD", "KIDx1e3", "density", "coverage", "copyZ"):
        assert r.scores[key] == pytest.approx(real_result.scores[key], rel=1e-6, abs=1e-9), key
    # SWD draws patch positions per image index: permuting the images draws other patches of
    # them, a small change next to the gap between real and noise.
    assert abs(r.scores["SWDx1e3"] - real_result.scores["SWDx1e3"]) < 0.25 * max(
        real_result.scores["SWDx1e3"], 1.0) + 2


def test_same_protocol_same_numbers(shapes16, judge16, real_result) -> None:
    fresh = data.shapes(16, N, seed=123).data
    again = evaluate(fresh, shapes16, n=N, feature_net=judge16)
    assert again.to_dict() == real_result.to_dict()
    text = str(again.protocol)
    for word in (f"n={N}", "shapes", f"[0, {N})", f"[{N}, {2 * N})",
                 evaluation.weights_hash(judge16), "resize none", "seed 0"):
        assert word in text, (word, text)
    other_seed = evaluate(fresh, shapes16, n=N, seed=1, feature_net=judge16)
    assert other_seed.scores["SWDx1e3"] != again.scores["SWDx1e3"]
    table = again.table()
    assert "real floor" in table and text in table


def test_one_mode_generator_on_ring8_scores_one_mode() -> None:
    ring = data.ring8(4000, seed=0)
    one = ring.mixture.centers[2] + ring.mixture.std * torch.randn(1000, 2, generator=_gen(1))
    r = evaluate(one, ring, n=1000)
    assert r.scores["modes"] == 1 and r.floors["modes"] == 8
    assert r.scores["coverage"] < 0.2 < 0.8 < r.floors["coverage"]
    # Each sample is as realistic as real data (density ~1), but they reach one mode of eight.
    assert 0.7 < r.scores["density"] < 1.4
    assert "points themselves" in str(r.protocol)
    assert "SWDx1e3" not in r.scores


# ---------------------------------------------------------------- evaluate: errors
def test_evaluate_errors(shapes16, judge16) -> None:
    digits = data.digits(16)
    with pytest.raises(ValueError, match=r"no judge.*'digits'.*shapes.*ring8, grid25.*feature_net"):
        evaluate(digits.data[:100], digits, n=50)
    with pytest.raises(ValueError, match=r"\(N, 3, 16, 16\).*got \(10, 3, 32, 32\)"):
        evaluate(torch.zeros(10, 3, 32, 32), shapes16, feature_net=judge16)
    with pytest.raises(ValueError, match=r"n must lie in \[10, 600\]"):
        evaluate(torch.zeros(700, 3, 16, 16), shapes16, n=700, feature_net=judge16)
    with pytest.raises(ValueError, match="NaN or inf"):
        evaluate(torch.full((20, 3, 16, 16), float("nan")), shapes16, n=20, feature_net=judge16)
    with pytest.raises(TypeError, match=r"features\(x\)"):
        evaluate(torch.zeros(20, 3, 16, 16), shapes16, n=20, feature_net=torch.nn.Identity())


def test_register_judge_plugs_a_network_in(monkeypatch, judge16) -> None:
    digits = data.digits(16)
    net = torch.nn.Sequential(torch.nn.Flatten())
    net.features = net.forward  # any module with features(x)
    monkeypatch.setitem(evaluation.JUDGES, "digits", Judge("flat pixels", lambda: net, 16, 1))
    r = evaluate(digits.data[800:850], digits, n=50)
    assert "flat pixels" in str(r.protocol) and r.scores["FD"] >= 0
    with pytest.raises(TypeError, match="Judge"):
        evaluation.register_judge("digits", net)


def test_inception_needs_a_weights_file_and_never_downloads(tmp_path, monkeypatch) -> None:
    with pytest.raises(FileNotFoundError, match="weights-inception-2015-12-05.*never downloads"):
        evaluation.inception_network(tmp_path / "missing.pth")
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "torchmetrics.image.fid", None)  # as if not installed
    with pytest.raises(ImportError, match=r"\.\[inception\]"):
        evaluation.inception_network(weights)


def test_inception_features_come_from_the_given_file(tmp_path, monkeypatch) -> None:
    # Real Inception weights cannot be fetched here (and never are): random weights in the real
    # layout check the plumbing, that nothing is downloaded, and what the protocol records.
    import hashlib

    import torch_fidelity.feature_extractor_inceptionv3 as tfi
    from torchmetrics.image.fid import NoTrainInceptionV3

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download Inception weights")

    monkeypatch.setattr(tfi, "load_state_dict_from_url", no_download)
    empty = tmp_path / "empty.pth"
    torch.save({}, empty)
    with monkeypatch.context() as m:  # build the layout once without loading anything
        m.setattr(tfi.FeatureExtractorInceptionV3, "load_state_dict",
                  lambda self, state, strict=True: None)
        torch.manual_seed(0)
        layout = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                    feature_extractor_weights_path=str(empty))
    weights = tmp_path / "random-inception.pth"
    torch.save(layout.state_dict(), weights)
    net = evaluation.inception_network(weights)
    assert net.sha == hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    rgb = data.shapes(16, 2, seed=0).data
    f = evaluation.extract_features(net, rgb)
    assert f.shape == (2, 2048) and torch.isfinite(f).all()
    gray = rgb.mean(dim=1, keepdim=True)
    assert evaluation.extract_features(net, gray).shape == (2, 2048)


def test_the_protocol_names_a_mixture_in_another_geometry() -> None:
    from ganlab.config import DataConfig

    assert evaluation.describe_data(DataConfig("ring8"), 100) == \
        "ring8 size 100 seed 0 (training set)"
    wide = evaluation.describe_data(DataConfig("ring8", radius=2.0, std=0.02), 100)
    assert wide == "ring8 size 100 seed 0 radius 2 std 0.02 (training set)"


def test_evaluate_reports_recognition_as_a_share_of_real_beside_the_floors() -> None:
    train = data.shapes(32, 600, seed=0)
    fresh = data.shapes(32, 200, seed=321).data
    blurred = metrics.gaussian_blur(fresh, 1.5)
    good, bad = (evaluate(x, train, n=200, swd=False) for x in (fresh, blurred))
    real = metrics.shape_calibration(32)["real"].recognised
    for r in (good, bad):
        assert r.floors["recognised"] == real and r.floors["of_real"] == 1.0
        assert r.of_real == pytest.approx(r.scores["recognised"] / real)
        assert "judge: " in r.table() and "of real" in r.table()
    assert good.of_real > 0.95 and bad.of_real < 0.5
    assert evaluate(data.shapes(16, 400, seed=0).data[:200], data.shapes(16, 400, seed=1),
                    n=200, swd=False).of_real is None  # no judge reads 16 px shapes
