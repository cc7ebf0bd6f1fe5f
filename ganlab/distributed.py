"""Data-parallel training on many GPUs and machines, launched by ``torchrun``.

``torchrun`` starts one process per device and tells each one who it is through environment
variables: ``RANK`` (0 .. world size - 1, over all machines), ``LOCAL_RANK`` (its device on this
machine), ``WORLD_SIZE``, and ``MASTER_ADDR``/``MASTER_PORT`` to meet the others. :func:`setup`
reads them and joins the process group (NCCL on GPUs, gloo on CPUs); without them the run is one
ordinary process and everything here is a no-op. The trainer wraps G and D in PyTorch's
``DistributedDataParallel``, which averages the gradients of all processes during ``backward``.

What each process keeps for itself and what is identical everywhere:

- its own: a shard of the data (:meth:`Distributed.shard`), a slice of every batch (global batch
  / world size), an RNG stream seeded with ``seed + rank``;
- identical on every rank: weights, optimiser states, BatchNorm buffers (rank 0's, broadcast after
  every step), the EMA copy of G, step, images seen and the logged numbers (averaged over ranks).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

ENV_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE")


def from_env(env: Mapping[str, str] | None = None) -> tuple[int, int, int] | None:
    """``(rank, local_rank, world_size)`` from torchrun's variables, or None outside torchrun."""
    env = os.environ if env is None else env
    present = [name for name in ENV_VARS if name in env]
    if not present:
        return None
    if len(present) != len(ENV_VARS):
        missing = sorted(set(ENV_VARS) - set(present))
        raise ValueError(f"found {', '.join(present)} but not {', '.join(missing)} in the "
                         "environment; launch distributed runs with torchrun, which sets them all")
    try:
        rank, local_rank, world = (int(env[name]) for name in ENV_VARS)
    except ValueError:
        raise ValueError(f"RANK, LOCAL_RANK and WORLD_SIZE must be integers, got "
                         f"{[env[name] for name in ENV_VARS]}") from None
    if world < 1 or not 0 <= rank < world or local_rank < 0:
        raise ValueError(f"inconsistent torchrun environment: RANK={rank}, "
                         f"LOCAL_RANK={local_rank}, WORLD_SIZE={world}")
    return rank, local_rank, world


@dataclass
class Distributed:
    """This process's place in the run. ``backend`` is None for an ordinary single process."""

    device: torch.device
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: str | None = None
    _control: Any = field(default=None, repr=False)  # a gloo group for small CPU messages

    @property
    def enabled(self) -> bool:
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs, shows progress and writes samples and checkpoints."""
        return self.rank == 0

    def local_batch(self, global_batch: int) -> int:
        """Each rank's slice of a global batch; the global batch must split evenly."""
        if global_batch % self.world_size != 0:
            raise ValueError(
                f"the batch size {global_batch} does not split evenly over {self.world_size} "
                f"processes; use a multiple of {self.world_size} (the batch size is the global "
                "batch, summed over all processes)"
            )
        return global_batch // self.world_size

    def wrap(self, module: nn.Module, find_unused_parameters: bool = False) -> nn.Module:
        """``module`` in DistributedDataParallel (broadcasting rank 0's weights), or as it is.

        No buffer broadcast at each forward: D runs on reals, fakes and interpolates before one
        backward, and DDP's broadcast at each forward overwrites in place BatchNorm statistics
        that cuDNN saved for that backward ("modified by an inplace operation",
        pytorch/pytorch#22095, #175024). :meth:`broadcast_buffers` syncs them after each step.
        """
        if not self.enabled:
            return module
        from torch.nn.parallel import DistributedDataParallel

        # Newer torch renamed broadcast_buffers (whose False also skipped the sync at wrap time).
        no_sync = ("forward_sync_buffers" if "forward_sync_buffers" in
                   inspect.signature(DistributedDataParallel).parameters else "broadcast_buffers")
        ids = [self.device.index] if self.device.type == "cuda" else None
        wrapped = DistributedDataParallel(module, device_ids=ids, **{no_sync: False},
                                          find_unused_parameters=find_unused_parameters)
        self.broadcast_buffers(module)
        return wrapped

    def shard(self, data: Any) -> Any:
        """Rank r keeps examples r, r + N, r + 2N, ... of a ``TensorData`` (N = world size)."""
        if self.world_size == 1:
            return data
        if len(data) < self.world_size:
            raise ValueError(f"data set {data.name!r} has {len(data)} examples, fewer than the "
                             f"{self.world_size} processes")
        return data.shard(self.rank, self.world_size)

    def broadcast_buffers(self, *modules: nn.Module) -> None:
        """Copy rank 0's buffers (BatchNorm running statistics) to every rank."""
        if not self.enabled:
            return
        import torch.distributed as dist

        for module in modules:
            for buffer in module.buffers():
                dist.broadcast(buffer, src=0)

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The average of ``values`` over all ranks (for logging: the global-batch statistics)."""
        if not self.enabled or self.world_size == 1:
            return values
        import torch.distributed as dist

        values = values.clone()
        dist.all_reduce(values)
        return values.div_(self.world_size)

    def any(self, *flags: bool) -> tuple[bool, ...]:
        """For each flag, whether it is set on any rank, so that all ranks stop or save together."""
        if not self.enabled:
            return tuple(flags)
        import torch.distributed as dist

        t = torch.tensor([int(f) for f in flags], dtype=torch.int32)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self._control)
        return tuple(bool(v) for v in t.tolist())

    def share(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (e.g. whether it could lock the run directory)."""
        if not self.enabled:
            return obj
        import torch.distributed as dist

        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0, group=self._control)
        return box[0]

    def gather(self, obj: Any) -> list[Any] | None:
        """Every rank's ``obj`` as a list on rank 0 (None on the others)."""
        if not self.enabled:
            return [obj]
        import torch.distributed as dist

        out: list[Any] | None = [None] * self.world_size if self.is_main else None
        dist.gather_object(obj, out, dst=0, group=self._control)
        return out

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier(group=self._control)


def setup(device: torch.device) -> Distributed:
    """Join torchrun's process group, if launched by torchrun; else a single process on ``device``.

    Under torchrun every process uses the GPU of its ``LOCAL_RANK`` (``--device auto`` or
    ``cuda``) with NCCL, or the CPU (``--device cpu``) with gloo.
    """
    where = from_env()
    if where is None:
        return Distributed(device)
    rank, local_rank, world = where
    import torch.distributed as dist

    if device.type == "cuda":
        if device.index is not None and device.index != local_rank:
            raise ValueError(f"under torchrun each process uses the GPU numbered by its "
                             f"LOCAL_RANK ({local_rank} here), not {device}; pass --device cuda "
                             "or auto")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise ValueError(f"distributed training runs on CUDA (NCCL) or the CPU (gloo), not on "
                         f"{device.type}")
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world)
    elif (dist.get_rank(), dist.get_world_size()) != (rank, world):
        raise ValueError(f"the process group already set up is rank {dist.get_rank()} of "
                         f"{dist.get_world_size()}, but the environment says {rank} of {world}")
    # Flags, RNG states and barriers are small CPU objects: with NCCL they go through gloo, so
    # agreeing on them never waits for the GPU.
    control = dist.new_group(backend="gloo") if dist.get_backend() != "gloo" else None
    return Distributed(device, rank, local_rank, world, dist.get_backend(), control)


def shutdown() -> None:
    """Leave the process group (at the end of ``ganlab train`` under torchrun)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
