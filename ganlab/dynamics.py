"""The GAN game on 2-D points, one step at a time, and the picture of it (GAN Lab's view).

GAN Lab (Kahng et al., 2019, poloclub/ganlab) shows the whole game in one picture: the data, the
generator's samples, the discriminator's output over the plane and, on each sample, the
direction in which the generator's loss pushes it. This module draws that picture for ganlab's
own ``Trainer``, losses and models, so that the equations of notebooks 01 and 03 can be watched
while they act:

- :class:`Game2D` plays a GAN on 2-D points (``ring8``, ``grid25`` or your own ``(N, 2)``
  tensor). Its ``d_step()`` and ``g_step()`` *are* ``Trainer.d_step`` and ``Trainer.g_step`` on
  the run's own random stream, so the same seed and the same sequence of steps always give the
  same weights, whatever else the notebook does in between.
- :meth:`Game2D.frame` measures what the picture shows, as a :class:`Frame`: real points, fake
  points ``G(z)`` for a fixed ``z``, D's output on a grid over the plane (``sigmoid(D)`` for the
  BCE losses, the raw value for least squares and WGAN-GP: ``GANLoss.d_prob``), the level where
  D is undecided, ``-grad_x L_G`` on a subset of the fakes (what the generator is told to do),
  and the history of the game.
- :class:`FrameRenderer` draws a frame with matplotlib's Agg canvas (no pyplot, no display):
  ``(frame) -> PNG bytes``, the same bytes for the same frame. :func:`frame_time` measures it.

``ganlab.widgets.DynamicsExplorer`` is a thin ipywidgets view over these. matplotlib is imported
only when a frame is drawn.
"""

from __future__ import annotations

import contextlib
import io
import math
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ganlab.config import LOSSES, LossConfig, MLPConfig, RunConfig
from ganlab.data import POINT_SETS, GaussianMixture, TensorData
from ganlab.losses import GANLoss
from ganlab.training import Trainer, sample_z

__all__ = ["Frame", "FrameRenderer", "Game2D", "Record", "drawn_arrows", "frame_time",
           "strip_png"]

LIMIT = 1.1  # the plane shown is [-LIMIT, LIMIT]^2; data and G's tanh outputs lie in [-1, 1]
BCE_LOSSES = ("minimax", "nonsaturating")
LOSS_LABELS = {"minimax": "minimax (saturating)", "nonsaturating": "non-saturating",
               "least_squares": "least squares", "wgan_gp": "WGAN-GP"}
VIEW_SEED = 2019  # the fixed z of the fakes shown (GAN Lab's year); training noise is separate


# ------------------------------------------------------------------------------ records, frames
@dataclass(frozen=True)
class Record:
    """The game after ``d_steps`` D updates and ``g_steps`` G updates, measured on the points
    shown (the fixed real sample and ``G`` of the fixed ``z``), D and G in eval mode.

    ``loss_D`` is D's main loss without a regulariser (WGAN-GP's penalty is left out);
    ``D_x``/``D_G_z`` are ``GANLoss.d_prob`` averages: probabilities for the BCE losses, raw
    outputs otherwise. ``modes``/``high_quality`` are ``ganlab.metrics.mode_coverage`` (None
    when the data has no known mode centres).
    """

    d_steps: int
    g_steps: int
    loss_D: float
    loss_G: float
    D_x: float
    D_G_z: float
    modes: int | None
    num_modes: int | None
    high_quality: float | None

    @property
    def updates(self) -> int:
        return self.d_steps + self.g_steps


@dataclass(frozen=True)
class Frame:
    """Everything one picture of the game shows; all tensors on the CPU, float32.

    ``surface[i, j]`` is D's output (see :class:`Record`) at ``(axis[j], axis[i])``: rows run
    along y, bottom to top. ``arrows[k]`` is ``-grad_x`` of G's per-sample loss at
    ``arrows_at[k]`` (the first fakes).
    """

    real: torch.Tensor  # (R, 2)
    fake: torch.Tensor  # (N, 2)
    axis: torch.Tensor  # (S,) grid coordinates, the same for x and y
    surface: torch.Tensor  # (S, S)
    level: float  # D's output where it is undecided
    level_label: str
    arrows_at: torch.Tensor  # (A, 2)
    arrows: torch.Tensor  # (A, 2)
    loss: LossConfig
    data_name: str
    centers: torch.Tensor | None  # (M, 2) mode centres, if known
    history: tuple[Record, ...]
    limit: float = LIMIT

    @property
    def last(self) -> Record:
        return self.history[-1]


def undecided_level(loss: LossConfig, real_out: torch.Tensor, fake_out: torch.Tensor
                    ) -> tuple[float, str]:
    """D's output where it cannot tell real from fake, and how to say it.

    BCE losses: ``sigmoid(D) = 1/2``. Least squares: midway between the targets ``a`` (fake) and
    ``b`` (real). WGAN-GP's critic has no such level (only differences of its values mean
    anything), so the midpoint of its mean outputs on the real and fake points shown is used.
    """
    if loss.name in BCE_LOSSES:
        return 0.5, "sigmoid(D) = 0.5"
    if loss.name == "least_squares":
        return (loss.a + loss.b) / 2, f"D = (a + b) / 2 = {(loss.a + loss.b) / 2:g}"
    level = float(real_out.mean() + fake_out.mean()) / 2
    return level, "D midway between its means on real and fake"


# ------------------------------------------------------------------------------ the game
def _points(data: str | torch.Tensor | TensorData) -> TensorData:
    if isinstance(data, TensorData):
        x = data.data
        name = data.name
    elif isinstance(data, str):
        if data not in POINT_SETS:
            raise ValueError(f"unknown 2-D data set {data!r}; choose one of "
                             f"{', '.join(POINT_SETS)} or pass an (N, 2) tensor of points")
        from ganlab.data import load

        return load(data)
    elif isinstance(data, torch.Tensor):
        x, name = data, "your points"
    else:
        raise TypeError(f"data must be 'ring8', 'grid25' or an (N, 2) tensor, got "
                        f"{type(data).__name__}")
    if x.ndim != 2 or x.shape[1] != 2 or x.shape[0] < 1:
        raise ValueError(f"expected points of shape (N, 2), got {tuple(x.shape)}")
    x = x.detach().float().cpu()
    if not torch.isfinite(x).all():
        raise ValueError("the points contain NaN or infinity")
    if x.abs().max() > 1:
        raise ValueError(f"the points reach {x.abs().max():.3g}, outside [-1, 1], where G's tanh "
                         "output cannot go; scale them first, e.g. x / x.abs().max()")
    mixture = data.mixture if isinstance(data, TensorData) else None
    return TensorData(name, x, None, mixture)


def _loss_config(loss: str | LossConfig | None, current: LossConfig) -> LossConfig:
    if loss is None:
        return current
    if isinstance(loss, LossConfig):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    return LossConfig(loss)


def _check_config(config: Any) -> None:
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a ganlab RunConfig, got {type(config).__name__}")
    if not isinstance(config.arch, MLPConfig) or tuple(config.arch.data_shape) != (2,):
        raise ValueError("Game2D plays on 2-D points: it needs an MLP config with data_shape "
                         f"(2,), such as preset('vanilla', 'ring8'); got {config.arch!r}")
    if config.loss.name not in LOSS_LABELS:
        raise ValueError(f"Game2D draws D's surface and each fake's own gradient, which the "
                         f"{config.loss.name} loss does not have (it pairs every fake with a real "
                         f"point); choose one of {', '.join(LOSS_LABELS)}, or train it with "
                         "ganlab.training.Trainer")


@contextlib.contextmanager
def _eval_mode(*modules: nn.Module) -> Iterator[None]:
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)


class Game2D:
    """A GAN on 2-D points, stepped by hand: ``d_step()``, ``g_step()``, ``step()``.

    ``data``: ``"ring8"``, ``"grid25"``, a ``TensorData`` of points or an ``(N, 2)`` tensor in
    [-1, 1]. ``config``: a ``RunConfig`` for a 2-D MLP; by default ``preset("vanilla", data)``
    of the active profile (for your own points, the ``ring8`` preset's networks and settings:
    its ``config.data`` then names ring8, but the game plays on your points). ``loss``,
    ``seed``, ``lr_d``, ``lr_g`` and ``n_critic`` override the config. The game trains in fp32
    on the CPU (``amp="off"``): a 2-D MLP gains nothing from bf16 or a GPU.

    ``n_points`` fakes (``G`` of a fixed ``z``) and as many real points are shown and measured
    after every ``record_every``-th update (D step or G step) and for every frame, as a
    :class:`Record` in :attr:`history` (measuring costs about one step: long runs in a notebook
    record less often); ``n_arrows`` of the fakes carry an arrow; D's output is sampled on a
    ``grid`` x ``grid`` lattice over the plane.

    The trainer's global random stream is kept per game: each step swaps it in and out, so two
    games in one notebook do not disturb each other and a game replays exactly.
    """

    def __init__(self, data: str | torch.Tensor | TensorData = "ring8",
                 config: RunConfig | None = None, *, loss: str | LossConfig | None = None,
                 seed: int | None = None, lr_d: float | None = None, lr_g: float | None = None,
                 n_critic: int | None = None, profile: str | None = None, n_points: int = 1000,
                 n_arrows: int = 64, grid: int = 64, record_every: int = 1) -> None:
        self.data = _points(data)
        if config is None:
            from ganlab.presets import preset

            name = self.data.name if self.data.name in POINT_SETS else "ring8"
            config = preset("vanilla", name, profile)
        _check_config(config)
        for name, value, low in (("n_points", n_points, 1), ("n_arrows", n_arrows, 0),
                                 ("grid", grid, 2), ("record_every", record_every, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if n_arrows > n_points:
            raise ValueError(f"n_arrows ({n_arrows}) cannot exceed n_points ({n_points})")
        changes: dict[str, Any] = {"train__amp": "off",
                                   "loss": _loss_config(loss, config.loss)}
        for key, value in (("seed", seed), ("lr_d", lr_d), ("lr_g", lr_g),
                           ("n_critic", n_critic)):
            if value is not None:
                changes[f"train__{key}"] = value
        self.config = config.replace(**changes)
        _check_config(self.config)  # the loss may have changed
        self.n_points, self.n_arrows, self.grid = n_points, n_arrows, grid
        self.record_every = record_every
        self.real = self._real_sample(n_points)  # (n_points, 2), fixed
        self.axis = torch.linspace(-LIMIT, LIMIT, grid)  # (S,)
        gy, gx = torch.meshgrid(self.axis, self.axis, indexing="ij")
        self.plane = torch.stack([gx.flatten(), gy.flatten()], dim=1)  # (S*S, 2): row i is y_i
        self.reset()

    def _real_sample(self, n: int) -> torch.Tensor:
        x = self.data.tensors().float().cpu()
        if x.shape[0] <= n:
            return x
        pick = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))[:n]
        return x[pick]

    # ---------------------------------------------------------------- the run
    def reset(self, config: RunConfig | None = None) -> None:
        """Start again from step 0 with ``config`` (default: the current one): same seed, same
        run. The notebook's own random state is left as it was."""
        if config is not None:
            _check_config(config)
            self.config = config
        outer = _rng_states()
        try:
            self.trainer = Trainer(self.config, device="cpu", data=self.data, progress=False)
            self._rng = torch.get_rng_state()  # the run's stream, right after initialisation
        finally:
            _set_rng_states(outer)
        self.z_view = sample_z(self.n_points, self.config.arch.latent_dim, seed=VIEW_SEED)
        self.d_steps = 0
        self.g_steps = 0
        self.history: list[Record] = [self._measure()]

    @property
    def loss(self) -> GANLoss:
        return self.trainer.loss

    @contextlib.contextmanager
    def _own_rng(self) -> Iterator[None]:
        outer = torch.get_rng_state()
        torch.set_rng_state(self._rng)
        try:
            yield
        finally:
            self._rng = torch.get_rng_state()
            torch.set_rng_state(outer)

    def d_step(self) -> None:
        """One ``Trainer.d_step`` on a fresh real batch and fresh fakes (regularised, with
        ``loss.reg_every`` > 1, on one D step in ``reg_every`` like the trainer's)."""
        t = self.trainer
        phase = t.phase()
        with self._own_rng():
            t.d_step(t.real_batch(phase), phase,
                     regularize=self.d_steps % self.config.loss.reg_every == 0)
        t.images_seen += phase.batch_size
        self.d_steps += 1
        self._record(due=True)

    def g_step(self) -> None:
        """One ``Trainer.g_step`` on fresh fakes through the frozen D."""
        t = self.trainer
        phase = t.phase()
        with self._own_rng():
            t.g_step(phase.batch_size, phase)
        t.step += 1
        self.g_steps += 1
        self._record(due=True)

    def step(self, n: int = 1) -> None:
        """``n`` rounds of Algorithm 1: ``n_critic`` D steps, then one G step."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        for _ in range(n):
            for _ in range(self.config.train.n_critic):
                self.d_step()
            self.g_step()

    def set_learning_rates(self, lr_d: float | None = None, lr_g: float | None = None) -> None:
        """Change Adam's learning rates from the next step on (``reset`` keeps them)."""
        changes = {f"train__{key}": value for key, value in (("lr_d", lr_d), ("lr_g", lr_g))
                   if value is not None}
        self.config = self.config.replace(**changes)  # validates the values
        for key, opt in (("lr_d", self.trainer.opt_D), ("lr_g", self.trainer.opt_G)):
            for group in opt.param_groups:
                group["lr"] = getattr(self.config.train, key)

    def set_n_critic(self, n_critic: int) -> None:
        """D steps per G step in :meth:`step`, from the next step on."""
        self.config = self.config.replace(train__n_critic=n_critic)

    # ---------------------------------------------------------------- measuring
    @property
    def updates(self) -> int:
        """D steps + G steps since the start."""
        return self.d_steps + self.g_steps

    def _record(self, due: bool = False) -> None:
        """Measure the game into :attr:`history`: after every ``record_every``-th update (when
        ``due``), or now if the last record is older than the last update."""
        if due and self.updates % self.record_every:
            return
        if self.history[-1].updates != self.updates:
            self.history.append(self._measure())

    def _outputs(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(fakes, D on the real points, D on the fakes): raw logits, no autograd."""
        G, D = self.trainer.G, self.trainer.D
        with torch.no_grad(), _eval_mode(G, D):
            fake = G(self.z_view).float()  # (N, 2)
            logits = D(torch.cat([self.real, fake])).float()  # (R + N,): one pass for both
        return fake, logits[:len(self.real)], logits[len(self.real):]

    def _measure(self) -> Record:
        from ganlab.metrics import mode_coverage

        fake, real_logits, fake_logits = self._outputs()
        loss = self.trainer.loss
        mixture: GaussianMixture | None = self.data.mixture
        cov = mode_coverage(fake, mixture) if mixture is not None else None
        return Record(
            self.d_steps, self.g_steps,
            float(loss.discriminator(real_logits, fake_logits)), float(loss.generator(fake_logits)),
            float(loss.d_prob(real_logits).mean()), float(loss.d_prob(fake_logits).mean()),
            cov.modes_captured if cov else None, cov.num_modes if cov else None,
            cov.high_quality if cov else None)

    def generator_gradients(self, x: torch.Tensor) -> torch.Tensor:
        """``-grad_x`` of G's loss for each of the points ``x`` (A, 2), as a sample of G would
        receive it: the per-sample loss (G's loss is a mean over the batch) through the current
        D in eval mode. Only ``x`` gets a gradient; D's weights are not touched."""
        D = self.trainer.D
        x = x.detach().clone().requires_grad_(True)
        with torch.enable_grad(), _eval_mode(D):
            per_sample_sum = self.trainer.loss.generator(D(x).float()) * x.shape[0]
            (grad,) = torch.autograd.grad(per_sample_sum, x)
        return -grad  # (A, 2)

    def frame(self) -> Frame:
        """What the picture shows now (see :class:`Frame`); records the game if needed."""
        self._record()
        fake, real_logits, fake_logits = self._outputs()
        loss = self.trainer.loss
        D = self.trainer.D
        with torch.no_grad(), _eval_mode(D):
            surface = loss.d_prob(D(self.plane).float()).view(self.grid, self.grid)  # (S, S)
        level, label = undecided_level(loss.config, loss.d_prob(real_logits),
                                       loss.d_prob(fake_logits))
        at = fake[:self.n_arrows]
        mixture = self.data.mixture
        return Frame(self.real, fake, self.axis, surface, level, label, at,
                     self.generator_gradients(at), loss.config, self.data.name,
                     None if mixture is None else mixture.centers.float(), tuple(self.history))

    def render(self, renderer: FrameRenderer | None = None) -> bytes:
        """PNG bytes of :meth:`frame` (with a default :class:`FrameRenderer` if none is given)."""
        return (renderer or FrameRenderer()).render(self.frame())


def _rng_states() -> tuple[Any, ...]:
    import random

    import numpy as np

    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def _set_rng_states(states: tuple[Any, ...]) -> None:
    import random

    import numpy as np

    random.setstate(states[0])
    np.random.set_state(states[1])
    torch.set_rng_state(states[2])


# ------------------------------------------------------------------------------ drawing
REAL_COLOR = "#1b7837"  # green: real, as in GAN Lab
FAKE_COLOR = "#762a83"  # purple: fake
ARROW_COLOR = "#111111"


@dataclass
class FrameRenderer:
    """Draws a :class:`Frame` as PNG bytes: the plane on the left, the history on the right.

    The plane: D's output as a heat map (purple where D says fake, green where it says real),
    the dashed level where D is undecided, real points (green), fakes (purple), mode centres
    (x), and an arrow along ``-grad_x L_G`` on the first fakes (see :func:`drawn_arrows`: its
    length grows with the gradient's size, by the same rule in every frame and every game, so
    arrows can be compared, from invisible for a vanishing gradient to ``arrow_max`` for a large
    one; a gradient of size ``arrow_half`` is drawn at half that length). The panel: losses,
    D(x) and D(G(z)), modes captured and % high quality against the number of updates (D steps
    + G steps).

    Speed: the figure is built once. Its static parts (frames, ticks, labels) are drawn into a
    background that is kept until an axis range changes (the ranges move in round steps); a
    frame restores it and draws only what moves (matplotlib's blitting). The bytes depend only
    on the frame and these settings.
    """

    width: int = 900
    height: int = 420
    dpi: int = 100
    side_panel: bool = True
    arrow_max: float = 0.25  # plane units (the plane is 2.2 wide)
    arrow_half: float = 0.1  # the gradient size drawn at half of arrow_max
    compress_level: int = 1  # zlib: 1 encodes several times faster than 6, files a bit larger
    _parts: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("width", "height", "dpi"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 16:
                raise ValueError(f"{name} must be an integer >= 16, got {value!r}")
        for name in ("arrow_max", "arrow_half"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")

    def _build(self, limit: float) -> dict[str, Any]:
        import numpy as np
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(self.width / self.dpi, self.height / self.dpi), dpi=self.dpi)
        FigureCanvasAgg(fig)
        if self.side_panel:
            grid = fig.add_gridspec(4, 2, width_ratios=(1.0, 1.0), left=0.02, right=0.95,
                                    bottom=0.17, top=0.9, wspace=0.08, hspace=0.12)
            ax = fig.add_subplot(grid[:, 0])
            panels = [fig.add_subplot(grid[i, 1]) for i in range(4)]
        else:
            ax = fig.add_axes((0.02, 0.15, 0.96, 0.72))
            panels = []
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        moving: dict[str, Any] = {
            "image": ax.imshow(np.zeros((2, 2)), extent=(-limit, limit, -limit, limit),
                               origin="lower", cmap="PRGn", interpolation="bilinear",
                               alpha=0.65),
            "real": ax.scatter([], [], s=3, c=REAL_COLOR, linewidths=0),
            "fake": ax.scatter([], [], s=3, c=FAKE_COLOR, linewidths=0),
            "centers": ax.scatter([], [], s=16, c="k", marker="x", linewidths=0.8),
            "title": ax.set_title("", fontsize=9),
        }
        lines = {}
        specs = (("losses: loss D (red), loss G (blue)",
                  (("loss_D", "tab:red"), ("loss_G", "tab:blue"))),
                 ("D(x) (green), D(G(z)) (purple)", (("D_x", REAL_COLOR), ("D_G_z", FAKE_COLOR))),
                 ("modes captured", (("modes", "k"),)),
                 ("% high quality", (("high_quality", "k"),)))
        for i, (p, (label, keys)) in enumerate(zip(panels, specs)):
            p.tick_params(labelsize=7, length=2, pad=1)
            p.yaxis.tick_right()
            p.locator_params(axis="y", nbins=3)
            p.locator_params(axis="x", nbins=5)
            if i < 3:
                p.tick_params(labelbottom=False)
            p.text(0.01, 0.95, label, transform=p.transAxes, fontsize=7.5, va="top")
            for key, color in keys:
                (lines[key],) = p.plot([], [], color=color, lw=1.0)
        if panels:
            panels[-1].set_xlabel("updates (D steps + G steps)", fontsize=7.5, labelpad=1)
            panels[2].set_ylim(-0.3, 1.5)
        note = fig.text(0.02, 0.01, "", fontsize=7, va="bottom", ha="left", wrap=True)
        for artist in (*moving.values(), *lines.values()):
            artist.set_animated(True)  # drawn per frame, never into the background
        return dict(fig=fig, ax=ax, panels=panels, lines=lines, moving=moving, note=note,
                    no_modes=panels[2].text(0.5, 0.4, "", transform=panels[2].transAxes,
                                            fontsize=7.5, ha="center") if panels else None,
                    contour=None, quiver=None, background=None, key=None, limit=limit)

    def render(self, frame: Frame) -> bytes:
        """PNG bytes of ``frame``."""
        import numpy as np
        from matplotlib.colors import Normalize
        from PIL import Image

        if not isinstance(frame, Frame):
            raise TypeError(f"expected a ganlab.dynamics.Frame, got {type(frame).__name__}")
        if not self._parts or self._parts["limit"] != frame.limit:
            self._parts = self._build(frame.limit)
        p = self._parts
        ax, m = p["ax"], p["moving"]
        fig = p["fig"]

        # The background: redrawn only when a range or a label changes.
        key = self._static(frame)
        if key != p["key"]:
            fig.canvas.draw()  # animated artists are skipped
            p["background"] = fig.canvas.copy_from_bbox(fig.bbox)
            p["key"] = key
        fig.canvas.restore_region(p["background"])
        renderer = fig.canvas.get_renderer()

        surface = frame.surface.numpy()
        vmin, vmax, reverse = _color_range(frame.loss, frame.level, surface)
        m["image"].set_data(surface)
        m["image"].set_norm(Normalize(vmin, vmax))
        m["image"].set_cmap("PRGn_r" if reverse else "PRGn")
        if p["contour"] is not None:
            p["contour"].remove()
            p["contour"] = None
        if surface.min() < frame.level < surface.max():
            axis = frame.axis.numpy()
            p["contour"] = ax.contour(axis, axis, surface, levels=[frame.level], colors="k",
                                      linewidths=1.0, linestyles="--")
            p["contour"].set_animated(True)
        m["real"].set_offsets(frame.real.numpy())
        m["fake"].set_offsets(frame.fake.numpy())
        m["centers"].set_offsets(frame.centers.numpy() if frame.centers is not None
                                 else np.zeros((0, 2)))
        at = frame.arrows_at.numpy()
        arrows = drawn_arrows(frame.arrows, self.arrow_max, self.arrow_half).numpy()
        if p["quiver"] is not None and p["quiver"].N != len(at):
            p["quiver"].remove()
            p["quiver"] = None
        if p["quiver"] is None and len(at):
            p["quiver"] = ax.quiver(at[:, 0], at[:, 1], arrows[:, 0], arrows[:, 1],
                                    angles="xy", scale_units="xy", scale=1.0, color=ARROW_COLOR,
                                    width=0.004, headwidth=4, headlength=5, animated=True)
        elif p["quiver"] is not None:
            p["quiver"].set_offsets(at)
            p["quiver"].set_UVC(arrows[:, 0], arrows[:, 1])
        last = frame.last
        m["title"].set_text(f"{frame.data_name}, {_loss_label(frame.loss)}\n{last.g_steps} G "
                            f"steps, {last.d_steps} D steps")

        plane = [m["image"], p["contour"], m["real"], m["fake"], m["centers"], p["quiver"]]
        for artist in plane:
            if artist is not None:
                artist.draw(renderer)
        for spine in ax.spines.values():  # the heat map covers half of the frame's line
            spine.draw(renderer)
        m["title"].draw(renderer)
        if p["panels"]:
            self._draw_history(frame, renderer)

        canvas = fig.canvas
        rgba = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw",
                                "RGBA", 0, 1)
        buffer = io.BytesIO()
        rgba.convert("RGB").save(buffer, format="PNG", compress_level=self.compress_level)
        return buffer.getvalue()

    def _static(self, frame: Frame) -> tuple[Any, ...]:
        """Set the axis ranges and labels of ``frame``; returns them, to know when the
        background must be redrawn."""
        p = self._parts
        p["note"].set_text(
            f"heat map: {_surface_label(frame.loss)}; dashed: {frame.level_label}; green dots: "
            f"data; purple: G(z); arrows: -grad_x L_G, drawn at half length for |grad| = "
            f"{self.arrow_half:g}")
        key: list[Any] = [p["note"].get_text()]
        if p["panels"]:
            history = _thinned(frame.history)
            right = _round_up(history[-1].updates)
            ranges = [(0.0, right)]
            for keys in (("loss_D", "loss_G"), ("D_x", "D_G_z")):
                values = [v for r in history for k in keys if math.isfinite(v := getattr(r, k))]
                ranges.append(_snapped_range(values))
            if frame.loss.name in BCE_LOSSES:
                ranges[2] = (-0.05, 1.05)  # probabilities
            num_modes = frame.last.num_modes
            ranges.append((-0.3, (num_modes or 1) + 0.5))
            ranges.append((-3.0, 103.0))
            for panel, (low, high) in zip(p["panels"], ranges[1:]):
                panel.set_xlim(*ranges[0])
                panel.set_ylim(low, high)
            p["no_modes"].set_text("" if num_modes else "no mode centres known for these points")
            key += [tuple(ranges), p["no_modes"].get_text()]
        return tuple(key)

    def _draw_history(self, frame: Frame, renderer: Any) -> None:
        p = self._parts
        history = _thinned(frame.history)
        x = [r.updates for r in history]
        for key, line in p["lines"].items():
            values = [getattr(r, key) for r in history]
            if key == "high_quality":
                values = [None if v is None else 100 * v for v in values]
            line.set_data(x, [math.nan if v is None else v for v in values])
            line.set_marker("." if len(x) == 1 else "")  # one record: a dot, not an empty line
            line.draw(renderer)


def _thinned(history: Sequence[Record], most: int = 2000) -> Sequence[Record]:
    """At most about ``most`` records, evenly spaced, the first and the last always kept: a
    long run's history costs no more to draw than a short one's (the panel is narrower than
    2,000 pixels anyway)."""
    if len(history) <= most:
        return history
    every = math.ceil(len(history) / most)
    kept = list(history[::every])
    if kept[-1] is not history[-1]:
        kept.append(history[-1])
    return kept


def _round_up(n: int) -> float:
    """The first of 10, 20, 50, 100, 200, 500, ... that is >= n: the history's x range."""
    bound = 10.0
    while bound < n:
        for factor in (2.0, 2.5, 2.0):  # 10 -> 20 -> 50 -> 100
            bound *= factor
            if bound >= n:
                break
    return bound


def _snapped_range(values: Sequence[float]) -> tuple[float, float]:
    """(low, high) around ``values``, rounded out to multiples of half the power of ten above
    their spread, so the range changes only now and then while a run goes on."""
    if not values:
        return (0.0, 1.0)
    low, high = min(values), max(values)
    step = 10 ** math.ceil(math.log10(max(high - low, 1e-3))) / 2
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    return (low, high) if high > low else (low, low + step)


def drawn_arrows(arrows: torch.Tensor, arrow_max: float = 0.25, arrow_half: float = 0.1
                 ) -> torch.Tensor:
    """The arrows as drawn: the direction of each row of ``arrows`` (A, 2), with length
    ``arrow_max * |g| / (|g| + arrow_half)``.

    One rule for every frame, so lengths compare across frames and games: it grows like
    ``|g|`` for small gradients (a vanishing gradient stays a vanishing arrow) and levels off at
    ``arrow_max`` for large ones (the non-saturating loss's gradients on rejected fakes can be
    a hundred times those of least squares, which a linear scale could not show on one plane).
    """
    norm = arrows.norm(dim=1, keepdim=True)  # (A, 1)
    return arrows * (arrow_max / (norm + arrow_half))


def _loss_label(loss: LossConfig) -> str:
    label = LOSS_LABELS[loss.name]
    if loss.name == "least_squares":
        label += f" (a={loss.a:g}, b={loss.b:g}, c={loss.c:g})"
    return label


def _surface_label(loss: LossConfig) -> str:
    if loss.name in BCE_LOSSES:
        return "sigmoid(D), 0 purple (fake) to 1 green (real)"
    if loss.name == "least_squares":
        return f"D, a = {loss.a:g} purple (fake) to b = {loss.b:g} green (real)"
    return "critic D, low purple (fake) to high green (real)"


def _color_range(loss: LossConfig, level: float, surface: Any) -> tuple[float, float, bool]:
    """(vmin, vmax, reversed colours) for the heat map: fixed for BCE and least squares (the
    targets a and b, padded by half their distance), symmetric about the level for WGAN-GP."""
    if loss.name in BCE_LOSSES:
        return 0.0, 1.0, False
    if loss.name == "least_squares":
        low, high = sorted((loss.a, loss.b))
        pad = (high - low) / 2
        return low - pad, high + pad, loss.a > loss.b
    half = max(float(abs(surface - level).max()), 1e-6)
    return level - half, level + half, False


# ------------------------------------------------------------------------------ strips, timing
def strip_png(pngs: Sequence[bytes], columns: int | None = None, padding: int = 4) -> bytes:
    """PNG pictures side by side (``columns`` per row, all by default) as one PNG: the static
    strip of frames that a notebook keeps for readers who do not run it."""
    from PIL import Image

    if not pngs:
        raise ValueError("strip_png needs at least one picture")
    images = [Image.open(io.BytesIO(b)).convert("RGB") for b in pngs]
    columns = columns or len(images)
    rows = math.ceil(len(images) / columns)
    w = max(i.width for i in images)
    h = max(i.height for i in images)
    out = Image.new("RGB", (columns * w + (columns - 1) * padding,
                            rows * h + (rows - 1) * padding), "white")
    for k, image in enumerate(images):
        r, c = divmod(k, columns)
        out.paste(image, (c * (w + padding), r * (h + padding)))
    buffer = io.BytesIO()
    out.save(buffer, format="PNG")
    return buffer.getvalue()


def frame_time(repeats: int = 21, n_points: int = 1000, grid: int = 64, warmup_steps: int = 50,
               profile: str = "default", threads: int | None = None) -> dict[str, float]:
    """Median milliseconds to measure and draw one frame of a ``ring8`` game.

    The game uses ``profile``'s networks, has taken ``warmup_steps`` rounds (so the picture is
    not a blank start), shows ``n_points`` fakes and as many real points, and samples D on a
    ``grid`` x ``grid`` lattice. Each repeat plays one more round (not timed), then times
    :meth:`Game2D.frame` and :meth:`FrameRenderer.render` separately, as Play does; the first
    frame (which builds the figure) is left out.
    ``threads`` sets torch's thread count during the measurement (None: leave it). Run it on an
    idle machine: ``python scripts/dynamics_frame_time.py``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        game = Game2D("ring8", n_points=n_points, grid=grid, profile=profile)
        game.step(warmup_steps)
        renderer = FrameRenderer()
        renderer.render(game.frame())  # builds the figure
        measure, draw = [], []
        for _ in range(repeats):
            game.step()
            start = time.perf_counter()
            frame = game.frame()
            middle = time.perf_counter()
            renderer.render(frame)
            end = time.perf_counter()
            measure.append((middle - start) * 1000)
            draw.append((end - middle) * 1000)
        used_threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
    total = [a + b for a, b in zip(measure, draw)]
    return {"median_ms": statistics.median(total), "measure_ms": statistics.median(measure),
            "draw_ms": statistics.median(draw), "max_ms": max(total), "repeats": repeats,
            "n_points": n_points, "grid": grid, "torch_threads": used_threads}
