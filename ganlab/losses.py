"""GAN objectives. Every function takes raw discriminator logits; none applies a sigmoid twice.

Split like StyleGAN2's loss into named phases: the discriminator's main loss, the generator's main
loss and the discriminator's regulariser (WGAN-GP's gradient penalty and drift).

=================  ============================================  =============================
name               discriminator loss                            generator loss
=================  ============================================  =============================
``minimax``        -log D(x) - log(1 - D(G(z)))                  log(1 - D(G(z))) (saturates)
``nonsaturating``  same as minimax                               -log D(G(z))
``least_squares``  1/2 (D(x) - b)^2 + 1/2 (D(G(z)) - a)^2        1/2 (D(G(z)) - c)^2
``wgan_gp``        D(G(z)) - D(x) + drift * D(x)^2               -D(G(z))
                   + lambda * (|grad D(x_hat)| - 1)^2
=================  ============================================  =============================

``D(.)`` in the first two rows is ``sigmoid(logits)``; the log-sigmoids are computed stably with
softplus: ``-log sigmoid(l) = softplus(-l)`` and ``-log(1 - sigmoid(l)) = softplus(l)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ganlab.config import LossConfig

# LSGAN's two parameterisations (Mao et al., 2017, Sec. 3.2): a=0, b=c=1 and the Pearson
# chi-square choice a=-1, b=1, c=0 (b - c = 1, b - a = 2).
LSGAN_01 = (0.0, 1.0, 1.0)
LSGAN_PEARSON = (-1.0, 1.0, 0.0)


def bce_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))], the discriminator's side of the minimax game."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """E[log(1 - D(G(z)))]: the original generator loss, flat where D confidently rejects fakes."""
    return -F.softplus(fake_logits).mean()


def nonsaturating_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[log D(G(z))]: same fixed point, strong gradients early in training."""
    return F.softplus(-fake_logits).mean()


def least_squares_d_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, a: float = 0.0, b: float = 1.0
) -> torch.Tensor:
    """1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2], D's output taken as is (no sigmoid)."""
    return 0.5 * ((real_logits - b) ** 2).mean() + 0.5 * ((fake_logits - a) ** 2).mean()


def least_squares_g_loss(fake_logits: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """1/2 E[(D(G(z)) - c)^2]."""
    return 0.5 * ((fake_logits - c) ** 2).mean()


def wgan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """E[D(G(z))] - E[D(x)]: the negated critic estimate of the Wasserstein-1 distance."""
    return fake_logits.mean() - real_logits.mean()


def wgan_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


def gradient_penalty(
    D: Callable[..., torch.Tensor],
    x_real: torch.Tensor,
    x_fake: torch.Tensor,
    **d_kwargs: Any,
) -> torch.Tensor:
    """E[(||grad D(x_hat)||_2 - 1)^2] on random interpolates (Gulrajani et al., 2017, Alg. 1)."""
    eps = torch.rand(x_real.shape[0], *([1] * (x_real.ndim - 1)), device=x_real.device,
                     dtype=x_real.dtype)
    x_hat = torch.lerp(x_real.detach(), x_fake.detach(), eps).requires_grad_(True)
    logits = D(x_hat, **d_kwargs)
    (grad,) = torch.autograd.grad(logits.sum(), x_hat, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)  # (B,)
    return ((norm - 1.0) ** 2).mean()


class GANLoss:
    """A configured objective: ``discriminator``, ``generator`` and ``regularizer`` phases."""

    def __init__(self, config: LossConfig | None = None, **kwargs: Any) -> None:
        self.config = config if config is not None else LossConfig(**kwargs)

    @property
    def name(self) -> str:
        return self.config.name

    def discriminator(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        c = self.config
        if c.name in ("minimax", "nonsaturating"):
            return bce_d_loss(real_logits, fake_logits)
        if c.name == "least_squares":
            return least_squares_d_loss(real_logits, fake_logits, c.a, c.b)
        loss = wgan_d_loss(real_logits, fake_logits)
        if c.drift:
            loss = loss + c.drift * (real_logits**2).mean()
        return loss

    def generator(self, fake_logits: torch.Tensor) -> torch.Tensor:
        c = self.config
        if c.name == "minimax":
            return minimax_g_loss(fake_logits)
        if c.name == "nonsaturating":
            return nonsaturating_g_loss(fake_logits)
        if c.name == "least_squares":
            return least_squares_g_loss(fake_logits, c.c)
        return wgan_g_loss(fake_logits)

    def regularizer(
        self, D: Callable[..., torch.Tensor], x_real: torch.Tensor, x_fake: torch.Tensor,
        **d_kwargs: Any,
    ) -> torch.Tensor | None:
        if self.config.name != "wgan_gp" or self.config.gp_weight == 0:
            return None
        return self.config.gp_weight * gradient_penalty(D, x_real, x_fake, **d_kwargs)

    def d_prob(self, logits: torch.Tensor) -> torch.Tensor:
        """What to report as D(x) in [0, 1]-ish units: sigmoid for BCE losses, raw otherwise."""
        return torch.sigmoid(logits) if self.config.name in ("minimax", "nonsaturating") else logits


def least_squares(a: float, b: float, c: float) -> LossConfig:
    return LossConfig(name="least_squares", a=a, b=b, c=c)


_REFERENCES: dict[str, tuple[Callable[..., torch.Tensor], int]] = {
    "bce_d": (bce_d_loss, 2),
    "minimax_g": (minimax_g_loss, 1),
    "nonsaturating_g": (nonsaturating_g_loss, 1),
    "least_squares_d": (least_squares_d_loss, 2),
    "least_squares_g": (least_squares_g_loss, 1),
}


def check_loss(fn: Callable[..., torch.Tensor], kind: str, seed: int = 0) -> str:
    """Check a learner's loss function against ganlab's on random logits (notebook exercises).

    ``kind`` is one of ``bce_d``, ``minimax_g``, ``nonsaturating_g``, ``least_squares_d``,
    ``least_squares_g``; the function receives logits exactly like the reference. Returns
    ``"correct"`` or raises an AssertionError that says how far off it was.
    """
    if kind not in _REFERENCES:
        raise ValueError(f"unknown loss kind {kind!r}; choose one of {', '.join(_REFERENCES)}")
    reference, n_args = _REFERENCES[kind]
    gen = torch.Generator().manual_seed(seed)
    args = [torch.randn(64, generator=gen) * 4 for _ in range(n_args)]
    expected = reference(*args)
    got = torch.as_tensor(fn(*args), dtype=expected.dtype)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5,
                               msg=lambda m: f"{kind}: your loss differs from ganlab's. {m}")
    return "correct"
