"""What this machine can do, detected rather than assumed: CPU name, vector units, bf16 support.

Why it exists: mixed precision only pays where the hardware multiplies bf16 natively. On a CPU that
means Intel AMX (``amx_bf16``) or AVX512-BF16; elsewhere (AMD Zen 3, older Intel) bf16 matrix
products are emulated and slower than fp32, so ``amp="auto"`` keeps fp32 there. The trainer,
``ganlab bench`` and the notebooks all ask this module, so they agree.
"""

from __future__ import annotations

import functools
import platform
import warnings
from pathlib import Path

import torch

BF16_UNITS = ("amx_bf16", "avx512_bf16")


@functools.lru_cache(maxsize=1)
def cpu_name() -> str:
    """The CPU's model name as ``lscpu`` prints it (``/proc/cpuinfo``), else torch's or Python's."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    caps = _capabilities()
    return str(caps.get("cpu_name") or platform.processor() or platform.machine())


@functools.lru_cache(maxsize=1)
def _capabilities() -> dict[str, object]:
    get = getattr(torch.cpu, "get_capabilities", None)  # torch >= 2.8
    if get is not None:
        try:
            return dict(get())
        except Exception:  # noqa: BLE001 - detection must never break training
            pass
    caps: dict[str, object] = {}
    for key, probe in (("amx_bf16", "_is_amx_tile_supported"),
                       ("avx512_bf16", "_is_avx512_bf16_supported")):
        fn = getattr(torch.cpu, probe, None)
        if fn is not None:
            try:
                caps[key] = bool(fn())
            except Exception:  # noqa: BLE001
                caps[key] = False
    return caps


# The flags of /proc/cpuinfo that decide a GAN step's speed on a CPU: vector width, bf16 units.
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")


@functools.lru_cache(maxsize=1)
def cpu_flags() -> tuple[str, ...]:
    """Which of :data:`SPEED_FLAGS` this CPU has, as ``lscpu`` lists them (empty off Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return tuple(flag for flag in SPEED_FLAGS if flag in have)
    except OSError:
        pass
    return ()


def cpu_bf16_units() -> tuple[str, ...]:
    """The native bf16 matrix units this CPU has: a subset of ``("amx_bf16", "avx512_bf16")``."""
    caps = _capabilities()
    return tuple(unit for unit in BF16_UNITS if caps.get(unit))


def cpu_has_native_bf16() -> bool:
    """True when the CPU multiplies bf16 in hardware (AMX or AVX512-BF16)."""
    return bool(cpu_bf16_units())


def cpu_summary() -> dict[str, object]:
    """Name, vector instruction level torch dispatches to, bf16 units and threads, for reports."""
    return {
        "name": cpu_name(),
        "architecture": platform.machine(),
        "capability": torch.backends.cpu.get_cpu_capability(),
        "bf16_units": list(cpu_bf16_units()),
        "threads": torch.get_num_threads(),
    }


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``TrainConfig.amp`` on ``device``; None means plain fp32.

    - ``off``: fp32 everywhere.
    - ``auto``: on CUDA, bf16 where the GPU supports it, else fp16; on a CPU, bf16 only where it
      has native bf16 units (:func:`cpu_has_native_bf16`), else fp32.
    - ``bf16``: bf16 autocast on any device (on a CPU without bf16 units it runs, slowly).
    - ``fp16``: fp16 autocast with loss scaling on CUDA. On a CPU it falls back to fp32 with a
      warning: fp16's narrow range needs loss scaling and CPUs have no fast fp16 matrix units
      (a run made on a GPU with fp16 can still be resumed on a CPU).
    """
    if mode == "off":
        return None
    if device.type == "cuda":
        if mode == "fp16":
            return torch.float16
        if mode == "bf16" or torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float16
    if device.type == "cpu":
        if mode == "fp16":
            warnings.warn("amp 'fp16' is for CUDA GPUs; on this CPU the run trains in fp32. Use "
                          "amp 'bf16' for mixed precision on a CPU.", RuntimeWarning, stacklevel=3)
            return None
        if mode == "bf16" or cpu_has_native_bf16():
            return torch.bfloat16
        return None
    return None  # other devices (mps, ...): fp32


def precision_name(dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.bfloat16: "bf16 autocast",
            torch.float16: "fp16 autocast"}.get(dtype, str(dtype))
