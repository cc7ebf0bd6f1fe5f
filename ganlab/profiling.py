"""Where a training step's time goes: ``torch.profiler`` events grouped into a few categories.

Why it exists: a speed-up is worth building only where the time is. ``ganlab bench`` says how
fast a step is; this module says what it is made of, per model and precision, so that a reader
can tell a step bound by its convolutions (nothing but better kernels helps) from one bound by
Python and framework overhead (compiling, fusing, larger batches help).

Every operator's *self* time (its time minus that of the operators it calls) lands in exactly
one category, so the categories add up to the operators' total; whatever the wall clock shows
beyond that is time outside any operator: Python, the trainer's loop, the dispatcher between
operators. :func:`profile_trainer` profiles ``Trainer.fit`` itself, so the loop's bookkeeping is
in the picture too. ``scripts/profile_step.py`` writes the tables to ``docs/bench/profile.md``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

# (category, description); the order is the table's. The last one is computed, not matched.
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("conv fwd", "convolutions and transposed convolutions, forward"),
    ("conv bwd", "their backward: gradients of inputs and weights"),
    ("matmul", "matrix products (linear layers), forward and backward"),
    ("batch norm", "batch normalisation, forward and backward"),
    ("elementwise", "activations, PixelNorm, losses, reductions, pooling: forward and backward"),
    ("optimizer", "Adam's update and zero_grad (every operator inside Optimizer.step)"),
    ("copies", "layout and dtype conversions: copy_, clone, contiguous, casts, cat"),
    ("random & data", "randn for z, sampling and indexing the real batch"),
    ("autograd engine", "the backward pass's own bookkeeping (graph nodes, accumulating grads)"),
    ("compiled kernels", "fused kernels that torch.compile generated (elementwise + reductions)"),
    ("other ops", "every other operator"),
    ("python & overhead", "wall time outside any operator: Python, the loop, dispatch"),
)
CATEGORY_NAMES = tuple(name for name, _ in CATEGORIES)

_CONV = re.compile(r"conv|mkldnn_convolution")
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("conv bwd", re.compile(r"^aten::(convolution_backward|mkldnn_convolution_backward"
                            r"|slow_conv.*backward|_slow_conv.*backward)")),
    ("conv fwd", re.compile(r"^aten::(convolution|_convolution|conv\w*|mkldnn_convolution\w*"
                            r"|_slow_conv\w*|slow_conv\w*|thnn_conv\w*)$")),
    ("matmul", re.compile(r"^aten::(mm|addmm|bmm|matmul|linear|baddbmm|_addmm_activation"
                          r"|addmv|mv|dot)$|^mkldnn::")),
    ("batch norm", re.compile(r"batch_norm")),
    ("copies", re.compile(r"^aten::(copy_|clone|contiguous|_to_copy|to|_copy_from\w*|cat"
                          r"|_to_dense|to_dense|to_mkldnn|_reshape_copy|reorder\w*"
                          r"|_foreach_copy_?|stack)$")),
    ("random & data", re.compile(r"^aten::(randn|normal_|rand|uniform_|random_|randint"
                                 r"|randperm|bernoulli_?|index|index_select|take|gather"
                                 r"|multinomial)$")),
    ("autograd engine", re.compile(r"^autograd::|AccumulateGrad|^torch::autograd::")),
    ("compiled kernels", re.compile(r"^(cpp_fused|graph_\d+_cpp_fused|## Call CompiledFxGraph)")),
)
_OPTIMIZER = re.compile(r"^Optimizer\.(step|zero_grad)#")


def categorise(name: str, in_optimizer: bool = False) -> str:
    """The category of one profiled operator ``name`` (``in_optimizer``: it ran inside an
    ``Optimizer.step`` or ``zero_grad``)."""
    if in_optimizer:
        return "optimizer"
    for category, pattern in _RULES:
        if pattern.search(name):
            return category
    if name.startswith("aten::"):
        return "elementwise" if not _CONV.search(name) else "conv fwd"
    return "other ops"


@dataclass
class Breakdown:
    """Milliseconds per step in each category, and the wall time they add up to."""

    label: str
    steps: int
    wall_ms: float  # per step, measured under the profiler
    unprofiled_ms: float  # per step, the same steps without the profiler
    ms: dict[str, float] = field(default_factory=dict)
    top_ops: dict[str, list[tuple[str, float]]] = field(default_factory=dict)

    def share(self, category: str) -> float:
        return self.ms.get(category, 0.0) / self.wall_ms if self.wall_ms else 0.0


def _is_annotation(event: Any) -> bool:
    """A ``record_function`` region (``Optimizer.step#Adam.step``, ``ProfilerStep#3``, a compiled
    region's markers), not an operator: its own time is Python's."""
    name = event.name
    if name.startswith("## Call CompiledFxGraph"):
        return False  # inductor's generated kernels run inside it, unprofiled: their time
    return bool(getattr(event, "is_user_annotation", False)) or name.startswith(
        ("Optimizer.", "ProfilerStep", "## ", "Torch-Compiled Region", "TorchDynamo"))


def breakdown(events: Iterable[Any], wall_ms: float, steps: int, label: str = "",
              unprofiled_ms: float = 0.0, top: int = 3) -> Breakdown:
    """Group profiler ``events`` (``prof.events()``) recorded over ``steps`` steps that took
    ``wall_ms`` in all. User annotations (``record_function`` regions such as
    ``Optimizer.step#Adam.step``) only mark where an operator ran; their own time is Python's.
    """
    ms = dict.fromkeys(CATEGORY_NAMES, 0.0)
    ops: dict[str, dict[str, float]] = {name: {} for name in CATEGORY_NAMES}
    for event in events:
        if getattr(event, "device_type", None) not in (None, torch.autograd.DeviceType.CPU):
            continue
        if _is_annotation(event):
            continue
        parent, in_opt = event.cpu_parent, False
        while parent is not None:
            if _OPTIMIZER.match(parent.name):
                in_opt = True
                break
            parent = parent.cpu_parent
        category = categorise(event.name, in_opt)
        self_ms = event.self_cpu_time_total / 1000.0
        ms[category] += self_ms
        ops[category][event.name] = ops[category].get(event.name, 0.0) + self_ms
    op_total = sum(ms.values())
    ms["python & overhead"] = max(0.0, wall_ms - op_total)
    per_step = {k: v / steps for k, v in ms.items()}
    tops = {k: sorted(((n, t / steps) for n, t in v.items()), key=lambda p: -p[1])[:top]
            for k, v in ops.items() if v}
    return Breakdown(label, steps, wall_ms / steps, unprofiled_ms, per_step, tops)


def profile_calls(run: Callable[[int], None], steps: int, label: str = "",
                  warmup: int = 2) -> Breakdown:
    """Profile ``run(steps)`` (after ``run(warmup)``) and time the same number of steps without
    the profiler, so the table can say how much the profiler itself added."""
    run(warmup)
    start = time.perf_counter()
    run(steps)
    unprofiled = (time.perf_counter() - start) * 1000.0 / steps
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        run(steps)
        wall = (time.perf_counter() - start) * 1000.0
    return breakdown(prof.events(), wall, steps, label, unprofiled)


def profile_trainer(trainer: Any, steps: int, label: str = "", warmup: int = 2) -> Breakdown:
    """:func:`profile_calls` of ``trainer.fit`` (the loop a user runs, bookkeeping included)."""
    return profile_calls(lambda n: trainer.fit(trainer.step + n), steps, label, warmup)


def format_markdown(results: list[Breakdown]) -> str:
    """One column per profiled run, one row per category: ms per step and share of the wall."""
    head = "| category | " + " | ".join(r.label for r in results) + " |"
    lines = [head, "| --- |" + " ---: |" * len(results)]
    for name in CATEGORY_NAMES:
        if all(r.ms.get(name, 0.0) == 0.0 for r in results):
            continue
        cells = [f"{r.ms.get(name, 0.0):,.1f} ms ({100 * r.share(name):.0f}%)" for r in results]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| **step, profiled** | " + " | ".join(
        f"**{r.wall_ms:,.1f} ms**" for r in results) + " |")
    lines.append("| step, not profiled | " + " | ".join(
        f"{r.unprofiled_ms:,.1f} ms" for r in results) + " |")
    return "\n".join(lines)


def format_top_ops(results: list[Breakdown], categories: Iterable[str] = CATEGORY_NAMES) -> str:
    """The heaviest operators of each category, per profiled run (ms per step)."""
    lines = []
    for r in results:
        parts = []
        for name in categories:
            if name in r.top_ops:
                ops = ", ".join(f"`{op}` {t:,.1f}" for op, t in r.top_ops[name])
                parts.append(f"{name}: {ops}")
        lines.append(f"- **{r.label}**: " + "; ".join(parts))
    return "\n".join(lines)


# ---------------------------------------------------------------- the bench's cases, profiled
def profile_case(case: Any, precision: str = "fp32", compile: bool = False,
                 reference: bool = False, seconds: float = 5.0, max_steps: int = 50,
                 device: str = "cpu") -> Breakdown:
    """Profile one of :func:`ganlab.bench.standard_cases` as ``ganlab bench`` trains it:
    ganlab's Trainer in ``precision`` (``fp32`` or ``bf16``), compiled or not, or with
    ``reference`` seed 001's loop (fp32, no DataLoader workers: their time is another
    process's). Enough steps to fill about ``seconds``, at least 2."""
    from ganlab import bench
    from ganlab.data import TensorData
    from ganlab.models import build
    from ganlab.training import Trainer, resolve_device

    dev = resolve_device(device)
    amp = "off" if precision == "fp32" else precision
    config = case.config.replace(train__amp=amp, train__compile="on" if compile else "off")
    images = torch.rand(case.data_size, *case.data_shape,
                        generator=torch.Generator().manual_seed(0)) * 2 - 1
    kwargs: dict[str, Any] = {}
    if config.arch.family == "progan":
        kwargs = {"stage": config.arch.num_stages - 1, "alpha": 1.0}
    if reference:
        torch.manual_seed(0)
        batch = config.train.batch_size if not kwargs else config.arch.batch_size_at(
            config.arch.num_stages - 1)
        ref = bench.ReferenceLoop(*build(config.arch), images, batch, dev, kwargs, num_workers=0)

        def run(n: int) -> None:
            for _ in range(n):
                ref.step()

        label = "seed-001 loop, fp32"
    else:
        trainer = Trainer(config, device=dev, data=TensorData(case.name, images), progress=False)
        if kwargs:
            from ganlab.models.progan import total_images

            trainer.images_seen = total_images(config.arch)

        def run(n: int) -> None:
            trainer.fit(trainer.step + n)

        label = f"ganlab, {precision}" + (", compiled" if compile else "")
    run(3)  # warm-up (and compilation)
    start = time.perf_counter()
    run(1)
    per_step = time.perf_counter() - start
    steps = max(2, min(max_steps, round(seconds / max(per_step, 1e-6))))
    return profile_calls(run, steps, label, warmup=0)


def reading(result: Breakdown) -> str:
    """One generated sentence: where most of this step's time goes."""
    ranked = sorted(((ms, name) for name, ms in result.ms.items() if ms > 0), reverse=True)
    top = ", ".join(f"{name} {100 * ms / result.wall_ms:.0f}%" for ms, name in ranked[:3])
    work = sum(result.ms.get(k, 0.0) for k in ("conv fwd", "conv bwd", "matmul"))
    return (f"**{result.label}**: {top}; matrix products (convolutions and matmuls) are "
            f"{100 * work / result.wall_ms:.0f}% of the step.")
