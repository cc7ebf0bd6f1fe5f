"""Does the EMA generator need its own BatchNorm statistics? A measurement on the shipped DCGANs.

The Trainer's EMA copy of G (``ganlab.training.trainer.EMA``) averages G's weights but copies the
live G's BatchNorm running statistics, which were gathered with the live weights, not the
averaged ones. This script scores each shipped DCGAN as shipped and again after recomputing its
BatchNorm statistics with its own weights (running averages reset, then 40 batches of 64
latents in training mode, cumulative averages), on 1,000 samples of latent seed 1:

- the course judge's share of real (``ganlab.metrics.recognition_vs_real``);
- the second judge's (``scripts/second_judge.py``), which chose no recipe;
- notebook 06's FD, density and coverage against the training set.

    python scripts/ema_batchnorm.py        # about a minute on 2 CPU cores

Quality only; it changes no shipped file.
"""

from __future__ import annotations

import argparse
import dataclasses

import torch
from torch import nn

from ganlab import metrics
from ganlab.data import load_config
from ganlab.evaluation import evaluate, generate_samples, load_generator
from ganlab.training import sample_z


@torch.no_grad()
def recompute_batchnorm(G: nn.Module, batches: int = 40, batch_size: int = 64,
                        seed: int = 123) -> None:
    """Replace G's BatchNorm running statistics by those of its own outputs, G left in eval."""
    norms = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        raise ValueError(f"{type(G).__name__} has no BatchNorm layer to recompute")
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches below
    G.train()
    for z in sample_z(batches * batch_size, G.latent_dim, seed=seed).split(batch_size):
        G(z)
    G.eval()


def scores(G: nn.Module, config, data) -> dict[str, float]:
    from second_judge import second_opinion  # scripts/second_judge.py, beside this file

    with torch.no_grad():
        x = generate_samples(G, 1000, 1)
    ev = evaluate(x, data, seed=1)
    return {"course": metrics.recognition_vs_real(x, config.data.name).of_real,
            "second": second_opinion(x, config.data.name).of_real,
            **{k: ev.scores[k] for k in ("FD", "density", "coverage")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", default=["dcgan_shapes64", "dcgan_mnist32"])
    args = parser.parse_args(argv)
    print("| generator | BatchNorm statistics | course judge | second judge | FD | density "
          "| coverage |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name in args.names:
        config, G = load_generator(f"pretrained:{name}")
        G = G.float()
        data = load_config(dataclasses.replace(config.data, download=False))
        for label in ("as shipped (the live G's)", "recomputed for the EMA weights"):
            if label.startswith("recomputed"):
                recompute_batchnorm(G)
            s = scores(G, config, data)
            print(f"| `{name}` | {label} | {s['course']:.3f} | {s['second']:.3f} | "
                  f"{s['FD']:.1f} | {s['density']:.3f} | {s['coverage']:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
