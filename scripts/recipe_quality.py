"""Quality of a training recipe over seeds, scored by the course's own metrics.

A recipe is a preset (``--model``, ``--data``, ``--profile``) with overrides
(``--set train__lr_g=5e-4 train__ema=0.999``); ``--recipe ring-collapse`` is
:func:`ganlab.presets.ring_collapse`. Each seed is trained and scored at the end:

- ring8 / grid25: modes captured and high-quality share (``ganlab.metrics.mode_coverage``) on
  2,500 samples, plus the modes captured at every fixed-noise snapshot;
- mnist-5k / digits: the digit judge (``ganlab.metrics.digit_recognition``) on 1,000 samples;
- shapes: ``ganlab.metrics.shape_recognition`` on 1,000 samples.

Samples come from latent seed 1 (never the fixed noise the trainer watches). Quality only:
timings belong to ``ganlab bench`` on an idle machine. Results go to stdout, one JSON object per
run, and to ``--out`` (a JSON list) when given.

    python scripts/recipe_quality.py --model vanilla --data mnist-5k --seeds 0 1 2
    python scripts/recipe_quality.py --recipe ring-collapse --model lsgan --out collapse.json
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
from pathlib import Path
from typing import Any

from ganlab.presets import preset, ring_collapse
from ganlab.training import Trainer, sample_z


def parse_override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value  # a plain string


def score(trainer: Trainer) -> dict[str, Any]:
    from ganlab import metrics

    name = trainer.config.data.name
    if name in ("ring8", "grid25"):
        x = trainer.generate(sample_z(2500, trainer.config.arch.latent_dim, seed=1))
        cov = metrics.mode_coverage(x, trainer.data.mixture)
        over_time = [[step, metrics.mode_coverage(s, trainer.data.mixture).modes_captured]
                     for step, _, s in trainer.samples]
        return {"modes_captured": cov.modes_captured, "high_quality": cov.high_quality,
                "counts": list(cov.counts), "modes_over_time": over_time}
    x = trainer.generate(sample_z(1000, trainer.config.arch.latent_dim, seed=1))
    if name == "shapes":
        return {"recognised": metrics.shape_recognition(x).recognised}
    r = metrics.digit_recognition(x)
    return {"confident": r.confident, "classes": r.classes, "kl_uniform": r.kl_uniform,
            "counts": list(r.counts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", choices=("preset", "ring-collapse"), default="preset")
    parser.add_argument("--model", default="vanilla")
    parser.add_argument("--data", default=None)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--set", dest="overrides", type=parse_override, nargs="*", default=[],
                        metavar="KEY=VALUE", help="config overrides, e.g. train__lr_g=5e-4")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--samples", type=Path, metavar="DIR",
                        help="also save each seed's 1,000 scored samples as DIR/<tag>_seed<S>.npz")
    parser.add_argument("--tag", default="run", help="file name prefix for --samples")
    args = parser.parse_args()
    overrides = dict(args.overrides)
    runs = []
    for seed in args.seeds:
        if args.recipe == "ring-collapse":
            config = ring_collapse(args.model, args.profile, train__seed=seed, **overrides)
        else:
            config = preset(args.model, args.data, args.profile, train__seed=seed, **overrides)
        trainer = Trainer(config, device="cpu", progress=False)
        trainer.fit()
        if args.samples:
            import numpy as np

            from ganlab.viz import to_uint8

            args.samples.mkdir(parents=True, exist_ok=True)
            x = trainer.generate(sample_z(1000, config.arch.latent_dim, seed=1))
            if x.ndim == 4:
                np.savez_compressed(args.samples / f"{args.tag}_seed{seed}.npz",
                                    images=to_uint8(x).permute(0, 2, 3, 1).numpy())
        result = {"recipe": args.recipe, "model": args.model, "data": config.data.name,
                  "profile": args.profile, "overrides": {k: repr(v) for k, v in overrides.items()},
                  "seed": seed, "steps": trainer.step, **score(trainer)}
        print(json.dumps(result), flush=True)
        runs.append(result)
    for key in ("modes_captured", "high_quality", "confident", "classes", "kl_uniform",
                "recognised"):
        values = [r[key] for r in runs if key in r]
        if values:
            print(f"{key}: mean {statistics.fmean(values):.3f}, range {min(values):.3f} to "
                  f"{max(values):.3f} over seeds {args.seeds}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(runs, indent=1) + "\n")


if __name__ == "__main__":
    main()
