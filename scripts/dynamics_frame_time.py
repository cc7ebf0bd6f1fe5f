"""How long one frame of the training-dynamics explorer takes: measure the game, draw the PNG.

Prints the median over repeats (and its two parts) as JSON; ``ganlab.dynamics.frame_time`` does
the work. The issue's budget is 100 ms at 1,000 points and a 64x64 surface grid on a 2-core
CPU. Run it on an idle machine, e.g.

    OMP_NUM_THREADS=2 python scripts/dynamics_frame_time.py --repeats 51
"""

from __future__ import annotations

import argparse
import json

from ganlab.dynamics import frame_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=31)
    parser.add_argument("--points", type=int, default=1000, help="fakes (and real points) shown")
    parser.add_argument("--grid", type=int, default=64, help="surface grid side")
    parser.add_argument("--profile", default="default", help="the networks' profile")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: "
                        "torch's own setting)")
    args = parser.parse_args()
    result = frame_time(repeats=args.repeats, n_points=args.points, grid=args.grid,
                        profile=args.profile, threads=args.threads)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
