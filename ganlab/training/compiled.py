"""A compiled training step: ``torch.compile`` (inductor) of G's and D's passes, where it pays.

Why it exists: between its matrix products a GAN's step runs many small operators (activations,
PixelNorm, batch norm's normalisation, equalized-LR weight scaling), each a separate pass over
memory with Python in between. Inductor fuses them into a few generated C++ (CPU) or Triton (GPU)
kernels and leaves the convolutions and matrix products to oneDNN / cuDNN. Compiling costs
seconds to minutes before the first step, which only a long enough run repays, and on some CPUs
the generated kernels are slower than PyTorch's own (``ganlab bench --compile on`` measures
both on a machine); hence ``TrainConfig.compile``:

- ``off``: eager PyTorch, as every notebook's run is recorded;
- ``on``: compile (an error saying why when inductor cannot run here);
- ``auto`` (the default): compile only where :data:`BREAK_EVEN_STEPS` says compiling was measured
  to repay itself within the run's length, else eager; eager too when inductor cannot run here,
  with a one-line note.

What is compiled: the forward pass of G and of D **while they train** (``module.training``), and
with it, through AOTAutograd, their backward pass. Sampling (eval mode) stays eager, and so does
ProGAN's fade-in, whose alpha changes every step: a compiled graph is specialised to alpha, so
every fade step would compile anew. Each ProGAN stage compiles its own graphs. The optimiser,
the losses and the loop stay as they are. The modules themselves are untouched (their
``forward`` is routed, not replaced), so checkpoints are the same files with the same keys.

Numerics: fused kernels round in a different order than PyTorch's, so a compiled run's weights
differ from an eager run's in their last bits, and two long runs drift apart the way runs on two
CPUs do. A compiled run resumed with compilation gives the weights of the uninterrupted compiled
run. ``auto`` decides from the run's total length (and, for ProGAN, each phase's length), so a
run interrupted and resumed to the same ``--steps`` decides the same way both times; a run
extended with a larger ``--steps`` may cross the break-even, so pass ``on`` or ``off`` when two
runs of different lengths must compute alike.

Compiled graphs are cached on disk (inductor's FX graph and AOTAutograd caches) in
``$TORCHINDUCTOR_CACHE_DIR``, by default ``<ganlab cache>/inductor`` (:func:`cache_dir`), so a
resumed run or a second run of the same model loads its kernels instead of compiling them again.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganlab import hardware
from ganlab.files import cache_dir as ganlab_cache_dir

# Steps after which compiling G's and D's passes has repaid its compile time (cold cache), by
# machine class, model family and precision: compile seconds / seconds saved per step, from
# `ganlab bench --compile on` (its "break-even" column) at the bench's standard sizes. None: the
# compiled step was not faster there, so no run repays it. A machine class or precision missing
# from the table was not measured, and `auto` stays eager on it.
#
# cpu-avx2, fp32: AMD EPYC (Zen 3, AVX2, 2 threads), torch 2.14.1, measured while the machine
# was shared with other jobs (one thread, CPU time, rounds alternating): the compiled step was
# slower than eager for every family (DCGAN 64 px, ProGAN 32 px, both MLPs). Profiled later on
# the same kind of machine, idle (docs/bench/profile.md, 2026-12-07), ProGAN's and the MLP's
# compiled steps were again slower, but DCGAN's was faster (2,323 ms against 2,601 ms, a few
# steps each). `ganlab bench --compile on` on an idle machine (docs/bench/cpu-avx2-fp32.json)
# then measured DCGAN's compiled step at 1.06x eager, repaid after 235 steps, and ProGAN's at
# 0.70x eager. DCGAN still has no entry: the notebooks train smaller DCGANs (32 px, width 32,
# batch 64) whose compiled step nobody has measured, and a faster step at 64 px says nothing
# about one at 32 px (ProGAN's small convolutions lose). Profiled, the
# generated elementwise kernels took longer than PyTorch's own: on AVX2 they store the masks
# that LeakyReLU's backward needs byte by byte, where eager saves no mask.
BREAK_EVEN_STEPS: dict[tuple[str, str, str], int | None] = {
    ("cpu-avx2", "progan", "fp32"): None,
    ("cpu-avx2", "mlp", "fp32"): None,
}

# torch.compile's limit of graphs per function, raised for ProGAN: every stage, training with
# and without gradients for D (its G step), is a graph of its own.
RECOMPILE_LIMIT = 64


class CompileUnavailable(RuntimeError):
    """``compile="on"`` was asked for where ``torch.compile`` cannot run."""


def machine_class(device: torch.device) -> str:
    """The row of :data:`BREAK_EVEN_STEPS` for ``device``: ``cuda``, ``cpu-amx``,
    ``cpu-avx512``, ``cpu-avx2`` or ``cpu-other``."""
    if device.type != "cpu":
        return device.type
    if "amx_bf16" in hardware.cpu_bf16_units():
        return "cpu-amx"
    capability = str(torch.backends.cpu.get_cpu_capability()).upper()
    if capability.startswith("AVX512"):
        return "cpu-avx512"
    return "cpu-avx2" if capability == "AVX2" else "cpu-other"


def precision_key(amp_dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(amp_dtype, "fp32")


@functools.cache
def unavailable_reason(device_type: str) -> str | None:
    """Why ``torch.compile`` cannot compile for ``device_type`` here, or None when it can."""
    if sys.platform == "win32":
        return "torch.compile's inductor backend needs a C++ toolchain that ganlab does not " \
               "check for on Windows"
    try:
        import torch._dynamo  # noqa: F401
        import torch._inductor  # noqa: F401
    except Exception as err:  # noqa: BLE001 - any import failure means no compiler
        return f"torch.compile is not usable in this PyTorch ({type(err).__name__}: {err})"
    if device_type == "cpu":
        compilers = ("g++", "c++", "clang++")
        if not any(shutil.which(c) for c in compilers):
            return ("inductor compiles C++ for the CPU and found no C++ compiler (g++, c++ or "
                    "clang++) on PATH; install one (e.g. apt install g++)")
    elif device_type == "cuda":
        try:
            import triton  # noqa: F401
        except ImportError:
            return "inductor compiles GPU kernels with Triton, which is not installed"
    else:
        return f"ganlab compiles only on CPUs and CUDA GPUs, not on {device_type}"
    return None


def cache_dir() -> str:
    """Where inductor keeps compiled graphs: ``$TORCHINDUCTOR_CACHE_DIR``, else
    ``<ganlab cache>/inductor`` (set for this process by :func:`use_cache_dir`)."""
    return os.environ.get("TORCHINDUCTOR_CACHE_DIR") or str(ganlab_cache_dir() / "inductor")


def use_cache_dir() -> str:
    """Point inductor at :func:`cache_dir`, which survives reboots (its own default is in
    /tmp), unless ``$TORCHINDUCTOR_CACHE_DIR`` already says where."""
    path = cache_dir()
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", path)
    return path


@dataclass(frozen=True)
class Decision:
    """Whether a run compiles, which ProGAN stages do (None: every stage), and why."""

    compile: bool
    reason: str
    stages: frozenset[int] | None = None
    fallback: bool = False  # auto would compile, but torch.compile cannot run here


def break_even(device: torch.device, family: str, amp_dtype: torch.dtype | None) -> int | None:
    """:data:`BREAK_EVEN_STEPS` for this machine, model family and precision (None: never)."""
    return BREAK_EVEN_STEPS.get((machine_class(device), family, precision_key(amp_dtype)))


def decide(mode: str, config: Any, device: torch.device, amp_dtype: torch.dtype | None,
           total_steps: int) -> Decision:
    """Whether a run of ``total_steps`` steps in all compiles (see the module's docstring).

    ``on`` raises :class:`CompileUnavailable` when inductor cannot run here; ``auto`` then
    stays eager and says why in ``reason``.
    """
    if mode == "off":
        return Decision(False, "compile off")
    family = config.arch.family
    stages = None
    if mode == "auto":
        steps = break_even(device, family, amp_dtype)
        where = f"{family} in {precision_key(amp_dtype)} on {machine_class(device)}"
        if steps is None:
            measured = (machine_class(device), family,
                        precision_key(amp_dtype)) in BREAK_EVEN_STEPS
            return Decision(False, f"eager: compiling {where} was "
                                   f"{'measured not to pay' if measured else 'not measured'}")
        if family == "progan":
            stages = frozenset(s for s, n in progan_stable_steps(config.arch, total_steps).items()
                               if n >= steps)
            if not stages:
                return Decision(False, f"eager: no ProGAN stage trains {steps} steps at alpha "
                                       f"1, the break-even of {where}")
        elif total_steps < steps:
            return Decision(False, f"eager: {total_steps} steps do not repay compiling {where} "
                                   f"(break-even {steps} steps)")
    missing = unavailable_reason(device.type)
    if missing is not None:
        if mode == "on":
            raise CompileUnavailable(f"train.compile='on' but {missing}; use compile 'off' (or "
                                     "'auto', which falls back to eager)")
        return Decision(False, f"eager: {missing}", fallback=True)
    which = "" if stages is None else f" (ProGAN stages {', '.join(map(str, sorted(stages)))})"
    return Decision(True, f"compiling G and D{which}: compile {mode}", stages)


def progan_stable_steps(arch: Any, total_steps: int) -> dict[int, int]:
    """Steps each ProGAN stage trains at alpha 1 in a run of ``total_steps`` steps (after its
    schedule ends, every further step is the last stage's)."""
    from ganlab.models.progan import phase_at, total_images

    counts: dict[int, int] = {}
    seen, end = 0, total_images(arch)
    for step in range(total_steps):
        if seen >= end:
            last = arch.num_stages - 1
            counts[last] = counts.get(last, 0) + total_steps - step
            break
        phase = phase_at(arch, seen)
        if phase.alpha == 1.0:
            counts[phase.stage] = counts.get(phase.stage, 0) + 1
        seen += phase.batch_size
    return counts


class CompiledForward:
    """Routes a module's calls: compiled while it trains (for ProGAN, in the chosen stages at
    alpha 1), its own ``forward`` otherwise. It is the module's ``forward`` attribute, so
    ``module(x)``, DDP and hooks work as before and the state_dict is unchanged. A deep copy or
    a pickle of the module (an EMA copy, say) gets its class's forward back, uncompiled."""

    def __init__(self, module: nn.Module, stages: frozenset[int] | None) -> None:
        self.module = module
        self.stages = stages
        # The class's forward bound to this module (its own ``forward`` is this router): G's and
        # D's graphs live under their own classes' code, each with its own guards.
        self.compiled = torch.compile(type(module).forward.__get__(module), dynamic=False)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.module.training and kwargs.get("alpha", 1.0) == 1.0 and (
                self.stages is None or kwargs.get("stage") in self.stages):
            return self.compiled(*args, **kwargs)
        return type(self.module).forward(self.module, *args, **kwargs)

    def __reduce__(self) -> tuple:
        return _ClassForward, (self.module,)


class _ClassForward:
    """The ``forward`` of a copy of a compiled module: its class's, uncompiled."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return type(self.module).forward(self.module, *args, **kwargs)


def attach(module: nn.Module, stages: frozenset[int] | None = None) -> CompiledForward:
    """Compile ``module``'s training passes (in ProGAN's ``stages``; None: all) from now on."""
    router = module.__dict__.get("forward")
    if isinstance(router, CompiledForward):
        router.stages = stages
        return router
    import torch._dynamo

    use_cache_dir()
    limit = torch._dynamo.config.recompile_limit
    torch._dynamo.config.recompile_limit = max(limit, RECOMPILE_LIMIT)
    router = CompiledForward(module, stages)
    module.forward = router  # type: ignore[method-assign]
    return router


def detach(module: nn.Module) -> None:
    """Undo :func:`attach`: the module's calls run its class's forward again."""
    if isinstance(module.__dict__.get("forward"), (CompiledForward, _ClassForward)):
        del module.forward


def is_compiled(module: nn.Module) -> bool:
    return isinstance(module.__dict__.get("forward"), CompiledForward)


def prepare(trainer: Any, total_steps: int) -> Decision:
    """The Trainer's hook before its loop: decide for a run of ``total_steps`` steps and attach
    the compiled forward passes to G and D. ``auto`` says in one line why it stays eager when
    it would compile but cannot."""
    tc = trainer.config.train
    decision = decide(tc.compile, trainer.config, trainer.device, trainer.amp_dtype, total_steps)
    for module in (trainer.G, trainer.D):
        if decision.compile:
            attach(module, decision.stages)
        else:
            detach(module)
    noted = getattr(trainer, "_compile_note", False)  # one note per Trainer, not per fit()
    if decision.fallback and trainer.dist.is_main and not noted:
        print(f"ganlab: train.compile=auto: {decision.reason}", file=sys.stderr)
        trainer._compile_note = True
    trainer.compile_decision = decision
    return decision
