"""The latent-space explorer: a thin ipywidgets view over :func:`ganlab.latent.render_png`.

Every control of :class:`LatentExplorer` is an ipywidget whose observer recomputes a latent batch
and shows ``render_png`` of it in an ``ipywidgets.Image``, so the explorer can be driven and
tested from Python by setting ``.value``. ipywidgets is imported only when an explorer is built.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganlab.latent import (
    MODES,
    ArithmeticResult,
    _target_resolution,
    path_through,
    principal_directions,
    render_png,
    seeds_to_z,
    vector_arithmetic,
    walk_gif,
    walk_strip_png,
)
from ganlab.pretrained import Pretrained, load_pretrained, pretrained_names

__all__ = ["LatentExplorer"]


def _parse_seeds(text: str) -> list[int]:
    """``"1, 2, 3"`` or ``"1 2 3"`` -> ``[1, 2, 3]``; ValueError with the offending part."""
    seeds = []
    for part in text.replace(",", " ").split():
        if not part.isdigit():
            raise ValueError(f"seeds are integers >= 0 separated by commas; {part!r} is not one")
        seeds.append(int(part))
    return seeds


def _resolve_source(source: Any) -> tuple[nn.Module, Any, str]:
    """(G, config or None, description) for a run dir, pretrained name, LoadedRun, Trainer or G."""
    from ganlab.training import LoadedRun, Trainer, load_run

    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.exists():
            run = load_run(path)
            return run.G, run.config, f"run {path} (step {run.step})"
        if str(source) in pretrained_names():
            p = load_pretrained(str(source))
            return p.G, p.config, f"pretrained {p.name}"
        raise ValueError(f"{source!r} is neither a run directory nor a pretrained generator "
                         f"({', '.join(pretrained_names())})")
    if isinstance(source, Pretrained):
        return source.G, source.config, f"pretrained {source.name}"
    if isinstance(source, LoadedRun):
        return source.G, source.config, f"run at step {source.step}"
    if isinstance(source, Trainer):
        G = source.ema.model if source.ema is not None else source.G
        return G, source.config, f"trainer at step {source.step}"
    if isinstance(source, nn.Module):
        if not hasattr(source, "latent_dim"):
            raise TypeError(f"{type(source).__name__} has no .latent_dim; pass a ganlab "
                            "generator")
        return source, None, type(source).__name__
    raise TypeError(f"cannot explore a {type(source).__name__}: pass a run directory, a "
                    "pretrained name, a LoadedRun, a Trainer or a generator")


@contextlib.contextmanager
def _torch_threads(n: int | None):
    """Run torch's CPU kernels on ``n`` threads inside the block (None: leave it alone)."""
    previous = torch.get_num_threads()
    if n is None or n == previous:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _render_copy(G: nn.Module) -> nn.Module:
    """A frozen eval-mode copy of G for rendering: a snapshot that training cannot disturb.

    Transposed convolutions run faster on the CPU in channels-last layout (about 15% for the
    64x64 DCGAN here); the numbers it computes are the same model's.
    """
    G = copy.deepcopy(G).eval().requires_grad_(False)
    if any(isinstance(m, nn.ConvTranspose2d) for m in G.modules()):
        G = G.to(memory_format=torch.channels_last)
    return G



def close_widgets(*roots) -> None:  # noqa: ANN002 - ipywidgets widgets
    """Close ``roots`` and every widget below them (children, layouts, styles), each once."""
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        w = stack.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        stack.extend(getattr(w, "children", ()))
        stack.extend(x for x in (getattr(w, "layout", None), getattr(w, "style", None))
                     if x is not None)
        w.close()

class LatentExplorer:
    """Interactive latent-space walks over a ganlab generator (thin views over ``render_png``).

    ``source``: a run directory, a pretrained name (:func:`pretrained_names`), a
    ``LoadedRun``, a ``Trainer`` (its EMA generator if it has one) or a generator module. The
    explorer renders a frozen copy, ``explorer.G``: a snapshot of a run still training.

    Tabs: *Samples* (a page of seeds; toggle two or more to walk between), *Walk* (lerp/slerp,
    steps, a frame slider with a Play button, PNG/GIF export), *Directions* (single latent
    coordinates and principal directions, applied to the whole page), *Arithmetic* (A - B + C
    over groups of seeds) and, for ProGAN, *Growth* (stage and alpha). Each control's
    observer sets the matching ``ipywidgets.Image`` to ``render_png`` of the latents shown by
    the methods ``page_z()``, ``walk_z()``, ``frame_z()``, ``directions_z()``, ``arithmetic()``
    (with ``growth_kwargs()`` for ProGAN). Pictures on a hidden tab are rendered when it is
    opened (``explorer.tabs.selected_index``), so a slider move costs one batched forward pass.

    ``render_threads``: torch threads while rendering (None: torch's own setting). One thread
    is the default because a page of 16 small images is too little work to share: on the
    2-core CPU this was written on, a 4x4 page of 64x64 DCGAN samples re-rendered in a median
    24 ms on one thread and 22 ms on two when the machine was quiet, but 53 ms and 141 ms while
    other programs kept both cores busy.
    """

    def __init__(self, source: Any, first_seed: int = 0, nrow: int = 4,
                 chosen: Sequence[int] = (0, 1), steps: int = 8, mode: str = "slerp",
                 n_dims: int = 3, n_directions: int = 3,
                 direction_space: str = "feature", scale: int | None = None,
                 out_dir: str | os.PathLike = ".", render_threads: int | None = 1) -> None:
        G, self.config, self.description = _resolve_source(source)
        self.G = _render_copy(G)
        self.latent_dim = int(self.G.latent_dim)
        self.render_threads = render_threads
        self.nrow = nrow
        self.out_dir = Path(out_dir)
        res = _target_resolution(self.G) or 64
        self.scale = scale if scale is not None else max(1, 64 // res)
        self.frame_scale = 3 * self.scale  # the Walk tab's current frame, shown large
        gconf = getattr(self.G, "config", None)
        self.is_progan = getattr(gconf, "family", None) == "progan"
        self.num_stages = gconf.num_stages if self.is_progan else None
        self.directions = principal_directions(self.G, k=n_directions, space=direction_space)
        self.n_dims = n_dims
        self.last_render_ms: dict[str, float] = {}
        self._build(first_seed, list(chosen), steps, mode)

    # ---------------------------------------------------------------- latents (pure views)
    def page_seeds(self) -> list[int]:
        first = self.first_seed.value
        return list(range(first, first + self.nrow * self.nrow))

    def page_z(self) -> torch.Tensor:
        return seeds_to_z(self.page_seeds(), self.latent_dim)  # (nrow^2, D)

    def chosen_seeds(self) -> list[int]:
        return _parse_seeds(self.chosen.value)

    def walk_z(self) -> torch.Tensor:
        """The whole walk through the chosen seeds, ``(F, D)``."""
        seeds = self.chosen_seeds()
        if len(seeds) < 2:
            raise ValueError("choose at least two seeds to walk between")
        keys = seeds_to_z(seeds, self.latent_dim)
        return path_through(keys, self.steps.value, self.mode.value)

    def frame_z(self) -> torch.Tensor:
        return self.walk_z()[self.frame.value][None]  # (1, D)

    def offset(self) -> torch.Tensor:
        """The latent offset the Directions sliders add, ``(D,)``."""
        delta = torch.zeros(self.latent_dim)
        for d, s in zip(range(self.n_dims), self.dim_sliders):
            delta[d] += s.value
        for v, s in zip(self.directions.vectors, self.dir_sliders):
            delta += s.value * v
        return delta

    def directions_z(self) -> torch.Tensor:
        return self.page_z() + self.offset()  # (nrow^2, D)

    def arithmetic(self) -> ArithmeticResult:
        return vector_arithmetic(self.latent_dim, *(_parse_seeds(w.value) for w in self.groups))

    def growth_kwargs(self) -> dict[str, Any]:
        return {"stage": self.stage.value, "alpha": self.alpha.value} if self.is_progan else {}

    # ---------------------------------------------------------------- rendering
    def _render(self, key: str, z: torch.Tensor, nrow: int | None = None,
                scale: int | None = None, **g_kwargs: Any) -> bytes:
        start = time.perf_counter()
        with _torch_threads(self.render_threads):
            png = render_png(self.G, z, nrow=nrow, scale=scale or self.scale, **g_kwargs)
        self.last_render_ms[key] = (time.perf_counter() - start) * 1000
        return png

    def walk_png(self) -> bytes:
        """The current walk as a PNG strip."""
        return walk_strip_png(self.G, self.walk_z(), scale=self.scale)

    def walk_gif(self, duration_ms: int = 80) -> bytes:
        """The current walk as an animated GIF."""
        return walk_gif(self.G, self.walk_z(), scale=max(2, self.scale), duration_ms=duration_ms)

    def save_walk(self, stem: str | os.PathLike = "latent_walk") -> tuple[Path, Path]:
        """Write ``<stem>.png`` (strip) and ``<stem>.gif`` under ``out_dir``; returns the paths."""
        base = self.out_dir / Path(stem)
        base.parent.mkdir(parents=True, exist_ok=True)
        png, gif = base.with_suffix(".png"), base.with_suffix(".gif")
        png.write_bytes(self.walk_png())
        gif.write_bytes(self.walk_gif())
        return png, gif

    # ---------------------------------------------------------------- widgets
    def _build(self, first_seed: int, chosen: list[int], steps: int, mode: str) -> None:
        import ipywidgets as W

        slow = dict(continuous_update=False)  # grids re-render once, when the slider is let go

        def picture() -> W.Image:  # shown at its own size, not stretched to the tab's width
            return W.Image(format="png", layout=W.Layout(align_self="flex-start"))

        self.status = W.HTML()

        # Samples: a page of seeds, toggles to choose the walk's keyframes.
        self.first_seed = W.BoundedIntText(value=first_seed, min=0, max=2**31 - 1,
                                           description="first seed", **slow)
        self.page_image = picture()
        self.toggles = [W.ToggleButton(layout=W.Layout(width="auto")) for _ in
                        range(self.nrow * self.nrow)]
        self.chosen = W.Text(value=", ".join(map(str, chosen)), description="walk seeds",
                             continuous_update=False)
        toggle_grid = W.GridBox(self.toggles, layout=W.Layout(
            grid_template_columns=f"repeat({self.nrow}, 1fr)", width="280px"))
        samples = W.VBox([W.HBox([self.first_seed, self.chosen]),
                          W.HBox([self.page_image, toggle_grid])])

        # Walk: lerp / slerp between the chosen seeds, a frame slider driven by Play.
        self.mode = W.ToggleButtons(options=MODES, value=mode, description="mode")
        self.steps = W.IntSlider(value=steps, min=2, max=64, description="steps", **slow)
        # One image per frame is cheap: the frame follows the slider while it moves.
        self.frame = W.IntSlider(value=0, min=0, max=1, description="frame")
        self.play = W.Play(value=0, min=0, max=1, interval=120, description="play")
        W.link((self.play, "value"), (self.frame, "value"))
        W.link((self.play, "max"), (self.frame, "max"))
        self.frame_image = picture()
        self.strip_image = picture()
        self.export_stem = W.Text(value="latent_walk", description="file stem")
        self.export_button = W.Button(description="export PNG + GIF", icon="download",
                                      layout=W.Layout(width="auto"))
        self.export_button.on_click(lambda _: self._export())
        walk = W.VBox([W.HBox([self.mode, self.steps]), W.HBox([self.play, self.frame]),
                       self.frame_image, self.strip_image,
                       W.HBox([self.export_stem, self.export_button])])

        # Directions: a few latent coordinates and the top principal directions.
        self.dim_sliders = [W.FloatSlider(value=0.0, min=-3.0, max=3.0, step=0.25,
                                          description=f"z[{d}] +", **slow)
                            for d in range(min(self.n_dims, self.latent_dim))]
        pct = self.directions.explained.tolist()
        self.dir_sliders = [W.FloatSlider(value=0.0, min=-4.0, max=4.0, step=0.25,
                                          description=f"PC{i + 1} ({p:.0%})", **slow)
                            for i, p in enumerate(pct)]
        self.directions_image = picture()
        self.reset_button = W.Button(description="reset")
        self.reset_button.on_click(lambda _: self._reset_directions())
        directions = W.HBox([self.directions_image,
                             W.VBox([W.HTML("<b>latent coordinates</b>"), *self.dim_sliders,
                                     W.HTML(f"<b>principal directions</b> ({self.directions.space}"
                                            " space)"), *self.dir_sliders, self.reset_button])])

        # Arithmetic: A - B + C over groups of three seeds.
        self.groups = [W.Text(value=v, description=label, continuous_update=False)
                       for v, label in (("0, 1, 2", "A"), ("3, 4, 5", "B"), ("6, 7, 8", "C"))]
        self.arith_image = picture()
        self.neighbours_image = picture()
        arithmetic = W.VBox([W.HBox(self.groups),
                             W.HTML("mean(A), mean(B), mean(C) and A &minus; B + C"),
                             self.arith_image, W.HTML("A &minus; B + C and its neighbours"),
                             self.neighbours_image])

        tabs = [samples, walk, directions, arithmetic]
        titles = ["Samples", "Walk", "Directions", "Arithmetic"]
        if self.is_progan:
            last = self.num_stages - 1
            self.stage = W.IntSlider(value=last, min=0, max=last, description="stage", **slow)
            self.alpha = W.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05,
                                       description="alpha", **slow)
            self.stage_label = W.HTML()
            self.growth_image = picture()
            tabs.append(W.VBox([W.HBox([self.stage, self.alpha, self.stage_label]),
                                self.growth_image]))
            titles.append("Growth")
        self.tabs = W.Tab(children=tabs, titles=titles)
        header = W.HTML(f"<b>LatentExplorer</b>: {self.description}, z in "
                        f"R<sup>{self.latent_dim}</sup>")
        self.widget = W.VBox([header, self.tabs, self.status])
        # CSS classes name the parts for browser tests and custom styles.
        self.widget.add_class("ganlab-explorer")
        for name in ("page_image", "frame_image", "strip_image", "directions_image",
                     "arith_image", "neighbours_image", "frame", "steps", "play"):
            getattr(self, name).add_class(f"ganlab-{name.replace('_', '-')}")
        for s in self.dim_sliders:
            s.add_class("ganlab-dim-slider")
        for s in self.dir_sliders:
            s.add_class("ganlab-pc-slider")
        if self.is_progan:
            for name in ("stage", "alpha", "growth_image"):
                getattr(self, name).add_class(f"ganlab-{name.replace('_', '-')}")

        # Observers. A control re-renders the pictures that depend on it; pictures on a tab that
        # is not shown are marked stale and rendered when the tab is opened.
        self._titles = titles
        self._updaters = {"Samples": self.update_page, "Walk": self.update_walk,
                          "Directions": self.update_directions,
                          "Arithmetic": self.update_arithmetic, "Growth": self.update_growth}
        self._stale: set[str] = set()
        self.first_seed.observe(lambda _: self.update_page(), names="value")
        self.chosen.observe(lambda _: self._on_chosen(), names="value")
        for i, tb in enumerate(self.toggles):
            tb.observe(lambda ch, i=i: self._on_toggle(i, ch["new"]), names="value")
        for w in (self.mode, self.steps):
            w.observe(lambda _: self.update_walk(), names="value")
        self.frame.observe(lambda _: self.update_frame(), names="value")
        for s in (*self.dim_sliders, *self.dir_sliders):
            s.observe(lambda _: self.update_directions(), names="value")
        for g in self.groups:
            g.observe(lambda _: self.update_arithmetic(), names="value")
        if self.is_progan:
            for w in (self.stage, self.alpha):
                w.observe(lambda _: self.update_growth(), names="value")
        self.tabs.observe(lambda _: self._on_tab(), names="selected_index")

        self._stale = set(titles)
        self._on_tab()  # render the tab that is shown
        self._set_walk_length()

    def _shown(self) -> str:
        index = self.tabs.selected_index
        return self._titles[index] if index is not None else ""

    def _refresh(self, title: str) -> None:
        """Render a tab's pictures now if it is shown, else when it is opened."""
        if self._shown() == title:
            self._updaters[title]()
        else:
            self._stale.add(title)

    def _on_tab(self) -> None:
        title = self._shown()
        if title in self._stale:
            self._updaters[title]()

    def _on_chosen(self) -> None:
        self._sync_toggles()
        self._set_walk_length()
        self._refresh("Walk")

    def close(self) -> None:
        """Close every widget of the explorer (they disappear from the page and the kernel)."""
        close_widgets(self.widget, self.play, *self.toggles)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _error(self, err: Exception) -> None:
        self.status.value = f"<span style='color:#b00'>{err}</span>"

    def update_page(self) -> None:
        """Samples tab (the Directions and Growth tabs show the same page of seeds)."""
        self._stale.discard("Samples")
        seeds = self.page_seeds()
        self._updating_toggles = True
        for tb, s in zip(self.toggles, seeds):
            tb.description = str(s)
        self._updating_toggles = False
        self._sync_toggles()
        self.page_image.value = self._render("page", self.page_z(), self.nrow)
        self._refresh("Directions")
        if self.is_progan:
            self._refresh("Growth")

    def _sync_toggles(self) -> None:
        try:
            chosen = set(self.chosen_seeds())
        except ValueError as err:
            self._error(err)
            return
        self._updating_toggles = True
        try:
            for tb, s in zip(self.toggles, self.page_seeds()):
                tb.value = s in chosen
        finally:
            self._updating_toggles = False

    def _on_toggle(self, i: int, on: bool) -> None:
        if getattr(self, "_updating_toggles", False):
            return
        seed = self.page_seeds()[i]
        try:
            seeds = self.chosen_seeds()
        except ValueError:
            seeds = []
        if on and seed not in seeds:
            seeds.append(seed)
        elif not on:
            seeds = [s for s in seeds if s != seed]
        self.chosen.value = ", ".join(map(str, seeds))

    def _set_walk_length(self) -> None:
        try:
            n = self.walk_z().shape[0]
        except ValueError as err:
            self._error(err)
            return
        self.status.value = ""
        self.play.max = n - 1  # linked: also the frame slider's max

    def update_walk(self) -> None:
        """Walk tab: the strip of the whole walk, then the current frame."""
        self._stale.discard("Walk")
        try:
            path = self.walk_z()
        except ValueError as err:
            self._error(err)
            return
        self.status.value = ""
        n = path.shape[0]
        self.play.max = n - 1  # linked: also the frame slider's max
        self.strip_image.value = self._render("strip", path, nrow=n)
        self.update_frame()

    def update_frame(self) -> None:
        if "Walk" in self._stale:  # the strip is out of date too
            self.update_walk()
            return
        try:
            z = self.frame_z()
        except (ValueError, IndexError) as err:
            self._error(err)
            return
        self.frame_image.value = self._render("frame", z, nrow=1, scale=self.frame_scale)

    def update_directions(self) -> None:
        self._stale.discard("Directions")
        self.directions_image.value = self._render("directions", self.directions_z(), self.nrow)

    def _reset_directions(self) -> None:
        for s in (*self.dim_sliders, *self.dir_sliders):
            s.value = 0.0

    def update_arithmetic(self) -> None:
        self._stale.discard("Arithmetic")
        try:
            r = self.arithmetic()
        except ValueError as err:
            self._error(err)
            return
        self.status.value = ""
        self.arith_image.value = self._render(
            "arithmetic", torch.stack([r.mean_a, r.mean_b, r.mean_c, r.z]), nrow=4)
        nrow = math.ceil(math.sqrt(r.neighbours.shape[0]))
        self.neighbours_image.value = self._render("neighbours", r.neighbours, nrow=nrow)

    def update_growth(self) -> None:
        self._stale.discard("Growth")
        kw = self.growth_kwargs()
        res = 4 * 2 ** kw["stage"]
        fading = kw["stage"] > 0 and kw["alpha"] < 1
        self.stage_label.value = (f"{res}x{res}" + (f", fading in from {res // 2}x{res // 2}"
                                                   if fading else ""))
        self.growth_image.value = self._render("growth", self.page_z(), self.nrow, **kw)

    def _export(self) -> None:
        try:
            png, gif = self.save_walk(self.export_stem.value or "latent_walk")
        except (ValueError, OSError) as err:
            self._error(err)
            return
        self.status.value = f"wrote {png} and {gif}"
