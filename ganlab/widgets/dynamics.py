"""The training-dynamics explorer: a thin ipywidgets view over :class:`ganlab.dynamics.Game2D`
and :class:`ganlab.dynamics.FrameRenderer`.

Buttons step the discriminator, the generator or both (Algorithm 1's ``n_critic`` D steps, then
one G step) through the real ``Trainer``; Play repeats "step both"; every change redraws one
picture, ``renderer.render(game.frame())``. Everything can be driven from Python by clicking
buttons (``button.click()``) and setting ``.value``s. ipywidgets is imported only when an
explorer is built.
"""

from __future__ import annotations

import html
import math
from typing import Any

import torch

from ganlab.config import LossConfig, RunConfig
from ganlab.data import TensorData
from ganlab.dynamics import LOSS_LABELS, FrameRenderer, Game2D

__all__ = ["DynamicsExplorer"]


class DynamicsExplorer:
    """Watch a GAN learn 2-D points, one step at a time (GAN Lab's picture, ganlab's Trainer).

    ``data``, ``config``, ``loss``, ``seed``, ``lr_d``, ``lr_g``, ``n_critic``, ``profile``,
    ``n_points``, ``n_arrows`` and ``grid`` are :class:`ganlab.dynamics.Game2D`'s; ``width``,
    ``height``, ``arrow_max`` and ``arrow_half`` the :class:`~ganlab.dynamics.FrameRenderer`'s.
    The explorer's game is ``explorer.game`` and its picture ``explorer.image.value``.

    Controls: *step D*, *step G*, *step both*, Play/Pause (*rounds / tick* rounds of step
    both per tick), *reset* (the same seed gives the same run), the loss (with least squares'
    a, b, c), the two learning rates and D steps per G step (both apply from the next step),
    and the seed (the initial weights and every random draw of the run: batches and noise).
    Changing the loss, a, b, c or the seed restarts the run from step 0, since they define it.
    """

    def __init__(self, data: str | torch.Tensor | TensorData = "ring8",
                 config: RunConfig | None = None, *,
                 loss: str | LossConfig | None = None, seed: int | None = None,
                 lr_d: float | None = None, lr_g: float | None = None, n_critic: int | None = None,
                 profile: str | None = None, n_points: int = 1000, n_arrows: int = 64,
                 grid: int = 64, width: int = 900, height: int = 420, arrow_max: float = 0.25,
                 arrow_half: float = 0.1, rounds_per_tick: int = 5) -> None:
        self.game = Game2D(data, config, loss=loss, seed=seed, lr_d=lr_d, lr_g=lr_g,
                           n_critic=n_critic, profile=profile, n_points=n_points,
                           n_arrows=n_arrows, grid=grid)
        self.renderer = FrameRenderer(width=width, height=height, arrow_max=arrow_max,
                                      arrow_half=arrow_half)
        self._build(rounds_per_tick)

    # ---------------------------------------------------------------- widgets
    def _build(self, rounds_per_tick: int) -> None:
        import ipywidgets as W

        config = self.game.config
        tc, lc = config.train, config.loss
        slow = dict(continuous_update=False)
        narrow = W.Layout(width="auto")
        self.image = W.Image(format="png", layout=W.Layout(align_self="flex-start"))
        self.status = W.HTML()
        self.step_d_button = W.Button(description="step D", layout=narrow,
                                      tooltip="one Trainer.d_step")
        self.step_g_button = W.Button(description="step G", layout=narrow,
                                      tooltip="one Trainer.g_step")
        self.step_button = W.Button(description="step both", layout=narrow,
                                    tooltip="n_critic D steps, then one G step")
        self.reset_button = W.Button(description="reset", icon="undo", layout=narrow)
        self.play = W.Play(value=0, min=0, max=10**9, interval=200, description="play",
                           show_repeat=False)
        self.rounds_per_tick = W.IntSlider(value=rounds_per_tick, min=1, max=100,
                                           description="rounds / tick",
                                           style={"description_width": "initial"}, **slow)

        self.loss = W.Dropdown(options=[(label, name) for name, label in LOSS_LABELS.items()],
                               value=lc.name, description="loss")
        style = {"description_width": "initial"}
        self.a = W.FloatText(value=lc.a, description="a (fake)", style=style,
                             layout=W.Layout(width="120px"))
        self.b = W.FloatText(value=lc.b, description="b (real)", style=style,
                             layout=W.Layout(width="120px"))
        self.c = W.FloatText(value=lc.c, description="c (G's aim)", style=style,
                             layout=W.Layout(width="130px"))
        self.lr_d = W.FloatLogSlider(value=tc.lr_d, base=10, min=-5, max=-1, step=0.1,
                                     description="lr D", readout_format=".1e", **slow)
        self.lr_g = W.FloatLogSlider(value=tc.lr_g, base=10, min=-5, max=-1, step=0.1,
                                     description="lr G", readout_format=".1e", **slow)
        self.n_critic = W.IntSlider(value=tc.n_critic, min=1, max=10, description="D steps / G",
                                    **slow)
        self.seed = W.BoundedIntText(value=tc.seed, min=0, max=2**31 - 1, description="seed",
                                     **slow)

        buttons = W.HBox([self.step_d_button, self.step_g_button, self.step_button, self.play,
                          self.rounds_per_tick, self.reset_button])
        settings = W.HBox([W.VBox([self.loss, W.HBox([self.a, self.b, self.c])]),
                           W.VBox([self.lr_d, self.lr_g]), W.VBox([self.n_critic, self.seed])])
        self.widget = W.VBox([W.HTML("<b>DynamicsExplorer</b>: the GAN game on 2-D points"),
                              buttons, settings, self.image, self.status])
        # CSS classes name the parts for browser tests and custom styles.
        self.widget.add_class("ganlab-dynamics")
        for name in ("image", "status", "step_d_button", "step_g_button", "step_button",
                     "reset_button", "play"):
            getattr(self, name).add_class(f"ganlab-dynamics-{name.replace('_', '-')}")

        self.step_d_button.on_click(lambda _: self._act(self.game.d_step))
        self.step_g_button.on_click(lambda _: self._act(self.game.g_step))
        self.step_button.on_click(lambda _: self._act(self.game.step))
        self.reset_button.on_click(lambda _: self._act(self.game.reset))
        self._last_tick = self.play.value
        self.play.observe(lambda ch: self._on_tick(ch["new"]), names="value")
        for w in (self.loss, self.a, self.b, self.c, self.seed):
            w.observe(lambda _: self._restart(), names="value")
        for w in (self.lr_d, self.lr_g):
            w.observe(lambda _: self._act(lambda: self.game.set_learning_rates(
                self.lr_d.value, self.lr_g.value), redraw=False), names="value")
        self.n_critic.observe(lambda _: self._act(
            lambda: self.game.set_n_critic(self.n_critic.value), redraw=False), names="value")
        self._show_abc()
        self.update()

    def _act(self, action: Any, redraw: bool = True) -> None:
        """Run one action of a control; a bad value is reported in the status line."""
        try:
            action()
        except ValueError as err:
            self._error(err)
            return
        if redraw:
            self.update()
        else:
            self._show_status()

    def _on_tick(self, tick: int) -> None:
        """Play advanced: *rounds / tick* rounds of step both (the stop button rewinds the
        counter, which steps nothing)."""
        previous, self._last_tick = self._last_tick, tick
        if tick > previous:
            self._act(lambda: self.game.step(self.rounds_per_tick.value))

    def _restart(self) -> None:
        """Loss, a, b, c or seed changed: they define the run, which starts again."""
        self._show_abc()
        try:
            loss = LossConfig(self.loss.value, a=self.a.value, b=self.b.value, c=self.c.value)
            config = self.game.config.replace(loss=loss, train__seed=self.seed.value)
        except ValueError as err:
            self._error(err)
            return
        self.game.reset(config)
        self.update()

    def _show_abc(self) -> None:
        display = None if self.loss.value == "least_squares" else "none"
        for w in (self.a, self.b, self.c):
            w.layout.display = display

    # ---------------------------------------------------------------- the view
    def update(self) -> None:
        """Redraw the picture and the status line from the game."""
        self.image.value = self.renderer.render(self.game.frame())
        self._show_status()

    def _show_status(self) -> None:
        r = self.game.history[-1]
        values = (r.loss_D, r.loss_G, r.D_x, r.D_G_z)
        if not all(math.isfinite(v) for v in values):
            self._error("training diverged (a loss is NaN or infinite): lower the learning "
                        "rates and press reset")
            return
        tc = self.game.config.train
        coverage = ("" if r.modes is None else
                    f" · {r.modes}/{r.num_modes} modes, {100 * r.high_quality:.0f}% high quality")
        self.status.value = (
            f"{r.g_steps} G steps, {r.d_steps} D steps (seed {tc.seed}, lr D {tc.lr_d:.1e}, "
            f"lr G {tc.lr_g:.1e}, {tc.n_critic} D steps per G step) · loss D {r.loss_D:.3f}, "
            f"loss G {r.loss_G:.3f} · D(x) {r.D_x:.3f}, D(G(z)) {r.D_G_z:.3f}{coverage}")

    def _error(self, err: Exception | str) -> None:
        self.status.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"

    def close(self) -> None:
        """Close every widget of the explorer (they disappear from the page and the kernel)."""
        from ganlab.widgets.latent import close_widgets

        close_widgets(self.widget)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
