"""Many small runs side by side: :func:`train_many`, one process per CPU core.

Why: a small model (the 2-D MLPs) cannot keep two cores busy, so two runs in two single-threaded
processes finish in little more than the time of one (notebook 03's seed studies).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import warnings
from collections.abc import Iterable

import torch

from ganlab.config import RunConfig
from ganlab.training.trainer import Trainer


def _fit_in_worker(config: RunConfig, threads: int) -> Trainer:
    """One run of :func:`train_many`, in its own process with ``threads`` torch threads."""
    torch.set_num_threads(threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the parent re-emits them from trainer.warnings_issued
        trainer = Trainer(config, device="cpu", progress=False)
        trainer.fit()
    return trainer


def train_many(configs: Iterable[RunConfig], workers: int | None = None,
               progress: bool = True) -> list[Trainer]:
    """Train independent runs side by side on the CPU, one process each; their fitted Trainers.

    Why: a small model (the 2-D MLPs) cannot keep two cores busy, and one thread trains it
    about as fast as two; so two runs in two single-threaded processes finish in little more
    than the time of one (notebook 03 trains its seed studies this way). ``workers`` processes
    (default: one per CPU core, at most one per run) share torch's threads equally; each run is
    exactly ``Trainer(config, device="cpu").fit()`` with that many threads, so its result does not
    depend on which worker ran it. The Trainers come back in the order of ``configs``; each run's
    warnings are re-issued here, prefixed with its index, and kept in
    ``trainer.warnings_issued``. Meant for small models: an image model already spreads one
    run over several threads.
    """
    configs = list(configs)
    for i, config in enumerate(configs):
        if not isinstance(config, RunConfig):
            raise TypeError(f"configs[{i}] must be a ganlab.config.RunConfig, got "
                            f"{type(config).__name__}")
    if workers is None:  # the cores this process may use (a container may allow fewer)
        workers = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else os.cpu_count() or 1)
    elif isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    workers = max(1, min(workers, len(configs)))
    threads = max(1, torch.get_num_threads() // workers)
    bar = None
    if progress and configs:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(configs), desc=f"{len(configs)} runs, {workers} at a time",
                   unit="run")
    try:
        if workers == 1:
            previous = torch.get_num_threads()
            trainers = []
            try:
                for config in configs:
                    trainers.append(_fit_in_worker(config, threads))
                    if bar is not None:
                        bar.update(1)
            finally:
                torch.set_num_threads(previous)
        else:
            # spawn, not fork: a forked child inherits torch's OpenMP pool in an unusable state.
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                futures = [pool.submit(_fit_in_worker, config, threads) for config in configs]
                for _ in concurrent.futures.as_completed(futures):
                    if bar is not None:
                        bar.update(1)
                trainers = [f.result() for f in futures]
    finally:
        if bar is not None:
            bar.close()
    for i, trainer in enumerate(trainers):
        for message in trainer.warnings_issued:
            warnings.warn(f"run {i} ({trainer.config.model}, seed {trainer.config.train.seed}): "
                          f"{message}", RuntimeWarning, stacklevel=2)
    return trainers
