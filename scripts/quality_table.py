"""The course's quality scoreboard: each notebook run and shipped generator against its target.

Every row reads committed results, never typed numbers:

- notebook rows: ``scripts/recipe_quality.py --second`` over seeds 0-2 of the row's preset in
  the ``default`` profile (a JSON list in ``notebooks/results/``);
- shipped generators: ``ganlab/pretrained/scores.json`` (``scripts/score_pretrained.py``),
  one training run each.

Shares are the judge's recognised share divided by the same judge's share on held-out real
data (``of_real``), by the course judge and by the second judge the course does not ship
(``scripts/second_judge.py``). A target is judged on the mean over seeds; the range is shown
beside it. ``python scripts/quality_table.py`` writes ``docs/quality.md``; ``--check`` exits 1
if the file is out of date (``tests/test_quality_table.py`` runs it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "quality.md"
PRETRAINED = "ganlab/pretrained/scores.json"


@dataclass(frozen=True)
class Row:
    """One line of the scoreboard: where the numbers come from and what they must reach.

    ``targets`` maps a result key to ``(">=" or "<=", bound)``; a bound given as a string
    ``"mean:<model>"`` is that other model's mean in the same source (LSGAN against DCGAN).
    """

    where: str
    source: str
    key: str  # the model in a recipe_quality list, or the generator's name in scores.json
    command: str
    targets: dict[str, tuple[str, float | str]] = field(default_factory=dict)


def _recipe(where: str, name: str, key: str, models: str, data: str, targets: dict) -> Row:
    """A notebook row: ``scripts/recipe_quality.py`` over seeds 0-2 into notebooks/results/."""
    source = f"notebooks/results/{name}.json"
    return Row(where, source, key, f"python scripts/recipe_quality.py --second --seeds 0 1 2 "
               f"--model {models} --data {data} --out {source}", targets)


ROWS = (
    _recipe("01 Vanilla GAN, mnist-5k", "quality_vanilla_mnist", "vanilla", "vanilla",
            "mnist-5k", {"of_real": (">=", 0.65), "classes": (">=", 9)}),
    _recipe("02 DCGAN, mnist-5k", "lsgan_vs_dcgan", "dcgan", "dcgan lsgan", "mnist-5k",
            {"of_real": (">=", 0.75), "classes": (">=", 10), "kl_uniform": ("<=", 0.05),
             "coverage": (">=", 0.5)}),
    _recipe("02 DCGAN, shapes", "quality_dcgan_shapes", "dcgan", "dcgan", "shapes",
            {"of_real": (">=", 0.75), "density": (">=", 0.5), "coverage": (">=", 0.5)}),
    _recipe("03 LSGAN, mnist-5k (same data and budget as 02)", "lsgan_vs_dcgan", "lsgan",
            "dcgan lsgan", "mnist-5k", {"of_real": (">=", "mean:dcgan")}),
    _recipe("04 ProGAN, shapes", "quality_progan_shapes", "progan", "progan", "shapes",
            {"of_real": (">=", 0.80), "coverage": (">=", 0.5)}),
    Row("shipped `dcgan_mnist32`", PRETRAINED, "dcgan_mnist32",
        "python scripts/score_pretrained.py",
        {"of_real": (">=", 0.92), "classes": (">=", 10), "kl_uniform": ("<=", 0.05),
         "coverage": (">=", 0.7)}),
    Row("shipped `dcgan_shapes64`", PRETRAINED, "dcgan_shapes64",
        "python scripts/score_pretrained.py", {"of_real": (">=", 0.92), "coverage": (">=", 0.7)}),
    Row("shipped `progan_shapes32`", PRETRAINED, "progan_shapes32",
        "python scripts/score_pretrained.py", {"of_real": (">=", 0.92), "coverage": (">=", 0.7)}),
)
COLUMNS = (("of_real", "share of real, course judge"), ("second_of_real", "second judge"),
           ("coverage", "coverage"), ("density", "density"), ("FD", "FD"),
           ("classes", "digits of 10"), ("kl_uniform", "KL from uniform"))


def runs_of(row: Row, root: Path = ROOT) -> list[dict]:
    """The row's results, one dict per seed, with the keys of :data:`COLUMNS`."""
    path = root / row.source
    if not path.exists():
        raise FileNotFoundError(f"{row.source} is missing: create it with `{row.command}`")
    data = json.loads(path.read_text())
    if row.source == PRETRAINED:
        s = data["models"][row.key]
        return [{**s, "seed": 0, "of_real": s["course_of_real"]}]  # trained with seed 0
    runs = [r for r in data if r["model"] == row.key]
    if not runs:
        raise ValueError(f"{row.source} has no runs of {row.key!r}: re-create it with "
                         f"`{row.command}`")
    return runs


def _values(runs: list[dict], key: str) -> list[float]:
    return [r[key] for r in runs if r.get(key) is not None]


def mean_of(runs: list[dict], key: str) -> float | None:
    values = _values(runs, key)
    return statistics.fmean(values) if values else None


def verdicts(row: Row, runs: list[dict], root: Path = ROOT) -> dict[str, tuple[float, bool]]:
    """``{key: (bound, met)}`` for each target, judged on the mean over seeds."""
    out = {}
    for key, (op, bound) in row.targets.items():
        if isinstance(bound, str):
            bound = mean_of(runs_of(replace(row, key=bound.removeprefix("mean:")), root), key)
        value = mean_of(runs, key)
        if value is None:
            raise ValueError(f"{row.source}: no {key!r} in the runs of {row.key!r}")
        out[key] = (bound, value >= bound if op == ">=" else value <= bound)
    return out


def _cell(runs: list[dict], key: str) -> str:
    values = _values(runs, key)
    if not values:
        return ""
    fmt = (lambda v: f"{v:.0f}") if key in ("FD", "classes") else (lambda v: f"{v:.3f}")
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.fmean(values))} ({fmt(min(values))}–{fmt(max(values))})"


def _floors(run: dict) -> str:
    """The real-data floors recorded with a run (recipe_quality: ``*_real_floor``; scores.json:
    ``*_floor``)."""
    def floor(key: str) -> float | None:
        return run.get(f"{key}_real_floor", run.get(f"{key}_floor"))

    values = [floor(k) for k in ("coverage", "density", "FD")]
    if any(v is None for v in values):
        return ""
    return f"{values[0]:.2f} / {values[1]:.2f} / {values[2]:.1f}"


def render(root: Path = ROOT) -> str:
    head = (["where", "seeds"] + [title for _, title in COLUMNS]
            + ["real floors: coverage / density / FD", "target", "met"])
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in ROWS:
        runs = runs_of(row, root)
        v = verdicts(row, runs, root)
        targets = "; ".join(f"{key} {row.targets[key][0]} {round(bound, 3):g}"
                            for key, (bound, _) in v.items())
        met = "yes" if all(ok for _, ok in v.values()) else "no: " + ", ".join(
            key for key, (_, ok) in v.items() if not ok)
        seeds = ", ".join(str(r["seed"]) for r in runs)
        lines.append("| " + " | ".join([row.where, seeds] + [_cell(runs, k) for k, _ in COLUMNS]
                                       + [_floors(runs[0]), targets, met]) + " |")
    sources = sorted({(row.source, row.command) for row in ROWS})
    return "\n".join([
        "# Quality: every run against its target",
        "",
        "Generated by `python scripts/quality_table.py` from the committed results it names; "
        "do not edit by hand.",
        "Each notebook row trains the notebook's own preset (`default` profile) once per seed "
        "and scores 1,000 samples of latent seed 1; the shipped rows score each shipped "
        "generator once. Shares are of real: the judge's recognised share divided by the same "
        "judge's share on held-out real data. The second judge (`scripts/second_judge.py`) is "
        "not shipped and chose no recipe. Coverage, density and FD are notebook 06's view in "
        "the course judge's feature space, beside what a disjoint half of the real data scores "
        "(its floor). Cells read mean (min–max) over seeds; a target is judged on the mean.",
        "",
        *lines,
        "",
        "Sources:",
        "",
        *[f"- `{source}`: `{command}`" for source, command in sources],
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/quality.md is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC.relative_to(ROOT)} is out of date: run python scripts/quality_table.py",
                  file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
