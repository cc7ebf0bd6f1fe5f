"""Does bf16 autocast cost quality? The same recipe trained in fp32 and in bf16 over several seeds.

For each seed the two runs start from the same weights and data; only ``train.amp`` differs. The
scores are the course's own metrics: mode coverage for the 2-D ring (``--recipe ring8``) and the
shape classifier's recognised share for DCGAN on shapes (``--recipe dcgan-shapes``). The JSON it
writes is what notebook 02 prints.

    python scripts/bf16_quality.py --recipe ring8 --out notebooks/results/bf16_ring8.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from ganlab import hardware
from ganlab.metrics import mode_coverage, shape_recognition
from ganlab.presets import preset
from ganlab.training import Trainer, sample_z

RECIPES = {
    # The default profile's LSGAN on ring8: 4,000 steps of a 3x128 MLP, EMA 0.99.
    "ring8": lambda amp, seed: preset("lsgan", "ring8", profile="default", train__amp=amp,
                                      train__seed=seed),
    # The default profile's DCGAN on 32x32 shapes.
    "dcgan-shapes": lambda amp, seed: preset("dcgan", "shapes", profile="default",
                                             train__amp=amp, train__seed=seed),
}


def score(trainer: Trainer, recipe: str) -> dict[str, float]:
    z = sample_z(2500 if recipe == "ring8" else 1000, trainer.config.arch.latent_dim, seed=1)
    x = trainer.generate(z)
    if recipe == "ring8":
        cov = mode_coverage(x, trainer.data.mixture)
        return {"modes_captured": cov.modes_captured, "high_quality": cov.high_quality}
    rec = shape_recognition(x)
    return {"recognised": rec.recognised}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="ring8")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    runs = []
    for seed in args.seeds:
        for amp in ("off", "bf16"):
            trainer = Trainer(RECIPES[args.recipe](amp, seed), device="cpu", progress=False)
            trainer.fit()
            # Quality only: timings belong to `ganlab bench` on an idle machine.
            result = {"seed": seed, "amp": amp, "precision": hardware.precision_name(
                trainer.amp_dtype), **score(trainer, args.recipe)}
            print(result, flush=True)
            runs.append(result)
    metrics = [k for k in runs[0] if k not in ("seed", "amp", "precision")]
    summary = {}
    for amp in ("off", "bf16"):
        rows = [r for r in runs if r["amp"] == amp]
        summary[amp] = {m: {"mean": statistics.mean(r[m] for r in rows),
                            "min": min(r[m] for r in rows), "max": max(r[m] for r in rows)}
                        for m in metrics}
    report = {"recipe": args.recipe, "seeds": args.seeds, "cpu": hardware.cpu_summary(),
              "torch": torch.__version__, "command": "python scripts/bf16_quality.py --recipe "
              f"{args.recipe} --seeds {' '.join(map(str, args.seeds))} --out {args.out}",
              "runs": runs, "summary": summary}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
