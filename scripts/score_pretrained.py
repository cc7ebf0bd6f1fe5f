"""Score the shipped generators and write the table in ganlab/pretrained/README.md.

For each generator in ``ganlab/pretrained/manifest.json`` trained on a data set with a judge
(``shapes``, ``mnist-5k``), on 1,000 samples of latent seed 1:

- the course judge's recognition as a share of real (``ganlab.metrics.recognition_vs_real``);
- the second judge's, from ``scripts/second_judge.py`` (judges the course does not ship);
- notebook 06's second view, ``ganlab.evaluation.evaluate_source``: FD, density and coverage in
  the course judge's feature space, each beside its real-data floor.

The numbers go to ``ganlab/pretrained/scores.json`` and, rendered, between the ``scores``
markers of the README (``tests/test_pretrained.py`` checks that the two agree).

    python scripts/score_pretrained.py            # about two minutes on 2 CPU cores
"""

from __future__ import annotations

import importlib.util
import json
import math
import platform
import re
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "ganlab" / "pretrained" / "README.md"
SCORES = ROOT / "ganlab" / "pretrained" / "scores.json"
BEGIN, END = "<!-- scores: begin (python scripts/score_pretrained.py) -->", "<!-- scores: end -->"


def _second_judge():
    spec = importlib.util.spec_from_file_location("second_judge", ROOT / "scripts/second_judge.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score(name: str, n: int = 1000, seed: int = 1) -> dict:
    from ganlab import metrics
    from ganlab.evaluation import evaluate_source, generate_samples, load_generator

    config, G = load_generator(f"pretrained:{name}")
    with torch.no_grad():
        x = generate_samples(G, n, seed)
    course = metrics.recognition_vs_real(x, config.data.name)
    second = _second_judge().second_opinion(x, config.data.name)
    ev = evaluate_source(f"pretrained:{name}", n=n, seed=seed)
    out = {"data": config.data.name, "n": n, "seed": seed, "course": str(course.samples),
           "course_of_real": course.of_real, "course_real": course.real_share,
           "second_of_real": second.of_real, "second_real": second.real_share}
    if isinstance(course.samples, metrics.DigitRecognition):
        out.update(classes=course.samples.classes, kl_uniform=course.samples.kl_uniform)
    for key in ("FD", "density", "coverage"):
        out[key], out[f"{key}_floor"] = ev.scores[key], ev.floors[key]
    return out


def render(scores: dict) -> str:
    lines = ["| name | course judge | share of real: course judge / second judge | "
             "FD (real floor) | density (floor) | coverage (floor) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name, s in scores["models"].items():
        lines.append(
            f"| `{name}` | {s['course']} | **{s['course_of_real']:.2f}** / "
            f"{s['second_of_real']:.2f} | {s['FD']:.1f} ({s['FD_floor']:.1f}) | "
            f"{s['density']:.2f} ({s['density_floor']:.2f}) | "
            f"{s['coverage']:.2f} ({s['coverage_floor']:.2f}) |")
    real = {s["data"]: (s["course_real"], s["second_real"]) for s in scores["models"].values()}
    lines.append("")
    lines.append("Real held-out data, read by the same judges (the denominators): " + "; ".join(
        f"{data} {100 * c:.1f}% by the course judge, {100 * s:.1f}% by the second judge"
        for data, (c, s) in sorted(real.items())) + f". Scored on {scores['machine']}.")
    return "\n".join(lines)


def main() -> int:
    manifest = json.loads((ROOT / "ganlab/pretrained/manifest.json").read_text())["models"]
    from ganlab import metrics
    from ganlab.evaluation import load_generator

    judged = [k for k in sorted(manifest)
              if metrics.recognisable((c := load_generator(f"pretrained:{k}")[0]).data.name,
                                      c.data.resolution)]
    models = {}
    for name in judged:
        models[name] = score(name)
        print(name, {k: v for k, v in models[name].items() if not isinstance(v, str)},
              file=sys.stderr)
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or cpu
    scores = {"machine": f"{cpu}, torch {torch.__version__}",
              "models": {k: {f: (None if isinstance(v, float) and math.isnan(v) else v)
                             for f, v in s.items()} for k, s in models.items()}}
    SCORES.write_text(json.dumps(scores, indent=2) + "\n")
    text = README.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{README} has no {BEGIN} ... {END} block")
    README.write_text(pattern.sub(lambda _: f"{BEGIN}\n{render(scores)}\n{END}", text))
    print(f"wrote {SCORES} and the table in {README}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
