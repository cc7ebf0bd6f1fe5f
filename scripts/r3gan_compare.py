"""R3GAN against DCGAN and LSGAN on the course's image data, each in its own `default` preset.

Notebook 07 renders the result. For every data set and seed the three models train with
``preset(model, data, "default")`` (the settings a learner's `default` run uses), for the
preset's steps or, with ``--budget SECONDS``, for as many steps as fit in that much CPU time on
one thread (measured per model and data set in a short pilot before the runs: the least of
three means of 8 steps after 5 of warm-up, one thread; so each recipe gets the same compute.
The `shapes` results in notebooks/results/r3gan_compare.json were made with an earlier pilot,
one mean of 12 steps after 3 of warm-up, which the mnist-5k pilot replaced after it timed the
same network (DCGAN's and LSGAN's) 0.21 and 0.16 s a step; each run records its pilot). Then
1,000 samples (latent seed 1) are scored:

- by the course's judge for the data, as a share of the same judge's score on real held-out
  images (``ganlab.metrics.digit_recognition`` / ``shape_recognition``, and their calibrations);
- by notebook 06's metrics (FD of judge features, density and coverage) with their real floors;
- by the second judge of ``scripts/second_judge.py`` (not shipped, never used to choose a
  recipe), as a share of its own score on its held-out real data.

Training seconds are recorded as they ran (two single-threaded runs at a time, ``train_many``):
they say how the budgets compare, not how fast a model is (that is ``ganlab bench``'s job).

    python scripts/r3gan_compare.py --data shapes mnist-5k --seeds 0 1 2 --budget 150 \
        --out notebooks/results/r3gan_compare.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

MODELS = {"DCGAN": "dcgan", "LSGAN": "lsgan", "R3GAN": "r3gan"}


def seconds_per_step(model: str, data: str) -> float:
    """Seconds of one training step of ``model``'s default preset on ``data``, one thread (as
    each ``train_many`` worker runs): the least of three means over 8 steps, after 5 steps of
    warm-up. Means, so that lazy regularisation's dearer steps (one in ``reg_every``, which
    divides 8 here) count in them; the least of three, so that a stall of the machine does not."""
    import torch

    from ganlab.presets import preset
    from ganlab.training import Trainer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = Trainer(preset(model, data, "default"), device="cpu", progress=False)
        for _ in range(5):
            trainer.train_step()
        means = []
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(8):
                trainer.train_step()
            means.append((time.perf_counter() - start) / 8)
        return min(means)
    finally:
        torch.set_num_threads(threads)


PILOT = "least of 3 means of 8 steps after 5 of warm-up, one thread"


def configs(models: list[str], data: str, seeds: list[int], steps: dict[str, int]) -> list[Any]:
    from ganlab.presets import preset

    return [preset(MODELS[m], data, "default", train__seed=seed,
                   **({"train__steps": steps[m]} if m in steps else {}))
            for seed in seeds for m in models]


def score(trainer: Any) -> dict[str, Any]:
    from ganlab import metrics
    from ganlab.evaluation import evaluate
    from ganlab.training import sample_z

    x = trainer.generate(sample_z(1000, trainer.config.arch.latent_dim, seed=1))  # (N, C, R, R)
    data = trainer.config.data.name
    vs = metrics.recognition_vs_real(x, data)
    out: dict[str, Any] = {"judge": "shape judge" if data == "shapes" else "digit judge",
                           "recognised": vs.share, "real_recognised": vs.real_share,
                           "share_of_real": vs.of_real}
    if isinstance(vs.samples, metrics.DigitRecognition):
        kl = vs.samples.kl_uniform
        out.update(classes=vs.samples.classes, kl_uniform=None if math.isnan(kl) else kl,
                   digit_judge_version=metrics.DIGIT_JUDGE_VERSION)
    from second_judge import second_opinion  # scripts/second_judge.py, beside this file

    second = second_opinion(x, data)
    out.update(second_share_of_real=second.of_real, second_real=second.real_share)
    ev = evaluate(x, trainer.data, n=1000, swd=False)  # notebook 06's metrics, judge features
    history = trainer.history
    tail = history[-max(1, len(history) // 4):]
    out.update(scores=ev.scores, floors=ev.floors,
               D_x_last_quarter=sum(h["D_x"] for h in tail) / len(tail),
               D_G_z_last_quarter=sum(h["D_G_z"] for h in tail) / len(tail),
               warnings=[w.split(":")[0] for w in trainer.warnings_issued])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["shapes", "mnist-5k"],
                        choices=["shapes", "mnist-5k", "digits"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--steps", type=int, default=None, help="default: each preset's")
    group.add_argument("--budget", type=float, default=None,
                       help="CPU seconds (one thread) per run; steps from a timed pilot")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True, help="JSON file (results are merged)")
    args = parser.parse_args(argv)

    import warnings

    from ganlab.training import sample_z, train_many
    from ganlab.viz import save_png

    results = json.loads(args.out.read_text()) if args.out.exists() else {"runs": []}
    for data in args.data:
        pilot: dict[str, float] = {}
        if args.budget:
            pilot = {m: seconds_per_step(MODELS[m], data) for m in args.models}
            steps = {m: max(50, round(args.budget / s / 50) * 50) for m, s in pilot.items()}
            print(f"{data}: pilot s/step {pilot} -> steps {steps}", flush=True)
        else:
            steps = {m: args.steps for m in args.models} if args.steps else {}
        cfgs = configs(args.models, data, args.seeds, steps)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # kept per run in trainer.warnings_issued
            trainers = train_many(cfgs, workers=args.workers, progress=False)
        print(f"{data}: {len(trainers)} runs in {time.perf_counter() - start:.0f} s", flush=True)
        for trainer in trainers:
            c = trainer.config
            name = next(n for n, m in MODELS.items() if m == c.model)
            run = {"data": data, "model": name, "seed": c.train.seed, "steps": c.train.steps,
                   "batch_size": c.train.batch_size, "loss": c.loss.name,
                   "r1_weight": c.loss.r1_weight, "r2_weight": c.loss.r2_weight,
                   "ema": c.train.ema, "resolution": c.data.resolution,
                   "g_params": sum(p.numel() for p in trainer.G.parameters()),
                   "d_params": sum(p.numel() for p in trainer.D.parameters()),
                   "train_seconds": round(trainer.elapsed, 1), "budget_seconds": args.budget,
                   "pilot_seconds_per_step": pilot.get(name),
                   "pilot": PILOT if pilot else None,
                   "reg_every": c.loss.reg_every, **score(trainer)}
            strip = args.out.with_name(f"{args.out.stem}_{data}_{c.model}_{c.train.seed}.png")
            save_png(trainer.generate(sample_z(8, c.arch.latent_dim, seed=1)), strip, nrow=8)
            run["strip"] = strip.name
            results["runs"] = [r for r in results["runs"]
                               if (r["data"], r["model"], r["seed"]) != (data, name, c.train.seed)]
            results["runs"].append(run)
            print(json.dumps(run), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
