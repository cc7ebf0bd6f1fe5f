"""Quality of a training recipe over seeds, scored by the course's own metrics.

A recipe is a preset (``--model``, ``--data``, ``--profile``) with overrides
(``--set train__lr_g=5e-4 train__ema=0.999``); ``--recipe ring-collapse`` is
:func:`ganlab.presets.ring_collapse`. Each seed is trained and scored at the end:

- ring8 / grid25: modes captured and high-quality share (``ganlab.metrics.mode_coverage``) on
  2,500 samples, plus the modes captured at every fixed-noise snapshot;
- mnist-5k / digits: the digit judge (``ganlab.metrics.digit_recognition``) on 1,000 samples;
- shapes: ``ganlab.metrics.shape_recognition`` on 1,000 samples;
- images (shapes, mnist-5k): notebook 06's view too, ``ganlab.evaluation.evaluate`` against the
  training set (the course judge's share of real, FD, density and coverage, each with its real
  floor), and with ``--second`` the unshipped second judge's share of real
  (``scripts/second_judge.py``), kept out of a recipe search and used to confirm its choice.

Samples come from latent seed 1 (never the fixed noise the trainer watches). Quality only:
timings belong to ``ganlab bench`` on an idle machine. Results go to stdout, one JSON object per
run, and to ``--out`` (a JSON list) when given.

    python scripts/recipe_quality.py --model vanilla --data mnist-5k --seeds 0 1 2
    python scripts/recipe_quality.py --model dcgan lsgan --data mnist-5k --second \
        --out notebooks/results/lsgan_vs_dcgan.json
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


_EVALUATORS: dict[str, Any] = {}  # one per data set: its real side is computed once


def score(trainer: Trainer, second: bool = False) -> dict[str, Any]:
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
    out: dict[str, Any] = {}
    if name == "shapes":
        out["recognised"] = metrics.shape_recognition(x).recognised
    else:
        r = metrics.digit_recognition(x)
        out.update(confident=r.confident, classes=r.classes, kl_uniform=r.kl_uniform,
                   counts=list(r.counts), digit_judge_version=metrics.DIGIT_JUDGE_VERSION)
    if name in metrics.JUDGED_DATA:
        from ganlab.evaluation import Evaluator

        if name not in _EVALUATORS:
            _EVALUATORS[name] = Evaluator(trainer.data, n=min(1000, len(trainer.data) // 2),
                                          swd=False)  # tiny data sets are smaller
        ev = _EVALUATORS[name](x)
        for key in ("of_real", "FD", "density", "coverage"):
            if key in ev.scores:
                out[key] = ev.scores[key]
                out[f"{key}_real_floor"] = ev.floors.get(key)
        if second:
            import second_judge  # scripts/second_judge.py, beside this script

            out["second_of_real"] = second_judge.second_opinion(x, name).of_real
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", choices=("preset", "ring-collapse"), default="preset")
    parser.add_argument("--model", nargs="+", default=["vanilla"],
                        help="one model, or several to compare on the same data and budget")
    parser.add_argument("--data", default=None)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--set", dest="overrides", type=parse_override, nargs="*", default=[],
                        metavar="KEY=VALUE", help="config overrides, e.g. train__lr_g=5e-4")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--samples", type=Path, metavar="DIR",
                        help="also save each run's 1,000 scored samples as "
                        "DIR/<tag>_<model>_seed<S>.npz")
    parser.add_argument("--tag", default="run", help="file name prefix for --samples")
    parser.add_argument("--second", action="store_true",
                        help="also score with the second judge (to confirm a recipe, not to "
                             "choose one)")
    args = parser.parse_args()
    overrides = dict(args.overrides)
    runs = []
    for model, seed in ((m, s) for m in args.model for s in args.seeds):
        if args.recipe == "ring-collapse":
            config = ring_collapse(model, args.profile, train__seed=seed, **overrides)
        else:
            config = preset(model, args.data, args.profile, train__seed=seed, **overrides)
        trainer = Trainer(config, device="cpu", progress=False)
        trainer.fit()
        if args.samples:
            import numpy as np

            from ganlab.viz import to_uint8

            args.samples.mkdir(parents=True, exist_ok=True)
            x = trainer.generate(sample_z(1000, config.arch.latent_dim, seed=1))
            if x.ndim == 4:
                np.savez_compressed(args.samples / f"{args.tag}_{model}_seed{seed}.npz",
                                    images=to_uint8(x).permute(0, 2, 3, 1).numpy())
        result = {"recipe": args.recipe, "model": model, "data": config.data.name,
                  "profile": args.profile, "overrides": {k: repr(v) for k, v in overrides.items()},
                  "seed": seed, "steps": trainer.step, "seconds": round(trainer.elapsed, 1),
                  **score(trainer, args.second)}
        print(json.dumps(result), flush=True)
        runs.append(result)
    for model in args.model:
        for key in ("modes_captured", "high_quality", "confident", "classes", "kl_uniform",
                    "recognised", "of_real", "density", "coverage", "FD", "second_of_real"):
            values = [r[key] for r in runs if key in r and r["model"] == model]
            if values:
                print(f"{model} {key}: mean {statistics.fmean(values):.3f}, range "
                      f"{min(values):.3f} to {max(values):.3f} over seeds {args.seeds}",
                      flush=True)
    if args.out:
        args.out.write_text(json.dumps(runs, indent=1) + "\n")


if __name__ == "__main__":
    main()
