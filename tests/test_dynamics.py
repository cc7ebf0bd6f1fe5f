"""ganlab.dynamics: the 2-D game steps exactly as the Trainer does, frames show what they claim
(checked against formulas written out here), and the renderer draws valid, reproducible PNGs.
"""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
import torch
from conftest import png_size

from ganlab import dynamics
from ganlab.config import LossConfig
from ganlab.dynamics import FrameRenderer, Game2D
from ganlab.presets import preset
from ganlab.training import Trainer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def tiny_game(**kwargs) -> Game2D:
    kwargs.setdefault("profile", "tiny")
    kwargs.setdefault("n_points", 200)
    kwargs.setdefault("grid", 16)
    kwargs.setdefault("n_arrows", 16)
    return Game2D("ring8", **kwargs)


def weights(trainer) -> list[torch.Tensor]:
    return [t.detach().clone() for m in (trainer.G, trainer.D) for t in m.state_dict().values()]


def assert_same_weights(a, b) -> None:
    wa, wb = weights(a), weights(b)
    assert len(wa) == len(wb)
    assert all(torch.equal(x, y) for x, y in zip(wa, wb)), "the weights differ"


def reference_trainer(game: Game2D) -> Trainer:
    """A Trainer built the ordinary way from the game's config and data."""
    return Trainer(game.config, device="cpu", data=game.data, progress=False)


def test_import_needs_neither_matplotlib_nor_widgets():
    code = ("import sys, ganlab.dynamics; bad = [m for m in ('matplotlib', 'ipywidgets') "
            "if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------------------ the game
def test_steps_are_the_trainers_d_step_and_g_step():
    game = tiny_game(seed=3, n_critic=2)
    game.d_step()
    game.g_step()
    game.g_step()
    game.step(2)  # 2 x (2 D steps + 1 G step)

    ref = reference_trainer(game)
    phase = ref.phase()
    for kind in "DGG" + "DDG" * 2:
        if kind == "D":
            ref.d_step(ref.real_batch(phase), phase)
        else:
            ref.g_step(phase.batch_size, phase)
    assert_same_weights(game.trainer, ref)
    assert (game.d_steps, game.g_steps) == (5, 4)
    assert game.trainer.step == 4 and game.trainer.images_seen == 5 * phase.batch_size


def test_games_keep_their_own_random_streams():
    alone = tiny_game(seed=0)
    alone.step(3)
    first, other = tiny_game(seed=0), tiny_game(seed=1)
    for _ in range(3):
        first.step()
        other.step()
        torch.rand(5)  # the notebook draws random numbers in between
    assert_same_weights(first.trainer, alone.trainer)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first.step()
    other.d_step()
    assert torch.equal(torch.get_rng_state(), before), "a game step moved the global stream"


def test_building_a_game_leaves_the_global_random_state_alone():
    torch.manual_seed(7)
    before = torch.get_rng_state()
    tiny_game(seed=0)
    assert torch.equal(torch.get_rng_state(), before)


def test_reset_replays_the_same_run():
    game = tiny_game(seed=5)
    start = weights(game.trainer)
    game.step(3)
    after = weights(game.trainer)
    history = list(game.history)
    game.reset()
    assert all(torch.equal(x, y) for x, y in zip(weights(game.trainer), start))
    assert len(game.history) == 1 and game.d_steps == game.g_steps == 0
    game.step(3)
    assert all(torch.equal(x, y) for x, y in zip(weights(game.trainer), after))
    assert game.history == history


def test_a_different_seed_is_a_different_run():
    assert not all(torch.equal(x, y) for x, y in
                   zip(weights(tiny_game(seed=0).trainer), weights(tiny_game(seed=1).trainer)))


def test_learning_rates_and_n_critic_apply_from_the_next_step():
    game = tiny_game(seed=2)
    game.step()
    game.set_learning_rates(lr_d=1e-2)
    game.set_n_critic(3)
    assert [g["lr"] for g in game.trainer.opt_D.param_groups] == [1e-2]
    assert game.config.train.lr_d == 1e-2 and game.config.train.n_critic == 3
    game.step()
    assert (game.d_steps, game.g_steps) == (4, 2)

    ref = reference_trainer(tiny_game(seed=2))
    phase = ref.phase()
    ref.d_step(ref.real_batch(phase), phase)
    ref.g_step(phase.batch_size, phase)
    for group in ref.opt_D.param_groups:
        group["lr"] = 1e-2
    for _ in range(3):
        ref.d_step(ref.real_batch(phase), phase)
    ref.g_step(phase.batch_size, phase)
    assert_same_weights(game.trainer, ref)
    with pytest.raises(ValueError, match="lr_g"):
        game.set_learning_rates(lr_g=-1.0)
    with pytest.raises(ValueError, match="n_critic"):
        game.set_n_critic(0)


def test_history_records_every_update_on_the_points_shown():
    game = tiny_game(seed=0)
    game.d_step()
    game.g_step()
    game.step(2)
    assert [(r.d_steps, r.g_steps) for r in game.history] == [
        (0, 0), (1, 0), (1, 1), (2, 1), (2, 2), (3, 2), (3, 3)]
    last = game.history[-1]
    G, D = game.trainer.G, game.trainer.D
    with torch.no_grad():
        real_logits = D(game.real)
        fake_logits = D(G(game.z_view))
    # non-saturating GAN, written out: D's loss -log s(l_r) - log(1 - s(l_f)), G's -log s(l_f)
    s_real, s_fake = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    loss_d = -torch.log(s_real).mean() - torch.log(1 - s_fake).mean()
    torch.testing.assert_close(last.loss_D, float(loss_d), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(last.loss_G, float(-torch.log(torch.sigmoid(fake_logits)).mean()),
                               rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(last.D_x, float(torch.sigmoid(real_logits).mean()))
    torch.testing.assert_close(last.D_G_z, float(torch.sigmoid(fake_logits).mean()))
    assert last.num_modes == 8 and 0 <= last.modes <= 8 and 0 <= last.high_quality <= 1


def test_record_every_thins_the_history_but_frames_are_always_recorded():
    game = tiny_game(seed=0, record_every=4)
    game.step(3)  # 6 updates: recorded after the 4th
    assert [r.updates for r in game.history] == [0, 4]
    f = game.frame()
    assert f.last.updates == 6 and [r.updates for r in game.history] == [0, 4, 6]
    game.frame()
    assert len(game.history) == 3, "a second frame of the same moment adds no record"


def test_a_long_history_is_thinned_evenly_keeping_both_ends():
    history = list(range(5001))
    kept = dynamics._thinned(history, most=1000)
    assert kept[0] == 0 and kept[-1] == 5000 and len(kept) <= 1002
    assert set(b - a for a, b in zip(kept[:-2], kept[1:-1])) == {6}
    assert dynamics._thinned(history[:900], most=1000) == history[:900]


def test_history_ranges_move_in_round_steps():
    assert [dynamics._round_up(n) for n in (0, 10, 11, 21, 99, 101, 4001)] == [
        10, 10, 20, 50, 100, 200, 5000]
    low, high = dynamics._snapped_range([0.62, 0.71, 0.69])
    assert low <= 0.62 and high >= 0.71 and high - low <= 0.2
    assert dynamics._snapped_range([0.62, 0.68]) == dynamics._snapped_range([0.61, 0.69])
    assert dynamics._snapped_range([1.0, 1.0])[1] > 1.0


# ------------------------------------------------------------------------------ frames
@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "least_squares", "wgan_gp"])
def test_frame_shows_d_and_the_generators_gradient(loss):
    game = tiny_game(seed=1, loss=LossConfig(loss, a=-1.0, b=1.0, c=0.0)
                     if loss == "least_squares" else loss)
    game.step(3)
    f = game.frame()
    D = game.trainer.D
    S = game.grid
    assert f.surface.shape == (S, S) and f.axis.shape == (S,)
    i, j = 3, 11  # the grid point at x = axis[j], y = axis[i]
    with torch.no_grad():
        logit = D(torch.stack([f.axis[j], f.axis[i]])[None])[0]
    expected = torch.sigmoid(logit) if loss in ("minimax", "nonsaturating") else logit
    torch.testing.assert_close(f.surface[i, j], expected)

    # -grad_x L_G per sample, from dL/dlogit written out and autograd only for grad_x logit.
    x = f.arrows_at.clone().requires_grad_(True)
    logits = D(x)
    (grad_logit,) = torch.autograd.grad(logits.sum(), x)  # (A, 2): each row is grad_x l(x_k)
    l = logits.detach()[:, None]
    factor = {"minimax": torch.sigmoid(l),  # -d/dl log(1 - s(l))
              "nonsaturating": 1 - torch.sigmoid(l),  # -d/dl (-log s(l))
              "least_squares": -(l - 0.0),  # -d/dl 1/2 (l - c)^2 with c = 0
              "wgan_gp": torch.ones_like(l)}[loss]  # -d/dl (-l)
    torch.testing.assert_close(f.arrows, factor * grad_logit, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(f.arrows_at, f.fake[:game.n_arrows])


def test_the_undecided_level():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.0])
    assert dynamics.undecided_level(LossConfig("minimax"), real, fake)[0] == 0.5
    assert dynamics.undecided_level(LossConfig("least_squares", a=-1, b=1, c=0), real,
                                    fake)[0] == 0.0
    assert dynamics.undecided_level(LossConfig("wgan_gp"), real, fake)[0] == (2.0 - 1.0) / 2


def test_the_saturating_loss_gives_rejected_fakes_almost_no_push():
    """Seed 002's argument in numbers: once D rejects the fakes confidently, the minimax loss
    barely pushes them, the non-saturating loss (the same D: G has not moved) pushes hard, and
    least squares (its own D, same seed and steps) still pushes."""
    pushes, d_fake = {}, {}
    for loss in ("minimax", "nonsaturating", "least_squares"):
        game = tiny_game(seed=0, loss=loss, lr_d=1e-2)
        for _ in range(50):
            game.d_step()
        f = game.frame()
        pushes[loss] = float(f.arrows.norm(dim=1).median())
        d_fake[loss] = f.last.D_G_z
    assert d_fake["minimax"] == d_fake["nonsaturating"] < 0.05, d_fake
    assert d_fake["least_squares"] < 0.25, d_fake  # near the fake target a = 0, far from b = 1
    assert pushes["minimax"] < 0.01 * pushes["nonsaturating"], pushes
    assert pushes["minimax"] < 0.2 * pushes["least_squares"], pushes


# ------------------------------------------------------------------------------ input checks
def test_your_own_points():
    torch.manual_seed(0)
    points = torch.rand(300, 2) * 1.6 - 0.8
    game = Game2D(points, profile="tiny", n_points=100, grid=8, n_arrows=4)
    game.step()
    f = game.frame()
    assert f.centers is None and f.last.modes is None and f.data_name == "your points"
    assert f.real.shape == (100, 2)
    assert FrameRenderer(width=300, height=200).render(f)[:8] == PNG_SIGNATURE


@pytest.mark.parametrize("data, message", [
    (torch.zeros(10, 3), r"shape \(N, 2\)"),
    (torch.full((10, 2), 2.0), r"outside \[-1, 1\]"),
    (torch.tensor([[0.0, float("nan")]]), "NaN"),
    ("moons", "ring8, grid25"),
    (42, "tensor"),
])
def test_bad_points_are_refused_early(data, message):
    with pytest.raises((ValueError, TypeError), match=message):
        Game2D(data, profile="tiny")


def test_an_image_model_is_refused():
    with pytest.raises(ValueError, match="2-D points"):
        Game2D("ring8", preset("dcgan", profile="tiny"))
    with pytest.raises(ValueError, match="n_arrows"):
        Game2D("ring8", profile="tiny", n_points=10, n_arrows=20)
    with pytest.raises(ValueError, match="unknown loss"):
        Game2D("ring8", profile="tiny", loss="hinge")


def test_the_relativistic_loss_is_refused_with_the_reason():
    # Its G loss pairs each fake with a real point: there is no per-fake arrow to draw.
    with pytest.raises(ValueError, match="pairs every fake with a real point"):
        Game2D("ring8", profile="tiny", loss="relativistic")
    game = Game2D("ring8", profile="tiny")
    with pytest.raises(ValueError, match="pairs every fake"):
        game.reset(game.config.replace(loss__name="relativistic"))


# ------------------------------------------------------------------------------ drawing
@pytest.fixture(scope="module")
def frames():
    game = Game2D("grid25", profile="tiny", n_points=300, grid=24, seed=0)
    first = game.frame()
    game.step(4)
    return first, game.frame()


@pytest.mark.parametrize("side_panel", [True, False])
def test_render_is_a_png_of_the_asked_size(frames, side_panel):
    from PIL import Image

    png = FrameRenderer(width=640, height=300, side_panel=side_panel).render(frames[1])
    assert png[:8] == PNG_SIGNATURE
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert png_size(png) == (640, 300)


def test_render_depends_only_on_the_frame(frames):
    first, later = frames
    reused = FrameRenderer()
    a = reused.render(first)
    b = reused.render(later)
    assert a != b, "two different moments of the game drew the same picture"
    assert reused.render(first) == a == FrameRenderer().render(first)


def test_drawn_arrows_keep_direction_and_grow_with_the_gradient():
    g = torch.tensor([[3.0, 4.0], [0.0, -0.1], [1e-4, 0.0], [0.0, 0.0]])
    drawn = dynamics.drawn_arrows(g, arrow_max=0.25, arrow_half=0.1)
    lengths = drawn.norm(dim=1)
    torch.testing.assert_close(lengths, torch.tensor([0.25 * 5 / 5.1, 0.125, 0.25 * 1e-4 / 0.1001,
                                                      0.0]))
    torch.testing.assert_close(drawn[0] / lengths[0], torch.tensor([0.6, 0.8]))
    assert lengths[2] < 1e-3, "a vanishing gradient must stay a vanishing arrow"


def test_arrow_settings_change_only_the_arrows(frames):
    from PIL import Image, ImageChops

    _, f = frames
    short = FrameRenderer(side_panel=False, arrow_max=0.05).render(f)
    long = FrameRenderer(side_panel=False, arrow_max=0.5).render(f)
    diff = ImageChops.difference(Image.open(io.BytesIO(short)).convert("RGB"),
                                 Image.open(io.BytesIO(long)).convert("RGB"))
    assert diff.getbbox(), "the arrows did not change"
    for bad in (dict(arrow_max=0), dict(arrow_half=-1.0)):
        with pytest.raises(ValueError, match="arrow"):
            FrameRenderer(**bad)


def test_strip_puts_pictures_side_by_side(frames):
    pngs = [FrameRenderer(width=200, height=120, side_panel=False).render(f) for f in frames]
    assert png_size(dynamics.strip_png(pngs, padding=4)) == (2 * 200 + 4, 120)
    assert png_size(dynamics.strip_png(pngs * 2, columns=2, padding=4)) == (404, 2 * 120 + 4)
    with pytest.raises(ValueError, match="at least one"):
        dynamics.strip_png([])


def test_frame_time_reports_a_median():
    """The issue asks for <= 100 ms per frame at 1,000 points and a 64x64 grid on a 2-core CPU,
    measured on an idle machine (scripts/dynamics_frame_time.py). Tests share the machine, so
    the bound here is generous; it still catches a renderer that rebuilds its figure or draws
    point by point."""
    result = dynamics.frame_time(repeats=5, warmup_steps=5, profile="tiny", threads=1)
    print(f"frame: median {result['median_ms']:.0f} ms (measure {result['measure_ms']:.0f}, "
          f"draw {result['draw_ms']:.0f})")
    assert result["n_points"] == 1000 and result["grid"] == 64
    assert 0 < result["measure_ms"] < result["median_ms"]
    assert result["median_ms"] <= 1000
