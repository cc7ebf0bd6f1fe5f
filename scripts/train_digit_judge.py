"""Re-create the digit judge shipped in ganlab/judges/digit_judge.pt.

``ganlab.metrics.train_digit_judge`` with its defaults (seed 0), stored in float16 with its
settings, then scored by ``ganlab.metrics.digit_calibration`` (held-out real digits at 28 and
32 px, blurred digits, noise). Deterministic on one machine; another CPU gives the same judge up
to floating-point summation order, not bit for bit.

    OMP_NUM_THREADS=1 python scripts/train_digit_judge.py
"""

from __future__ import annotations

import torch

from ganlab import metrics


def main() -> None:
    steps, seed = metrics.JUDGE_STEPS, 0
    model = metrics.train_digit_judge(steps=steps, seed=seed, progress=True)
    metrics.save_digit_judge(model, metrics.SHIPPED_JUDGE, steps, seed, dtype=torch.float16)
    judge = metrics.load_digit_judge(metrics.SHIPPED_JUDGE, steps, seed)
    print(f"wrote {metrics.SHIPPED_JUDGE}")
    for resolution in (28, 32):
        for name, r in metrics.digit_calibration(judge, resolution=resolution).items():
            print(f"{resolution} px, {name}: {r}")


if __name__ == "__main__":
    main()
