"""ganlab.widgets.dynamics: the training-dynamics explorer, driven headless.

Buttons are clicked and values set from Python, as a learner would in the notebook. After any
sequence of clicks the explorer's networks must equal those of an identically seeded Trainer
that made the same ``d_step``/``g_step`` calls, and the picture must be the pure renderer's
drawing of the game's frame.
"""

from __future__ import annotations

import pytest
import torch

from ganlab.dynamics import FrameRenderer
from ganlab.training import Trainer
from ganlab.widgets import DynamicsExplorer

SMALL = dict(profile="tiny", n_points=200, grid=16, n_arrows=16, width=480, height=240)


def explorer(**kwargs) -> DynamicsExplorer:
    return DynamicsExplorer("ring8", **{**SMALL, **kwargs})


def weights(trainer) -> list[torch.Tensor]:
    return [t.detach().clone() for m in (trainer.G, trainer.D) for t in m.state_dict().values()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def replay(e: DynamicsExplorer, calls: str, lr_d: float | None = None) -> Trainer:
    """A Trainer seeded like the explorer's game that makes ``calls`` ("D"/"G") in order."""
    config = e.game.config if lr_d is None else e.game.config.replace(train__lr_d=lr_d)
    ref = Trainer(config, device="cpu", data=e.game.data, progress=False)
    phase = ref.phase()
    for call in calls:
        if call == "D":
            ref.d_step(ref.real_batch(phase), phase)
        else:
            ref.g_step(phase.batch_size, phase)
    return ref


def shows_the_game(e: DynamicsExplorer) -> bool:
    renderer = FrameRenderer(width=e.renderer.width, height=e.renderer.height,
                             arrow_max=e.renderer.arrow_max, arrow_half=e.renderer.arrow_half)
    return e.image.value == renderer.render(e.game.frame())


def test_buttons_make_the_trainers_steps():
    e = explorer(seed=4, rounds_per_tick=2)
    first = e.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n" and shows_the_game(e)
    e.step_d_button.click()
    assert e.image.value != first, "step D did not change the picture"
    e.step_g_button.click()
    e.n_critic.value = 2
    e.step_button.click()  # D D G
    e.play.value = 1  # one Play tick: steps per frame = 2 rounds of D D G
    assert (e.game.d_steps, e.game.g_steps) == (7, 4)
    assert same(weights(e.game.trainer), weights(replay(e, "DG" + "DDG" * 3)))
    assert shows_the_game(e)
    assert "4 G steps, 7 D steps" in e.status.value


def test_play_stop_rewinds_without_stepping():
    e = explorer(seed=0, rounds_per_tick=1)
    e.play.value = 3  # the frontend may skip values: one tick per change
    assert e.game.g_steps == 1
    e.play.value = 0  # the stop button
    assert e.game.g_steps == 1
    e.play.value = 1
    assert e.game.g_steps == 2


def test_learning_rate_applies_from_the_next_step():
    e = explorer(seed=2)
    before = e.image.value
    e.lr_d.value = 1e-2
    assert e.image.value == before, "a setting alone does not move the game"
    assert [g["lr"] for g in e.game.trainer.opt_D.param_groups] == [1e-2]
    e.step_button.click()
    ref = replay(e, "DG", lr_d=1e-2)  # the same lr from the start: equal after one round
    assert same(weights(e.game.trainer), weights(ref))
    assert "lr D 1.0e-02" in e.status.value


def test_loss_and_seed_restart_the_run():
    e = explorer(seed=1)
    start = weights(e.game.trainer)
    e.step_button.click()
    e.loss.value = "least_squares"
    assert e.game.loss.name == "least_squares" and e.game.g_steps == 0
    assert same(weights(e.game.trainer), start), "the same seed must give the same start"
    assert all(w.layout.display is None for w in (e.a, e.b, e.c))
    e.a.value = -1.0
    e.c.value = 0.0
    assert (e.game.loss.config.a, e.game.loss.config.c) == (-1.0, 0.0)
    e.step_button.click()
    assert same(weights(e.game.trainer), weights(replay(e, "DG")))
    assert shows_the_game(e)
    e.seed.value = 9
    assert e.game.config.train.seed == 9 and not same(weights(e.game.trainer), start)
    e.loss.value = "wgan_gp"
    assert all(w.layout.display == "none" for w in (e.a, e.b, e.c))


def test_a_bad_setting_is_reported_and_changes_nothing():
    e = explorer(seed=0, loss="least_squares")
    e.step_button.click()
    e.b.value = e.a.value  # least squares needs b != a
    assert "b != a" in e.status.value
    assert e.game.g_steps == 1 and e.game.loss.config.b == 1.0


def test_reset_gives_the_same_run_again():
    e = explorer(seed=6)
    start = weights(e.game.trainer)
    start_png = e.image.value
    for button in (e.step_d_button, e.step_button, e.step_button):
        button.click()
    once = weights(e.game.trainer)
    e.reset_button.click()
    assert same(weights(e.game.trainer), start) and e.image.value == start_png
    for button in (e.step_d_button, e.step_button, e.step_button):
        button.click()
    assert same(weights(e.game.trainer), once)


def test_close_closes_every_widget():
    from ipywidgets.widgets import widget as widget_module

    def alive() -> set:
        instances = getattr(widget_module, "_instances", None)
        return set(instances if instances is not None else widget_module.Widget.widgets)

    before = alive()
    e = explorer()
    assert len(alive() - before) > 20
    e.close()
    assert alive() - before == set()


def test_bad_construction_fails_early():
    with pytest.raises(ValueError, match="outside"):
        DynamicsExplorer(torch.full((5, 2), 3.0), profile="tiny")
