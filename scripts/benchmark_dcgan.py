"""DCGAN training throughput: ganlab's Trainer against the seed's reference loop, same process.

The reference is the PyTorch-tutorial loop that seed 001 follows (typos fixed): a DataLoader over
the images, Sigmoid + BCELoss, ``zero_grad()`` without ``set_to_none``, and ``.item()`` on every
step for the loss lists. Both train the same networks (ganlab's DCGAN G and D; the reference
wraps D with a Sigmoid) on the same in-memory data at the same batch size. Rounds alternate so
that machine noise hits both alike; the ratio of medians is what to read.

    python scripts/benchmark_dcgan.py --resolution 32 --width 32 --batch 64 --steps 30
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ganlab.presets import preset
from ganlab.training import Trainer, resolve_device


def reference_steps(G, D, images, steps, batch, device, num_workers):  # noqa: ANN001
    """Seed 001's loop: returns seconds for ``steps`` steps."""
    netD = nn.Sequential(D, nn.Sigmoid())
    criterion = nn.BCELoss()
    opt_D = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loader = DataLoader(TensorDataset(images), batch_size=batch, shuffle=True, drop_last=True,
                        num_workers=num_workers, persistent_workers=num_workers > 0)
    G_losses, D_losses = [], []
    done = 0
    start = time.perf_counter()
    while done < steps:
        for (real,) in loader:
            real = real.to(device)
            b = real.shape[0]
            netD.zero_grad()
            label = torch.full((b,), 1.0, device=device)
            output = netD(real).view(-1)
            err_real = criterion(output, label)
            err_real.backward()
            noise = torch.randn(b, G.latent_dim, device=device)
            fake = G(noise)
            label.fill_(0.0)
            output = netD(fake.detach()).view(-1)
            err_fake = criterion(output, label)
            err_fake.backward()
            opt_D.step()
            G.zero_grad()
            label.fill_(1.0)
            output = netD(fake).view(-1)
            err_G = criterion(output, label)
            err_G.backward()
            opt_G.step()
            G_losses.append(err_G.item())
            D_losses.append((err_real + err_fake).item())
            done += 1
            if done >= steps:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def ganlab_steps(trainer: Trainer, steps: int) -> float:
    start = time.perf_counter()
    trainer.fit(trainer.step + steps)
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--num-workers", type=int, default=2, help="reference DataLoader workers")
    args = parser.parse_args()
    device = resolve_device(args.device)
    config = preset("dcgan", "shapes", profile="default", train__batch_size=args.batch,
                    train__log_every=50, train__sample_every=10**9,
                    train__checkpoint_every=10**9, arch__resolution=args.resolution,
                    arch__g_width=args.width, arch__d_width=args.width,
                    data__resolution=args.resolution, data__size=4096)
    trainer = Trainer(config, device=device, progress=False)
    images = trainer.data.tensors().cpu()
    ref_G, ref_D = (m for m in __import__("ganlab.models", fromlist=["build"]).build(config.arch))
    ref_G.to(device)
    ref_D.to(device)
    ganlab_steps(trainer, 3)  # warm-up both
    reference_steps(ref_G, ref_D, images, 3, args.batch, device, args.num_workers)
    ours, ref = [], []
    for _ in range(args.rounds):
        ref.append(reference_steps(ref_G, ref_D, images, args.steps, args.batch, device,
                                   args.num_workers))
        ours.append(ganlab_steps(trainer, args.steps))
    r, o = statistics.median(ref), statistics.median(ours)
    print(f"device {device}, {args.resolution}px, width {args.width}, batch {args.batch}, "
          f"{args.steps} steps x {args.rounds} rounds")
    print(f"reference loop: {1000 * r / args.steps:.1f} ms/step")
    print(f"ganlab Trainer: {1000 * o / args.steps:.1f} ms/step")
    print(f"speed-up: {r / o:.2f}x")


if __name__ == "__main__":
    main()
