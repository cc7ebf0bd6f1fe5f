"""Which speed options pay on this machine? Trainer variants, one process, rounds alternating.

Each variant is a DCGAN ``Trainer`` at one size (fp32 unless ``bf16`` is named); ``ref`` is seed
001's loop (``ganlab.bench.ReferenceLoop``). Variant names join options with ``+``:

- ``cl``: channels-last memory format on the CPU (else contiguous NCHW);
- ``fused``: ``torch.optim.Adam(fused=True)`` on the CPU (else ``foreach``);
- ``reuse``: ``train.reuse_fakes`` (the D step's fakes serve the G step, as seed 001 does);
- ``bf16``: bf16 autocast; ``t1``: one thread instead of all;
- ``compile``: ``torch.compile`` of the whole training step (prints its compile time).

    python scripts/speed_options.py --resolution 64 --width 64 --batch 128 --steps 6 \\
        --variants ref,cl,plain,cl+fused,cl+reuse

Run it on an idle machine: the ratio against the first variant is what to read.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from ganlab import training
from ganlab.bench import ReferenceLoop, _bookkeeping
from ganlab.config import LossConfig
from ganlab.data import TensorData
from ganlab.hardware import cpu_summary
from ganlab.models import build
from ganlab.presets import preset
from ganlab.training import devices


def make_variant(name: str, cfg, images: torch.Tensor):  # noqa: ANN001, ANN201
    opts = set(name.split("+"))
    if "ref" in opts:
        torch.manual_seed(0)
        ref = ReferenceLoop(*build(cfg.arch), images, cfg.train.batch_size, torch.device("cpu"),
                            {})
        return lambda k: [ref.step() for _ in range(k)]
    # The module-level switches of ganlab.training.devices are read when a Trainer is built.
    devices.CHANNELS_LAST = {"cuda": ("dcgan", "progan"),
                             "cpu": ("dcgan", "progan") if "cl" in opts else ()}
    devices.FUSED_ADAM_DEVICES = ("cuda", "cpu") if "fused" in opts else ("cuda",)
    c = cfg.replace(train__reuse_fakes="reuse" in opts,
                    train__amp="bf16" if "bf16" in opts else "off")
    trainer = training.Trainer(c, device="cpu", data=TensorData("bench", images), progress=False)
    if "compile" in opts:
        start = time.perf_counter()
        trainer.train_step = torch.compile(trainer.train_step)
        trainer.fit(trainer.step + 2)
        print(f"{name}: compile + 2 steps {time.perf_counter() - start:.1f} s", flush=True)

    def run(k: int) -> None:
        threads = torch.get_num_threads()
        if "t1" in opts:
            torch.set_num_threads(1)
        try:
            trainer.fit(trainer.step + k)
        finally:
            torch.set_num_threads(threads)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=6, help="steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--variants", default="ref,cl,plain,cl+fused,cl+reuse")
    args = parser.parse_args()
    cfg = preset("dcgan", "shapes", profile="default", loss=LossConfig("nonsaturating"),
                 arch__resolution=args.resolution, arch__g_width=args.width,
                 arch__d_width=args.width, arch__latent_dim=100,
                 **_bookkeeping(batch_size=args.batch))
    images = torch.rand(1024, 3, args.resolution, args.resolution,
                        generator=torch.Generator().manual_seed(0)) * 2 - 1
    names = args.variants.split(",")
    runs = {}
    for name in names:
        runs[name] = make_variant(name, cfg, images)
        runs[name](2)  # warm-up
    times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.rounds):
        for name in names:
            start = time.perf_counter()
            runs[name](args.steps)
            times[name].append(time.perf_counter() - start)
    print(cpu_summary())
    print(f"DCGAN {args.resolution}px, width {args.width}, batch {args.batch}: "
          f"{args.rounds} rounds of {args.steps} steps, medians")
    base = statistics.median(times[names[0]])
    for name in names:
        m = statistics.median(times[name])
        print(f"{name:22s} {args.batch * args.steps / m:8.0f} img/s  {base / m:5.2f}x "
              f"{names[0]}")


if __name__ == "__main__":
    main()
