"""How much train_many saves on this machine: two ring8 runs of the collapse setting one after the
other (with all of torch's threads, then with one), against the same two side by side.

    python scripts/train_many_speed.py [--steps 1500]

Run it on an idle machine; it prints seconds per run and the wall time of each way.
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

from ganlab.hardware import cpu_summary
from ganlab.presets import ring_collapse
from ganlab.training import Trainer, train_many


def serial(configs, threads: int) -> list[float]:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        times = []
        for config in configs:
            trainer = Trainer(config, device="cpu", progress=False)
            start = time.perf_counter()
            trainer.fit()
            times.append(time.perf_counter() - start)
        return times
    finally:
        torch.set_num_threads(previous)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)  # the collapse alarms: beside the point here
    configs = [ring_collapse("vanilla", profile="default", train__steps=args.steps,
                             train__seed=seed) for seed in (0, 1)]
    threads = torch.get_num_threads()
    print(cpu_summary())
    for n in (threads, 1):
        times = serial(configs, n)
        print(f"one after the other, {n} thread(s): {times[0]:.1f} + {times[1]:.1f} = "
              f"{sum(times):.1f} s")
    start = time.perf_counter()
    train_many(configs, progress=False)
    print(f"train_many, side by side: {time.perf_counter() - start:.1f} s wall (process start "
          "included)")


if __name__ == "__main__":
    main()
