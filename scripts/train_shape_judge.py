"""Re-create the shape judge shipped in ganlab/judges/shape_judge32.pt.

``ganlab.metrics.train_shape_classifier`` at 32x32 with its defaults (seed 0), stored in float32
with its settings, then scored by ``ganlab.metrics.shape_calibration`` (held-out real shapes,
blurred shapes, noise). Shipping it means every machine scores with the same network: a judge
trained where it is used depends on the thread count (another summation order), and its verdict
on borderline samples with it. Deterministic on one machine and thread count; the shipped file
was written with one thread:

    OMP_NUM_THREADS=1 python scripts/train_shape_judge.py
"""

from __future__ import annotations

from ganlab import metrics


def main() -> None:
    resolution, settings = 32, metrics.SHAPE_JUDGE_SETTINGS
    path = metrics.SHIPPED_SHAPE_JUDGES[resolution]
    model = metrics.train_shape_classifier(resolution, progress=True, **settings)
    metrics.save_shape_classifier(model, path, resolution, **settings)
    judge = metrics.load_shape_classifier(path, {"resolution": resolution, **settings})
    print(f"wrote {path}")
    for name, r in metrics.shape_calibration(resolution, judge).items():
        print(f"{name}: {r}")


if __name__ == "__main__":
    main()
