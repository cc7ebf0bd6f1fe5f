"""Checkers for the notebooks' exercises that have one right answer.

Why it exists: an exercise check that nobody runs rots. Each checker here is tested both ways in
CI (``tests/test_exercises.py``): against a reference solution (it must pass) and against the
starter code in the notebook's exercise cell (it must fail with the hint a learner reads).

``check(exercise, answer)`` returns ``"correct"``, or raises :class:`ExerciseError` whose message
is meant for the learner: ``not done yet`` and the hint for starter code (a function that raises
``NotImplementedError`` or returns ``None``, or an answer left at ``None``), ``not quite`` with
what is off and the hint for a wrong answer. The loss exercises reuse
:func:`ganlab.losses.check_loss`; the others compare with the package's own layers and functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class ExerciseError(AssertionError):
    """An exercise answer is missing or wrong; the message is the learner-facing hint."""


class _NotDone(Exception):
    pass


@dataclass(frozen=True)
class Exercise:
    """One checked exercise: where it is, what the starter code names, the hint and the check."""

    id: str  # "<notebook number>.<exercise number>", e.g. "04.1"
    notebook: str
    title: str
    starter: tuple[str, ...]  # the names the learner fills in, in the notebook's exercise cell
    hint: str
    checker: Callable[[Any], None]  # raises AssertionError (or ValueError...) when wrong

    @property
    def label(self) -> str:
        return f"exercise {self.id} ({self.title})"


def _call(fn: Any, *args: Any) -> Any:
    """Call the learner's function; NotImplementedError or a None result means "not done yet"."""
    if not callable(fn):
        raise ExerciseError(f"expected a function, got {type(fn).__name__} {fn!r}")
    try:
        result = fn(*args)
    except NotImplementedError:
        raise _NotDone from None
    if result is None:
        raise _NotDone
    return result


def _close(got: Any, expected: Any, what: str, **tol: Any) -> None:
    import torch

    got_t = torch.as_tensor(got, dtype=torch.float32)
    expected_t = torch.as_tensor(expected, dtype=torch.float32)
    if got_t.shape != expected_t.shape:
        raise AssertionError(f"{what} has shape {tuple(got_t.shape)}, expected "
                             f"{tuple(expected_t.shape)}")
    torch.testing.assert_close(got_t, expected_t, msg=lambda m: f"{what} differs: {m}", **tol)


def _loss(kind: str) -> Callable[[Any], None]:
    def checker(fn: Any) -> None:
        from ganlab.losses import check_loss

        check_loss(lambda *logits: _call(fn, *logits), kind)
    return checker


def _coverage(answer: Any) -> None:
    got = getattr(answer, "modes_captured", None)
    if got != 25:
        raise AssertionError(f"your coverage says {got} modes captured; real grid25 points "
                             "should cover all 25")


def _pixel_norm(fn: Any) -> None:
    import torch

    from ganlab.layers import PixelNorm

    gen = torch.Generator().manual_seed(1)
    for shape in ((3, 16, 4, 4), (5, 32)):  # feature maps (B, N, H, W) and latents (B, N)
        a = torch.randn(*shape, generator=gen) * 5
        _close(_call(fn, a), PixelNorm()(a), f"my_pixel_norm on a {tuple(shape)} input")


def _mbstd(fn: Any) -> None:
    import torch

    from ganlab.layers import MinibatchStdDev

    x = torch.randn(8, 5, 4, 4, generator=torch.Generator().manual_seed(1))
    for group_size in (4, 2, 8):
        _close(_call(fn, x, group_size), MinibatchStdDev(group_size)(x),
               f"my_mbstd(x, group_size={group_size})")


def _schedule(answer: Any) -> None:
    from ganlab.models.progan import ProGANConfig, phase_at, total_images

    config = ProGANConfig(resolution=64, images_per_fade=1000, images_per_stable=2000)
    phase = phase_at(config, 5500)
    _close(answer, (phase.stage, phase.alpha, total_images(config)),
           "(stage, alpha, total images)")


def _scales(answer: Any) -> None:
    from ganlab.layers import EqualizedConv2d

    expected = (EqualizedConv2d(64, 128, 3).scale, EqualizedConv2d(64, 3, 1, gain=1.0).scale)
    _close(answer, expected, "(conv scale, toRGB scale)", rtol=1e-4, atol=0.0)


def _lerp(fn: Any) -> None:
    from ganlab.training import sample_z
    from ganlab.widgets import lerp

    z0, z1 = sample_z(1, 100, seed=1)[0], sample_z(1, 100, seed=2)[0]
    for t in (0.0, 0.3, 1.0):
        _close(_call(fn, z0, z1, t), lerp(z0, z1, t), f"my_lerp(z0, z1, {t})")


def _ratio(answer: Any) -> None:
    from ganlab.training import sample_z

    a, b = sample_z(10_000, 100, seed=1), sample_z(10_000, 100, seed=2)
    sampled = (((a + b) / 2).norm(dim=1) ** 2 / 100).mean().item()
    if not isinstance(answer, (int, float)) or abs(answer - sampled) >= 0.02 * sampled:
        raise AssertionError(f"you said {answer!r}; 10,000 sampled pairs give {sampled:.3f}")


def _r1(fn: Any) -> None:
    import torch

    from ganlab.losses import r1_penalty

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8), torch.nn.Softplus(),
                              torch.nn.Linear(8, 1)).double()

    def D(x: Any) -> Any:
        return net(x).flatten()  # (B,) logits

    x = torch.randn(5, 3, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    got = _call(fn, D, x)
    _close(got, r1_penalty(D, x), "my_r1(D, x) on a (5, 3, 2, 2) batch", rtol=1e-5, atol=1e-7)
    if not getattr(got, "requires_grad", False):
        raise AssertionError("my_r1's result has no graph to D's weights: D's update needs the "
                             "penalty's gradient (create_graph=True)")


def _critical_gamma(answer: Any) -> None:
    # -gamma +- sqrt(gamma^2 - 1/4) is real from gamma^2 = 1/4 on (gamma > 0).
    if not isinstance(answer, (int, float)) or abs(answer - 0.5) > 1e-6:
        raise AssertionError(f"you said {answer!r}; at that gamma the eigenvalues are "
                             + ("still complex" if isinstance(answer, (int, float))
                                and abs(answer) < 0.5 else "not at the boundary"))


def _checkerboard(fn: Any) -> None:
    import torch

    from ganlab.fieldguide import checkerboard_score

    gen = torch.Generator().manual_seed(1)
    i, j = torch.arange(8.0)[:, None], torch.arange(8.0)[None, :]
    for x in (torch.randn(4, 3, 8, 8, generator=gen),
              torch.randn(2, 1, 8, 8, generator=gen) + 0.3 * (-1.0) ** (i + j)):
        _close(_call(fn, x), checkerboard_score(x), f"my_checkerboard_score on {tuple(x.shape)}",
               rtol=1e-4, atol=1e-6)


def _saturation(answer: Any) -> None:
    import math

    import torch

    from ganlab.losses import minimax_g_loss, nonsaturating_g_loss

    logit = torch.tensor([math.log(0.01 / 0.99)], requires_grad=True)  # D(G(z)) = 0.01
    (g_mm,) = torch.autograd.grad(minimax_g_loss(logit), logit)
    (g_ns,) = torch.autograd.grad(nonsaturating_g_loss(logit), logit)
    _close(answer, (g_ns / g_mm).abs().item(), "the ratio of the two gradients", rtol=0.01,
           atol=0.0)


def _adam_step(answer: Any) -> None:
    import torch

    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([w], lr=1e-3)
    w.grad = torch.tensor([1000.0])
    opt.step()
    _close(answer, w.detach().abs().item(), "the size of Adam's first step", rtol=1e-3,
           atol=0.0)


_SOFTPLUS = ("with D = sigmoid(l): -log D = softplus(-l) and -log(1 - D) = softplus(l); use "
             "torch.nn.functional.softplus on the logits and average over the batch")
EXERCISES: dict[str, Exercise] = {e.id: e for e in (
    Exercise("00.1", "00_introduction", "the discriminator's loss", ("my_d_loss",),
             f"my_d_loss(real_logits, fake_logits) returns -E[log D(x)] - E[log(1 - D(G(z)))]; "
             f"{_SOFTPLUS}", _loss("bce_d")),
    Exercise("00.2", "00_introduction", "mode coverage of real data", ("coverage",),
             "set coverage = ganlab.metrics.mode_coverage(grid_points.tensors(), "
             "grid_points.mixture)", _coverage),
    Exercise("01.1", "01_vanilla_gan", "non-saturating loss", ("my_nonsaturating_g_loss",),
             f"my_nonsaturating_g_loss(fake_logits) returns -E[log D(G(z))]; {_SOFTPLUS}",
             _loss("nonsaturating_g")),
    Exercise("01.2", "01_vanilla_gan", "minimax loss", ("my_minimax_g_loss",),
             "my_minimax_g_loss(fake_logits) returns E[log(1 - D(G(z)))] = "
             "-E[softplus(fake_logits)]: the quantity G minimises, so mind the sign",
             _loss("minimax_g")),
    Exercise("02.3", "02_dcgan", "the losses from logits", ("my_d_loss", "my_g_loss"),
             f"my_d_loss(real_logits, fake_logits) is D's binary cross-entropy and "
             f"my_g_loss(fake_logits) the non-saturating loss; {_SOFTPLUS}",
             lambda fns: (_loss("bce_d")(fns[0]), _loss("nonsaturating_g")(fns[1]))),
    Exercise("03.1", "03_lsgan", "LSGAN's losses", ("my_d", "my_g"),
             "with the 0-1 targets: my_d(real_out, fake_out) = 0.5 E[(D(x) - 1)^2] + "
             "0.5 E[D(G(z))^2] and my_g(fake_out) = 0.5 E[(D(G(z)) - 1)^2], on raw outputs",
             lambda fns: (_loss("least_squares_d")(fns[0]), _loss("least_squares_g")(fns[1]))),
    Exercise("04.1", "04_progan", "PixelNorm by hand", ("my_pixel_norm",),
             "divide each pixel's feature vector by sqrt(mean over channels (dim 1) of a^2 + "
             "eps); it must work for (B, N, H, W) and (B, N)", _pixel_norm),
    Exercise("04.2", "04_progan", "minibatch stddev by hand", ("my_mbstd",),
             "split the batch into groups (image i is in group i % (B // G)), take each group's "
             "std over its members, average it over channels and pixels, and append it as one "
             "more feature map", _mbstd),
    Exercise("04.3", "04_progan", "the schedule", ("my_stage", "my_alpha", "my_total"),
             "stage 0 (4x4) is stable only; every later stage is a fade, then a stable phase; "
             "alpha is the fraction of the fade done", _schedule),
    Exercise("04.4", "04_progan", "equalized learning rate",
             ("my_scale_conv", "my_scale_to_rgb"),
             "scale = gain / sqrt(fan_in) with fan_in = in_channels x kernel height x kernel "
             "width, and gain sqrt(2) unless given", _scales),
    Exercise("05.1", "05_latent_space", "lerp by hand", ("my_lerp",),
             "my_lerp(z0, z1, t) returns (1 - t) * z0 + t * z1", _lerp),
    Exercise("05.2", "05_latent_space", "how short the lerp midpoint is", ("my_ratio",),
             "|(z0 + z1) / 2|^2 = (|z0|^2 + 2 z0.z1 + |z1|^2) / 4; take expectations for "
             "independent N(0, I) vectors", _ratio),
    Exercise("07.1", "07_r3gan", "the pairing losses", ("my_rp_d_loss", "my_rp_g_loss"),
             "my_rp_d_loss(real_logits, fake_logits) = E[softplus(fake - real)] and "
             "my_rp_g_loss(fake_logits, real_logits) = E[softplus(real - fake)], pair i with "
             "pair i, averaged over the batch",
             lambda fns: (_loss("relativistic_d")(fns[0]), _loss("relativistic_g")(fns[1]))),
    Exercise("07.2", "07_r3gan", "R1 by hand", ("my_r1",),
             "(grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True) with x a copy "
             "that requires grad; square it, sum over every dimension but the batch, then "
             "average over the batch", _r1),
    Exercise("07.3", "07_r3gan", "critical damping", ("my_gamma",),
             "the square root sqrt(gamma^2 - 1/4) is real when gamma^2 >= 1/4; take the "
             "positive gamma where that starts", _critical_gamma),
    Exercise("08.1", "08_failing_gans", "the checkerboard score by hand",
             ("my_checkerboard_score",),
             "remove each image's mean per channel, take |torch.fft.fft2(x)|^2, add the power at "
             "(H/2, 0), (0, W/2) and (H/2, W/2) and divide by the total power, summed over the "
             "whole batch", _checkerboard),
    Exercise("08.2", "08_failing_gans", "how much the saturating loss loses", ("my_factor",),
             "with D = sigmoid(l) the minimax gradient is -D and the non-saturating one "
             "-(1 - D); divide them at D = 0.01", _saturation),
    Exercise("08.3", "08_failing_gans", "Adam's first step", ("my_first_step",),
             "after one step Adam's moment estimates, bias-corrected, are m = g and v = g^2, so "
             "the step is lr * g / (|g| + eps)", _adam_step),
)}


def check(exercise: str, answer: Any) -> str:
    """``"correct"``, or :class:`ExerciseError` with the hint (see the module docstring).

    ``answer`` is what the exercise's starter names hold: one function or value, or a tuple of
    them when it names several (``check("04.3", (my_stage, my_alpha, my_total))``).
    """
    if exercise not in EXERCISES:
        raise ValueError(f"unknown exercise {exercise!r}; checked exercises: "
                         f"{', '.join(EXERCISES)}")
    ex = EXERCISES[exercise]
    not_done = ExerciseError(f"{ex.label}: not done yet. Hint: {ex.hint}")
    parts = answer if len(ex.starter) > 1 else (answer,)
    if len(ex.starter) > 1 and (not isinstance(answer, tuple) or len(answer) != len(ex.starter)):
        raise ValueError(f"{ex.label} expects a tuple ({', '.join(ex.starter)})")
    if any(part is None for part in parts):
        raise not_done
    try:
        ex.checker(answer)
    except _NotDone:
        raise not_done from None
    except ExerciseError:
        raise
    except (AssertionError, ValueError, TypeError, RuntimeError, IndexError) as err:
        detail = " ".join(str(err).split())[:300]
        raise ExerciseError(f"{ex.label}: not quite. {detail} Hint: {ex.hint}") from None
    return "correct"


def show(exercise: str, answer: Any) -> bool:
    """For a notebook's exercise cell: print ``correct`` or the hint (never raise); True when
    correct."""
    try:
        check(exercise, answer)
    except ExerciseError as err:
        print(err)
        return False
    print(f"{EXERCISES[exercise].label}: correct")
    return True
