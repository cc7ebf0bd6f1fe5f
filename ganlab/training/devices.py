"""Where and how a run computes: the device, precision, memory layout and optimiser kernels.

Each choice here was measured (``ganlab bench``; README.md has the numbers) or is forced by the
hardware: bf16 autocast where the CPU or GPU multiplies bf16 in hardware, channels-last
convolutions, Adam's fused kernel on CUDA. Under ``torchrun`` the global batch must split over
the processes (:func:`check_batches`), and BatchNorm over the global batch needs GPUs
(:func:`sync_batchnorm`). :func:`sample_z` draws latents that are the same on every device.
"""

from __future__ import annotations

import torch
from torch import nn

from ganlab import distributed
from ganlab.config import RunConfig
from ganlab.hardware import amp_dtype


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/None picks CUDA when available, else the CPU; anything else is checked."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} was requested but CUDA is not available here; "
                             "use --device cpu (or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} does not exist: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s), cuda:0 and up")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"device {device!r} is not available here; use --device cpu")
    elif dev.type != "cpu":
        raise ValueError(f"device {device!r} is not supported; use auto, cpu, cuda or cuda:N")
    return dev


def sample_z(n: int, latent_dim: int, seed: int | None = None,
             device: torch.device | str = "cpu") -> torch.Tensor:
    """Latent vectors z ~ N(0, I). With a seed, drawn on the CPU so they match on every device."""
    if n <= 0:
        raise ValueError(f"number of samples must be positive, got {n}")
    if seed is None:
        return torch.randn(n, latent_dim, device=device)
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, latent_dim, generator=gen).to(device)


# Where channels-last (NHWC) convolutions are used, by device type and model family. On CUDA they
# let cuDNN use tensor cores. On a CPU, oneDNN's NHWC kernels win for DCGAN's and ProGAN's
# convolutions (measured by `ganlab bench`; numbers in README.md).
CHANNELS_LAST = {"cuda": ("dcgan", "progan"), "cpu": ("dcgan", "progan")}
# Adam's fused kernel (one kernel for all parameters) where it measured faster than foreach.
FUSED_ADAM_DEVICES = ("cuda",)


def autocast_dtype(config: RunConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype a run trains with: :func:`ganlab.hardware.amp_dtype` of
    ``train.amp``, except that ``auto`` keeps models of 2-D points in fp32 on a CPU.

    Their 128-wide layers are too small for 16-bit products to pay: the casts around each
    product cost more than it saves, and ``ganlab bench`` measures bf16 slower than fp32 there
    (the ``vanilla2d`` case). An explicit ``bf16`` is always honoured.
    """
    tc = config.train
    if tc.amp == "auto" and device.type == "cpu" and len(config.arch.image_shape) == 1:
        return None
    return amp_dtype(tc.amp, device)


def use_channels_last(family: str, device: torch.device) -> bool:
    """Whether the trainer runs ``family``'s convolutions in channels-last layout on ``device``."""
    return family in CHANNELS_LAST.get(device.type, ())


def check_batches(config: RunConfig, dist: distributed.Distributed) -> None:
    """Every global batch must split evenly over the ranks, and ProGAN's per-device slices into
    minibatch-stddev groups (computed per device, as in the official code)."""
    if dist.world_size == 1:
        return
    arch = config.arch
    if arch.family != "progan":
        dist.local_batch(config.train.batch_size)
        return
    for stage in range(arch.num_stages):
        local = dist.local_batch(arch.batch_size_at(stage))
        group = min(arch.mbstd_group_size, local)
        if local % group:
            raise ValueError(
                f"ProGAN's per-device batch at stage {stage} is {local} (global "
                f"{arch.batch_size_at(stage)} over {dist.world_size} processes), not divisible "
                f"by mbstd_group_size {arch.mbstd_group_size}; minibatch stddev groups are "
                "formed on each device. Change batch_sizes or the number of processes."
            )


def sync_batchnorm(G: nn.Module, D: nn.Module,
                   device: torch.device) -> tuple[nn.Module, nn.Module]:
    """BatchNorm over the global batch (``torch.nn.SyncBatchNorm``; same state_dict keys)."""
    if device.type != "cuda":
        raise ValueError("sync_bn (--sync-bn) needs GPUs: torch.nn.SyncBatchNorm only runs on "
                         "CUDA. On CPUs train without it; BatchNorm then normalises each "
                         "process's slice of the batch.")
    convert = nn.SyncBatchNorm.convert_sync_batchnorm
    return convert(G), convert(D)

