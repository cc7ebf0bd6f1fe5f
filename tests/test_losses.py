"""Tests for ganlab.losses against the papers' formulas, written out here with explicit sigmoid/log.

Logits are float64 so the naive formulas below are accurate enough to compare with the package's
numerically stable ones.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ganlab import losses
from ganlab.config import LossConfig
from ganlab.losses import GANLoss

REAL = torch.tensor([-3.0, -0.5, 0.0, 1.5, 4.0, 2.5], dtype=torch.float64)
FAKE = torch.tensor([-2.0, -1.0, 0.5, 2.0, 6.0, -4.5], dtype=torch.float64)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    return 1.0 / (1.0 + torch.exp(-x))


def close(got: torch.Tensor, want: torch.Tensor) -> None:
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- BCE family
def test_bce_discriminator_loss() -> None:
    want = (-torch.log(sigmoid(REAL))).mean() + (-torch.log(1 - sigmoid(FAKE))).mean()
    close(losses.bce_d_loss(REAL, FAKE), want)
    for name in ("minimax", "nonsaturating"):
        close(GANLoss(LossConfig(name)).discriminator(REAL, FAKE), want)


def test_minimax_generator_loss() -> None:
    want = torch.log(1 - sigmoid(FAKE)).mean()
    close(losses.minimax_g_loss(FAKE), want)
    close(GANLoss(LossConfig("minimax")).generator(FAKE), want)


def test_nonsaturating_generator_loss() -> None:
    want = (-torch.log(sigmoid(FAKE))).mean()
    close(losses.nonsaturating_g_loss(FAKE), want)
    close(GANLoss(LossConfig("nonsaturating")).generator(FAKE), want)


def test_bce_losses_are_stable_for_large_logits() -> None:
    big = torch.tensor([200.0, -200.0])
    for value in (losses.bce_d_loss(big, big), losses.minimax_g_loss(big),
                  losses.nonsaturating_g_loss(big)):
        assert torch.isfinite(value)
    # -log sigmoid(-200) = 200 (to float precision), not inf.
    assert losses.nonsaturating_g_loss(torch.tensor([-200.0])).item() == pytest.approx(200.0)


def test_generator_gradient_minimax_vanishes_nonsaturating_does_not() -> None:
    # d/dl log(1 - sigmoid(l)) = -sigmoid(l); d/dl -log sigmoid(l) = sigmoid(l) - 1.
    # Each loss is a mean over N logits, so each gradient carries a factor 1/N.
    logits = torch.tensor([-30.0, -20.0, -10.0, -5.0, 0.0, 5.0], dtype=torch.float64)
    n = logits.numel()
    l1 = logits.clone().requires_grad_(True)
    losses.minimax_g_loss(l1).backward()
    close(l1.grad, -sigmoid(logits) / n)
    l2 = logits.clone().requires_grad_(True)
    losses.nonsaturating_g_loss(l2).backward()
    close(l2.grad, (sigmoid(logits) - 1) / n)
    # Where D confidently rejects the fakes (l -> -inf) the minimax gradient is ~0 ...
    assert l1.grad[0].abs() < 1e-12
    # ... while the non-saturating one stays at its largest magnitude, 1/N.
    assert l2.grad[0].item() == pytest.approx(-1.0 / n)
    assert (l1.grad.abs() < l2.grad.abs())[:4].all()


# ---------------------------------------------------------------- least squares
@pytest.mark.parametrize("abc", [(0.0, 1.0, 1.0), (-1.0, 1.0, 0.0)])
def test_least_squares_losses(abc: tuple[float, float, float]) -> None:
    a, b, c = abc
    want_d = 0.5 * ((REAL - b) ** 2).mean() + 0.5 * ((FAKE - a) ** 2).mean()
    want_g = 0.5 * ((FAKE - c) ** 2).mean()
    close(losses.least_squares_d_loss(REAL, FAKE, a, b), want_d)
    close(losses.least_squares_g_loss(FAKE, c), want_g)
    loss = GANLoss(LossConfig("least_squares", a=a, b=b, c=c))
    close(loss.discriminator(REAL, FAKE), want_d)
    close(loss.generator(FAKE), want_g)
    # LSGAN uses D's raw output: no sigmoid is applied.
    torch.testing.assert_close(loss.d_prob(REAL), REAL)


def test_lsgan_presets() -> None:
    assert tuple(losses.LSGAN_01) == (0.0, 1.0, 1.0)
    assert tuple(losses.LSGAN_PEARSON) == (-1.0, 1.0, 0.0)
    a, b, c = losses.LSGAN_PEARSON
    assert b - c == 1 and b - a == 2  # the Pearson chi-square conditions (Mao et al., Sec. 3.2)


def test_least_squares_is_zero_at_the_targets() -> None:
    a, b, c = -1.0, 1.0, 0.0
    real, fake = torch.full((5,), b), torch.full((5,), a)
    assert losses.least_squares_d_loss(real, fake, a, b).item() == 0.0
    assert losses.least_squares_g_loss(torch.full((5,), c), c).item() == 0.0


# ---------------------------------------------------------------- WGAN-GP
def test_wgan_losses_with_drift() -> None:
    close(losses.wgan_d_loss(REAL, FAKE), FAKE.mean() - REAL.mean())
    close(losses.wgan_g_loss(FAKE), -FAKE.mean())
    loss = GANLoss(LossConfig("wgan_gp", drift=0.001))
    close(loss.discriminator(REAL, FAKE), FAKE.mean() - REAL.mean() + 0.001 * (REAL**2).mean())
    close(loss.generator(FAKE), -FAKE.mean())
    no_drift = GANLoss(LossConfig("wgan_gp", drift=0.0))
    close(no_drift.discriminator(REAL, FAKE), FAKE.mean() - REAL.mean())
    torch.testing.assert_close(loss.d_prob(REAL), REAL)


@pytest.mark.parametrize("shape", [(6,), (1, 2, 3)])
def test_gradient_penalty_of_a_linear_critic(shape: tuple[int, ...]) -> None:
    # For D(x) = w . x the gradient is w everywhere, so the penalty is (||w|| - 1)^2 exactly,
    # whatever interpolates are drawn, and its gradient w.r.t. w is 2 (||w|| - 1) w / ||w||.
    torch.manual_seed(0)
    w = torch.randn(6, dtype=torch.float64)
    w = (3.0 * w / w.norm()).requires_grad_(True)  # ||w|| = 3

    def D(x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ w

    x_real = torch.randn(5, *shape, dtype=torch.float64)
    x_fake = torch.randn(5, *shape, dtype=torch.float64)
    penalty = losses.gradient_penalty(D, x_real, x_fake)
    close(penalty, torch.tensor(4.0, dtype=torch.float64))
    penalty.backward()
    close(w.grad, 2 * (3.0 - 1.0) * w.detach() / 3.0)

    reg = GANLoss(LossConfig("wgan_gp", gp_weight=10.0)).regularizer(D, x_real, x_fake)
    close(reg, torch.tensor(40.0, dtype=torch.float64))
    w_unit = (w.detach() / 3.0)
    zero = losses.gradient_penalty(lambda x: x.flatten(1) @ w_unit, x_real, x_fake)
    close(zero, torch.tensor(0.0, dtype=torch.float64))


def test_gradient_penalty_passes_keyword_arguments_to_D() -> None:
    seen = {}

    def D(x: torch.Tensor, stage: int, alpha: float) -> torch.Tensor:
        seen.update(stage=stage, alpha=alpha)
        return 2.0 * x.flatten(1).sum(dim=1)  # gradient (2, 2): norm 2*sqrt(2)

    x = torch.zeros(3, 2, dtype=torch.float64)
    penalty = losses.gradient_penalty(D, x, x + 1, stage=2, alpha=0.5)
    close(penalty, torch.tensor((2 * 2**0.5 - 1) ** 2, dtype=torch.float64))
    assert seen == {"stage": 2, "alpha": 0.5}


def test_regularizer_only_for_wgan_gp() -> None:
    def D(x: torch.Tensor) -> torch.Tensor:
        return x.sum(dim=1)

    x = torch.randn(4, 3)
    for name in ("minimax", "nonsaturating", "least_squares"):
        assert GANLoss(LossConfig(name)).regularizer(D, x, x) is None
    assert GANLoss(LossConfig("wgan_gp", gp_weight=0.0)).regularizer(D, x, x) is None


# ---------------------------------------------------------------- learner checks and config
def test_d_prob_is_sigmoid_for_bce_losses() -> None:
    close(GANLoss(LossConfig("nonsaturating")).d_prob(REAL), sigmoid(REAL))


CORRECT = {
    "bce_d": lambda r, f: -F.logsigmoid(r).mean() - F.logsigmoid(-f).mean(),
    "minimax_g": lambda f: F.logsigmoid(-f).mean(),
    "nonsaturating_g": lambda f: -F.logsigmoid(f).mean(),
    "least_squares_d": lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(),
    "least_squares_g": lambda f: 0.5 * ((f - 1) ** 2).mean(),
}
WRONG = {
    "bce_d": lambda r, f: -F.logsigmoid(r).mean() - F.logsigmoid(f).mean(),
    "minimax_g": lambda f: -F.logsigmoid(f).mean(),
    "nonsaturating_g": lambda f: -torch.log(torch.sigmoid(torch.sigmoid(f))).mean(),
    "least_squares_d": lambda r, f: ((r - 1) ** 2).mean() + (f**2).mean(),
    "least_squares_g": lambda f: 0.5 * ((torch.sigmoid(f) - 1) ** 2).mean(),
}


@pytest.mark.parametrize("kind", sorted(CORRECT))
def test_check_loss_accepts_correct_and_rejects_wrong(kind: str) -> None:
    assert losses.check_loss(CORRECT[kind], kind) == "correct"
    with pytest.raises(AssertionError, match=kind):
        losses.check_loss(WRONG[kind], kind)


def test_check_loss_unknown_kind() -> None:
    with pytest.raises(ValueError, match="bce_d"):
        losses.check_loss(CORRECT["bce_d"], "hinge_d")


def test_loss_config_validation() -> None:
    with pytest.raises(ValueError, match="hinge"):
        LossConfig(name="hinge")
    with pytest.raises(ValueError, match="b != a"):
        LossConfig(name="least_squares", a=0.5, b=0.5)
    LossConfig(name="least_squares", a=-1.0, b=1.0, c=0.0)  # valid
    assert GANLoss(name="wgan_gp").name == "wgan_gp"


def test_check_loss_knows_the_relativistic_pair() -> None:
    # Written out with the logistic function: -log sigmoid(real - fake) and its mirror.
    def rp_d(real, fake):
        return -torch.log(torch.sigmoid(real - fake)).mean()

    def rp_g(fake, real):
        return -torch.log(torch.sigmoid(fake - real)).mean()

    assert losses.check_loss(rp_d, "relativistic_d") == "correct"
    assert losses.check_loss(rp_g, "relativistic_g") == "correct"
    with pytest.raises(AssertionError, match="relativistic_g"):
        losses.check_loss(lambda fake, real: rp_g(real, fake), "relativistic_g")
