"""GAN objectives. Every function takes raw discriminator logits; none applies a sigmoid twice.

Split like StyleGAN2's loss into named phases: the discriminator's main loss, the generator's main
loss and the discriminator's regulariser (WGAN-GP's gradient penalty and drift, R1 and R2).

=================  ============================================  =============================
name               discriminator loss                            generator loss
=================  ============================================  =============================
``minimax``        -log D(x) - log(1 - D(G(z)))                  log(1 - D(G(z))) (saturates)
``nonsaturating``  same as minimax                               -log D(G(z))
``least_squares``  1/2 (D(x) - b)^2 + 1/2 (D(G(z)) - a)^2        1/2 (D(G(z)) - c)^2
``wgan_gp``        D(G(z)) - D(x) + drift * D(x)^2               -D(G(z))
                   + lambda * (|grad D(x_hat)| - 1)^2
``relativistic``   -log sigmoid(C(x) - C(G(z)))                  -log sigmoid(C(G(z)) - C(x))
=================  ============================================  =============================

``D(.)`` in the first two rows is ``sigmoid(logits)``; the log-sigmoids are computed stably with
softplus: ``-log sigmoid(l) = softplus(-l)`` and ``-log(1 - sigmoid(l)) = softplus(l)``.

``relativistic`` is the relativistic pairing GAN, RpGAN (Jolicoeur-Martineau, 2019: her RSGAN),
as R3GAN trains it (Huang et al., 2024, Sec. 2): ``C`` is D's raw logit, and each real image
``x_i`` is paired with the fake ``G(z_i)`` of the same batch position, so D learns how much more
real ``x_i`` looks than ``G(z_i)``, not a fixed boundary between the two sets. G's loss needs
the reals' logits too (:attr:`GANLoss.needs_real_logits_for_g`).

Any loss can add the zero-centred gradient penalties of Mescheder et al. (2018, Sec. 4.1),
``LossConfig.r1_weight`` and ``r2_weight``: ``gamma / 2 * E[||grad_x D(x)||^2]`` on real images
(R1) and on fakes (R2). R3GAN's loss is ``relativistic`` with both, one gamma
(:func:`r1_penalty` computes either).
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


def relativistic_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """E[-log sigmoid(C(x_i) - C(G(z_i)))] over pairs: D ranks each real above its fake."""
    _check_pairs(real_logits, fake_logits)
    return F.softplus(-(real_logits - fake_logits)).mean()


def relativistic_g_loss(fake_logits: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """E[-log sigmoid(C(G(z_i)) - C(x_i))] over pairs: G wants each fake ranked above its real.

    Only ``fake_logits`` carries G's gradient; ``real_logits`` are constants to G."""
    _check_pairs(real_logits, fake_logits)
    return F.softplus(-(fake_logits - real_logits)).mean()


def _check_pairs(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> None:
    if real_logits.shape != fake_logits.shape:
        raise ValueError(
            f"the relativistic loss pairs real image i with fake i, so it needs as many real as "
            f"fake logits: got real {tuple(real_logits.shape)} and fake "
            f"{tuple(fake_logits.shape)}; draw as many fakes as there are reals")


def r1_penalty(D: Callable[..., torch.Tensor], x: torch.Tensor,
               **d_kwargs: Any) -> torch.Tensor:
    """E[||grad_x D(x)||^2] over the batch: the zero-centred gradient penalty at ``x``.

    On real images it is R1, on generated ones R2 (Mescheder et al., 2018, Sec. 4.1; the loss
    multiplies it by gamma / 2). ``x`` is detached, so the penalty reaches D's weights only
    (through the graph that ``create_graph`` keeps) and never G. D's forward pass may run under
    autocast; the gradient is taken with respect to ``x`` in float32 (bf16 or fp16 inputs are
    promoted) and its squared norm summed in float32.
    """
    x = x.detach().to(torch.promote_types(x.dtype, torch.float32)).requires_grad_(True)  # (B, ...)
    logits = D(x, **d_kwargs)  # (B,)
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)  # (B, ...), x's dtype
    return grad.square().flatten(1).sum(dim=1).mean()


class GANLoss:
    """A configured objective: ``discriminator``, ``generator`` and ``regularizer`` phases."""

    def __init__(self, config: LossConfig | None = None, **kwargs: Any) -> None:
        self.config = config if config is not None else LossConfig(**kwargs)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def needs_real_logits_for_g(self) -> bool:
        """Whether :meth:`generator` compares the fakes with real images (the relativistic loss):
        the trainer then shows D the real batch in the G step too."""
        return self.config.name == "relativistic"

    def discriminator(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        c = self.config
        if c.name in ("minimax", "nonsaturating"):
            return bce_d_loss(real_logits, fake_logits)
        if c.name == "least_squares":
            return least_squares_d_loss(real_logits, fake_logits, c.a, c.b)
        if c.name == "relativistic":
            return relativistic_d_loss(real_logits, fake_logits)
        loss = wgan_d_loss(real_logits, fake_logits)
        if c.drift:
            loss = loss + c.drift * (real_logits**2).mean()
        return loss

    def generator(self, fake_logits: torch.Tensor,
                  real_logits: torch.Tensor | None = None) -> torch.Tensor:
        """G's loss on D's logits for its fakes; the relativistic loss also needs D's logits for
        as many real images (``real_logits``, paired by position), which the others ignore."""
        c = self.config
        if c.name == "minimax":
            return minimax_g_loss(fake_logits)
        if c.name == "nonsaturating":
            return nonsaturating_g_loss(fake_logits)
        if c.name == "least_squares":
            return least_squares_g_loss(fake_logits, c.c)
        if c.name == "relativistic":
            if real_logits is None:
                raise ValueError("the relativistic generator loss compares each fake with a real "
                                 "image: pass real_logits, D's logits for a real batch of the "
                                 "fakes' size (generator(fake_logits, real_logits))")
            return relativistic_g_loss(fake_logits, real_logits)
        return wgan_g_loss(fake_logits)

    def regularizer(
        self, D: Callable[..., torch.Tensor], x_real: torch.Tensor, x_fake: torch.Tensor,
        **d_kwargs: Any,
    ) -> torch.Tensor | None:
        """D's regularisation, added to its loss: WGAN-GP's gradient penalty (``wgan_gp``), and
        for any loss ``r1_weight / 2 * R1`` on ``x_real`` and ``r2_weight / 2 * R2`` on
        ``x_fake`` (the images D saw, augmented if it saw them so). None when nothing applies.

        Multiplied by ``reg_every``: with lazy regularisation the trainer calls this on one D
        step in ``reg_every`` (see :class:`~ganlab.config.LossConfig`)."""
        c = self.config
        terms = []
        if c.name == "wgan_gp" and c.gp_weight != 0:
            terms.append(c.gp_weight * gradient_penalty(D, x_real, x_fake, **d_kwargs))
        if c.r1_weight > 0:
            terms.append(c.r1_weight / 2 * r1_penalty(D, x_real, **d_kwargs))
        if c.r2_weight > 0:
            terms.append(c.r2_weight / 2 * r1_penalty(D, x_fake, **d_kwargs))
        if not terms:
            return None
        total = sum(terms[1:], terms[0])
        return total * c.reg_every if c.reg_every != 1 else total

    def d_prob(self, logits: torch.Tensor) -> torch.Tensor:
        """What to report as D(x) in [0, 1]-ish units: sigmoid for BCE losses, raw otherwise.

        Raw for ``relativistic`` too: its loss sees only differences of logits, so D(x) and
        D(G(z)) alone mean nothing (adding a constant to every logit changes no loss); their gap,
        ``D_x - D_G_z`` in the logs, is the mean relativistic logit, and ``sigmoid`` of a pair's
        gap is the probability D gives that the real image is the more realistic of the two."""
        return torch.sigmoid(logits) if self.config.name in ("minimax", "nonsaturating") else logits


def least_squares(a: float, b: float, c: float) -> LossConfig:
    return LossConfig(name="least_squares", a=a, b=b, c=c)


_REFERENCES: dict[str, tuple[Callable[..., torch.Tensor], int]] = {
    "bce_d": (bce_d_loss, 2),
    "minimax_g": (minimax_g_loss, 1),
    "nonsaturating_g": (nonsaturating_g_loss, 1),
    "least_squares_d": (least_squares_d_loss, 2),
    "least_squares_g": (least_squares_g_loss, 1),
    "relativistic_d": (relativistic_d_loss, 2),  # (real_logits, fake_logits)
    "relativistic_g": (relativistic_g_loss, 2),  # (fake_logits, real_logits)
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
