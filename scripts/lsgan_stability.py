"""LSGAN's stability claim on images (Mao et al., 2017; the TPAMI version's comparison that
removes batch normalization and swaps the optimiser), measured on ``mnist-5k`` at 32 px.

Each setting trains notebook 02's DCGAN networks twice per seed, with the regular GAN's
non-saturating loss and with least squares (0-1 targets); nothing else differs. Every run is
scored on 1,000 samples (latent seed 1) by the course's digit judge (share confident, its share
of the judge's score on real held-out digits, classes, KL to uniform) and by notebook 06's
density and coverage against the training set, with their real-data floors, and by the share of
G's output pixels that tanh still lets a gradient through (``ganlab.metrics.live_pixels``; runs
recorded before it was added lack it). Results go to a JSON
file (notebook 03 renders it) and an 8-sample strip per run to a PNG beside it.

    python scripts/lsgan_stability.py --settings no-bn-rmsprop --seeds 0 1 2 \
        --out notebooks/results/lsgan_stability.json

Runs go two at a time in single-threaded processes (``train_many``); quality only, no timings.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

# The settings of the comparison: which networks keep batch norm, the optimiser, its rates. The
# paper's DCGAN rate (2e-4, Adam's beta1 0.5) and no EMA everywhere, as in the paper.
SETTINGS: dict[str, dict[str, Any]] = {
    "paper": dict(arch__batch_norm="both", train__optimizer="adam"),
    "no-bn-g-adam": dict(arch__batch_norm="d", train__optimizer="adam"),
    "no-bn-g-rmsprop": dict(arch__batch_norm="d", train__optimizer="rmsprop"),
    "no-bn-adam": dict(arch__batch_norm="none", train__optimizer="adam"),
    "no-bn-rmsprop": dict(arch__batch_norm="none", train__optimizer="rmsprop"),
}
COMMON = dict(train__lr_g=2e-4, train__lr_d=2e-4, train__ema=0.0)
LOSSES = {"regular GAN": "dcgan", "LSGAN": "lsgan"}


def configs(setting: str, seeds: list[int], steps: int | None) -> list[Any]:
    from ganlab.presets import preset

    extra = {"train__steps": steps} if steps else {}
    return [preset(model, "mnist-5k", "default", **SETTINGS[setting], **COMMON, **extra,
                   train__seed=seed)
            for seed in seeds for model in LOSSES.values()]


def score(trainer: Any) -> dict[str, Any]:
    from ganlab import metrics
    from ganlab.evaluation import evaluate
    from ganlab.training import sample_z

    x = trainer.generate(sample_z(1000, trainer.config.arch.latent_dim, seed=1))  # (N, 1, 32, 32)
    vs = metrics.recognition_vs_real(x, "mnist-5k")
    from second_judge import second_opinion  # scripts/second_judge.py, beside this file

    second = second_opinion(x, "mnist-5k")
    ev = evaluate(x, trainer.data, n=1000, swd=False)  # notebook 06's metrics, judge features
    history = trainer.history
    tail = history[-max(1, len(history) // 4):]
    kl = vs.samples.kl_uniform
    return {"confident": vs.share, "real_confident": vs.real_share,
            "share_of_real": vs.of_real, "classes": vs.samples.classes,
            "kl_uniform": None if math.isnan(kl) else kl,
            "digit_judge_version": metrics.DIGIT_JUDGE_VERSION,
            "second_share_of_real": second.of_real, "second_real": second.real_share,
            "scores": ev.scores,
            "floors": ev.floors,
            # tanh's gradient 1 - x^2 gates every gradient G gets (ganlab.metrics.live_pixels)
            "live_pixels": metrics.live_pixels(x),
            "D_x_last_quarter": sum(h["D_x"] for h in tail) / len(tail),
            "D_G_z_last_quarter": sum(h["D_G_z"] for h in tail) / len(tail),
            "warnings": [w.split(":")[0] for w in trainer.warnings_issued]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=None, help="default: the preset's")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True, help="JSON file (results are merged)")
    args = parser.parse_args(argv)

    import warnings

    from ganlab.training import train_many
    from ganlab.viz import save_png

    results = json.loads(args.out.read_text()) if args.out.exists() else {"runs": []}
    for setting in args.settings:
        cfgs = configs(setting, args.seeds, args.steps)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # kept per run in trainer.warnings_issued
            trainers = train_many(cfgs, workers=args.workers, progress=False)
        print(f"{setting}: {len(trainers)} runs in {time.perf_counter() - start:.0f} s",
              flush=True)
        for trainer in trainers:
            c = trainer.config
            loss = next(name for name, model in LOSSES.items() if model == c.model)
            run = {"setting": setting, "loss": loss, "seed": c.train.seed,
                   "steps": c.train.steps, "batch_norm": c.arch.batch_norm,
                   "optimizer": c.train.optimizer, "lr": c.train.lr_g, **score(trainer)}
            strip = args.out.with_name(f"{args.out.stem}_{setting}_{c.model}_{c.train.seed}.png")
            from ganlab.training import sample_z

            save_png(trainer.generate(sample_z(8, c.arch.latent_dim, seed=1)), strip, nrow=8)
            run["strip"] = strip.name
            results["runs"] = [r for r in results["runs"]
                               if (r["setting"], r["loss"], r["seed"])
                               != (setting, loss, c.train.seed)]
            results["runs"].append(run)
            print(json.dumps(run), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
