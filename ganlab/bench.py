"""Training throughput: ganlab's Trainer against seed 001's reference loop and the machine's peak.

``ganlab bench`` trains each model at a standard size two ways in one process, rounds alternating
so that machine noise hits both alike:

- **reference**: the loop as seed 001 (the PyTorch DCGAN tutorial) writes it: a ``DataLoader``
  over a ``TensorDataset`` (2 workers, as the seed sets), ``D`` wrapped in ``nn.Sigmoid`` with
  ``nn.BCELoss``, separate real and fake backward passes, the D step's fakes reused for the G step,
  and ``.item()`` on every step for the loss lists and D(x) / D(G(z));
- **ganlab**: :class:`ganlab.training.Trainer` as a user gets it (``fit``, its precision path,
  memory layout and optimiser), with the loss set to the non-saturating loss, which is exactly
  what Sigmoid + BCELoss computes, and ``train.reuse_fakes`` on (the D step's fakes serve the G
  step, as the reference does), so both sides run the same algorithm on the same networks.

It also measures the machine's matrix-multiply peak in fp32 and bf16 and counts each training
step's floating-point operations with ``torch.utils.flop_counter``, so every row says what share
of the hardware a training step uses, and the **ceiling**: the speed-up ganlab would reach if its
step ran at 100% of the peak for its precision, which no implementation of the same algorithm
can pass on this machine.

With ``compile="on"`` a third loop, ganlab's Trainer with ``train.compile="on"``, joins the same
rounds. Its compile time is measured twice, cold (an empty inductor cache) and from the cache (a
second compile of the same graphs, as a resumed run does), as the time of its first steps minus
as many steady steps; the **break-even** is the cold compile time over the seconds a compiled
step saves, i.e. the steps after which compiling has paid for itself
(:data:`ganlab.training.compiled.BREAK_EVEN_STEPS` records them per machine).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ganlab import hardware
from ganlab.config import LossConfig, RunConfig
from ganlab.data import TensorData
from ganlab.presets import preset
from ganlab.training import Trainer, resolve_device


@dataclass(frozen=True)
class BenchCase:
    """One model at one size: how to build its run config and its (in-memory) training data."""

    name: str
    description: str
    config: RunConfig
    data_shape: tuple[int, ...]
    data_size: int = 1024


def _bookkeeping(**train: Any) -> dict[str, Any]:
    # No samples, logs or checkpoints inside the timed steps (the trainer logs without syncing).
    # reuse_fakes: the reference's G step reuses its D step's fakes; ganlab does the same here.
    return {"train__log_every": 50, "train__sample_every": 10**9, "train__reuse_fakes": True,
            "train__checkpoint_every": 10**9, "train__n_samples": 8,
            **{f"train__{k}": v for k, v in train.items()}}


def standard_cases(quick: bool = False) -> list[BenchCase]:
    """The bench's models and sizes. ``quick`` shrinks every case to run in seconds (for tests)."""
    ns = LossConfig("nonsaturating")
    if quick:
        dcgan = dict(arch__resolution=16, arch__g_width=8, arch__d_width=8, arch__latent_dim=100)
        dcgan_batch, pro_res, pro_batch = 16, (8, 16), 8
    else:  # seed 001's size: 64x64 RGB, ngf = ndf = 64, nz = 100, batch 128
        dcgan = dict(arch__resolution=64, arch__g_width=64, arch__d_width=64,
                     arch__latent_dim=100)
        dcgan_batch, pro_res, pro_batch = 128, (32, 64), 16
    cases = []
    cfg = preset("dcgan", "shapes", profile="default", loss=ns, **dcgan,
                 **_bookkeeping(batch_size=dcgan_batch))
    res = cfg.arch.resolution
    cases.append(BenchCase(
        f"dcgan{res}", f"DCGAN {res}px RGB, width {cfg.arch.g_width}, z {cfg.arch.latent_dim}, "
        f"batch {dcgan_batch}", cfg, (3, res, res)))
    for r in pro_res:
        # The default profile's ProGAN (32 channels, tapering to 16) at its final stage, alpha 1.
        cfg = preset("progan", "shapes", profile="default", loss=ns, arch__resolution=r,
                     **_bookkeeping(batch_size=pro_batch))
        cfg = cfg.replace(arch=dataclasses.replace(cfg.arch, batch_sizes=(pro_batch,)))
        cases.append(BenchCase(f"progan{r}", f"ProGAN {r}px RGB at its final stage, channels "
                               f"{cfg.arch.channels_at(r)}, batch "
                               f"{pro_batch}", cfg, (3, r, r)))
    cfg = preset("vanilla", "digits", profile="default", loss=ns,
                 arch__data_shape=(1, 28, 28), **_bookkeeping(batch_size=64))
    cases.append(BenchCase("vanilla28", "Vanilla GAN MLP on 28x28 (hidden 256-512 / 512-256), "
                           "batch 64", cfg, (1, 28, 28)))
    cfg = preset("vanilla", "ring8", profile="default", loss=ns, **_bookkeeping(batch_size=256))
    cases.append(BenchCase("vanilla2d", "Vanilla GAN MLP on 2-D points (3 x 128), batch 256",
                           cfg, (2,), data_size=4096))
    return cases


# ---------------------------------------------------------------- the machine's peak
def matmul_peak(dtype: torch.dtype, device: torch.device, n: int = 2048,
                min_seconds: float = 0.5) -> float:
    """GFLOP/s of an ``n x n`` by ``n x n`` matrix product in ``dtype``: the best of two paths.

    On a CPU the same product runs through BLAS (``torch.mm``: MKL for fp32, which takes a slow
    path on some AMD CPUs) and through oneDNN as a 1x1 convolution over ``n`` pixels with ``n``
    channels (the library the convolutions of a GAN use). The peak is the faster of the two, so
    a convolution's share of it cannot exceed 100% merely because BLAS is the slower library.
    """
    paths = matmul_paths(dtype, device, n, min_seconds)
    return max(paths.values())


def matmul_paths(dtype: torch.dtype, device: torch.device, n: int = 2048,
                 min_seconds: float = 0.5, rounds: int = 3) -> dict[str, float]:
    """GFLOP/s of the ``n x n`` product per path: ``mm`` and, on a CPU, ``conv1x1`` (oneDNN).

    The paths alternate over ``rounds`` rounds; each path's rate is its best round's median, so
    a noisy neighbour on a shared machine lowers one round, not the peak. A path so slow that
    one ``n x n`` product would take over ten times ``min_seconds`` (and 5 s) is measured at
    ``n / 4`` instead: BLAS's bf16 ``mm`` on a CPU without bf16 units takes over a minute at
    n = 2048, where the peak is a few seconds' work.
    """
    paths = _product_paths(dtype, device, n)
    small = _product_paths(dtype, device, n // 4)
    sizes = {}
    for name, fn in small.items():
        seconds = _median_seconds(fn, device, 0.0, runs=1)
        sizes[name] = n if seconds * 64 < max(5.0, 10 * min_seconds) else n // 4
    best = {name: 0.0 for name in paths}
    for _ in range(rounds):
        for name in paths:
            fn = paths[name] if sizes[name] == n else small[name]
            seconds = _median_seconds(fn, device, min_seconds / rounds)
            best[name] = max(best[name], 2 * sizes[name] ** 3 / seconds / 1e9)
    return best


def _product_paths(dtype: torch.dtype, device: torch.device,
                   n: int) -> dict[str, Callable[[], Any]]:
    """The ``n x n`` by ``n x n`` product as BLAS ``mm`` and, on a CPU, a oneDNN 1x1 conv."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=gen).to(device=device, dtype=dtype)
    paths: dict[str, Callable[[], Any]] = {"mm": lambda: torch.mm(a, b)}
    if device.type == "cpu":
        # n channels-last pixels (an h x n/h image) times (n, n, 1, 1) weights: the same n^3
        # MACs. A near-square image, as in a GAN, is the shape oneDNN is tuned for.
        h = max(d for d in range(1, int(n**0.5) + 1) if n % d == 0)
        x = torch.empty((1, n, h, n // h), dtype=dtype, device=device,
                        memory_format=torch.channels_last)  # canonical strides: oneDNN's fast path
        x.copy_(b.T.reshape(1, n, h, n // h))
        w = a.reshape(n, n, 1, 1).contiguous(memory_format=torch.channels_last)
        paths["conv1x1"] = lambda: torch.nn.functional.conv2d(x, w)
    return paths


def _median_seconds(fn: Callable[[], Any], device: torch.device, min_seconds: float,
                    runs: int = 3) -> float:
    fn()  # warm-up: thread pool, kernel choice
    _sync(device)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < runs or (time.perf_counter() - start < min_seconds and len(times) < 50):
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------- the two loops
class ReferenceLoop:
    """Seed 001's training loop (typos fixed), on the given networks, one step at a time."""

    def __init__(self, G: nn.Module, D: nn.Module, images: torch.Tensor, batch_size: int,
                 device: torch.device, kwargs: dict[str, Any], num_workers: int = 2) -> None:
        self.G, self.D, self.device, self.kw = G.to(device), D.to(device), device, kwargs
        self.criterion = nn.BCELoss()
        self.opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.loader = DataLoader(TensorDataset(images), batch_size=batch_size, shuffle=True,
                                 drop_last=True, num_workers=num_workers,
                                 persistent_workers=num_workers > 0)
        self.batches = iter(self.loader)
        self.G_losses: list[float] = []
        self.D_losses: list[float] = []

    def _next(self) -> torch.Tensor:
        try:
            (real,) = next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            (real,) = next(self.batches)
        return real.to(self.device)

    def _D(self, x: torch.Tensor) -> torch.Tensor:
        # The seed's D ends in nn.Sigmoid; ganlab's returns logits, so the sigmoid goes here.
        return torch.sigmoid(self.D(x, **self.kw)).view(-1)

    def step(self) -> None:
        real = self._next()
        b = real.shape[0]
        self.D.zero_grad()
        label = torch.full((b,), 1.0, device=self.device)
        output = self._D(real)
        err_real = self.criterion(output, label)
        err_real.backward()
        d_x = output.mean().item()
        noise = torch.randn(b, self.G.latent_dim, device=self.device)
        fake = self.G(noise, **self.kw)
        label.fill_(0.0)
        output = self._D(fake.detach())
        err_fake = self.criterion(output, label)
        err_fake.backward()
        d_g_z1 = output.mean().item()
        self.opt_D.step()
        self.G.zero_grad()
        label.fill_(1.0)
        output = self._D(fake)
        err_G = self.criterion(output, label)
        err_G.backward()
        d_g_z2 = output.mean().item()
        self.opt_G.step()
        self.G_losses.append(err_G.item())
        self.D_losses.append((err_real + err_fake).item())
        del d_x, d_g_z1, d_g_z2  # the seed prints these every 50 steps

    def close(self) -> None:
        self.batches = iter(())  # lets persistent workers shut down with the loader
        del self.loader


def _timed(fn: Callable[[int], None], steps: int, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn(steps)
    _sync(device)
    return time.perf_counter() - start


def count_flops(step: Callable[[], None]) -> int:
    """Floating-point operations of one call of ``step`` (matmuls and convolutions, fwd + bwd)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())


@dataclass
class CaseResult:
    name: str
    description: str
    batch_size: int
    precision: str
    channels_last: bool
    steps_per_round: int
    rounds: int
    reference_img_per_s: float
    ganlab_img_per_s: float
    speedup: float
    gflop_per_step: float
    achieved_gflop_s: float
    share_fp32_peak: float
    share_bf16_peak: float
    ceiling_speedup: float
    reference_times: list[float] = field(default_factory=list)
    ganlab_times: list[float] = field(default_factory=list)
    compiled_img_per_s: float | None = None
    compiled_speedup: float | None = None
    compile_seconds: float | None = None
    compile_seconds_cached: float | None = None
    break_even_steps: float | None = None  # None: the compiled step was not faster
    compiled_times: list[float] = field(default_factory=list)


def _case_trainer(case: BenchCase, config: RunConfig, images: torch.Tensor,
                  device: torch.device) -> Trainer:
    trainer = Trainer(config, device=device, data=TensorData(case.name, images), progress=False)
    if config.arch.family == "progan":
        from ganlab.models.progan import total_images

        trainer.images_seen = total_images(config.arch)  # final stage, alpha 1, from here on
    return trainer


def _compiled_trainer(case: BenchCase, config: RunConfig, images: torch.Tensor,
                      device: torch.device, warmup: int) -> tuple[Trainer, float, float]:
    """A Trainer with ``compile="on"`` after its compiles, and the seconds of its first
    ``warmup`` steps, cold (an empty cache) and cached (the same graphs compiled again)."""
    import torch._dynamo

    firsts = []
    with tempfile.TemporaryDirectory(prefix="ganlab-bench-inductor-") as cache:
        previous = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
        try:
            for _ in range(2):  # cold, then from the cache
                torch._dynamo.reset()
                trainer = _case_trainer(case, config.replace(train__compile="on"), images, device)
                firsts.append(_timed(lambda n, t=trainer: t.fit(t.step + n), warmup, device))
        finally:
            if previous is None:
                os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
            else:
                os.environ["TORCHINDUCTOR_CACHE_DIR"] = previous
    return trainer, firsts[0], firsts[1]


def bench_case(case: BenchCase, device: torch.device, rounds: int, round_seconds: float,
               peaks: dict[str, float], amp: str | None = None,
               num_workers: int = 2, compile: str = "off") -> CaseResult:
    """Time one case: ganlab's Trainer and the reference loop (and, with ``compile="on"``,
    the compiled Trainer), alternating, same process."""
    config = case.config if amp is None else case.config.replace(train__amp=amp)
    config = config.replace(train__compile="off")
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(case.data_size, *case.data_shape, generator=gen) * 2 - 1
    trainer = _case_trainer(case, config, images, device)
    kwargs: dict[str, Any] = {}
    if config.arch.family == "progan":
        kwargs = {"stage": config.arch.num_stages - 1, "alpha": 1.0}
    batch = trainer.phase().batch_size
    from ganlab.models import build

    torch.manual_seed(0)
    ref = ReferenceLoop(*build(config.arch), images, batch, device, kwargs, num_workers)
    warmup = 3  # steps: the compiled loop compiles in them
    compiled = None
    try:
        loops: dict[str, Callable[[int], None]] = {
            "reference": lambda n: [ref.step() for _ in range(n)],
            "ganlab": lambda n: trainer.fit(trainer.step + n),
        }
        for run in loops.values():
            run(2)  # warm-up: allocator, oneDNN/cuDNN kernel choice, DataLoader workers
        if compile == "on":
            compiled, cold, cached = _compiled_trainer(case, config, images, device, warmup)
            loops["compiled"] = lambda n: compiled.fit(compiled.step + n)
        per_step = min(_timed(run, 1, device) for run in loops.values())
        steps = max(2, min(500, round(round_seconds / max(per_step, 1e-6))))
        times: dict[str, list[float]] = {name: [] for name in loops}
        for _ in range(rounds):
            for name, run in loops.items():
                times[name].append(_timed(run, steps, device))
        flops = count_flops(trainer.train_step)
    finally:
        ref.close()
    o, r = statistics.median(times["ganlab"]), statistics.median(times["reference"])
    achieved = flops * steps / o / 1e9
    precision = hardware.precision_name(trainer.amp_dtype)
    peak = peaks["bf16"] if trainer.amp_dtype == torch.bfloat16 else peaks["fp32"]
    result = CaseResult(
        name=case.name, description=case.description, batch_size=batch, precision=precision,
        channels_last=trainer.channels_last, steps_per_round=steps, rounds=rounds,
        reference_img_per_s=batch * steps / r, ganlab_img_per_s=batch * steps / o,
        speedup=r / o, gflop_per_step=flops / 1e9, achieved_gflop_s=achieved,
        share_fp32_peak=achieved / peaks["fp32"], share_bf16_peak=achieved / peaks["bf16"],
        ceiling_speedup=(r / steps) / (flops / (peak * 1e9)),
        reference_times=times["reference"], ganlab_times=times["ganlab"])
    if compiled is not None:
        c = statistics.median(times["compiled"])
        step_c, saved = c / steps, (o - c) / steps
        result.compiled_img_per_s = batch * steps / c
        result.compiled_speedup = r / c
        result.compile_seconds = max(0.0, cold - warmup * step_c)
        result.compile_seconds_cached = max(0.0, cached - warmup * step_c)
        result.break_even_steps = result.compile_seconds / saved if saved > 0 else None
        result.compiled_times = times["compiled"]
    return result


def run_bench(quick: bool = False, device: str = "auto", amp: str | None = None,
              cases: list[str] | None = None, rounds: int | None = None,
              round_seconds: float | None = None, num_workers: int = 2,
              progress: Callable[[str], None] | None = None,
              compile: str = "off") -> dict[str, Any]:
    """Run the bench and return its report (a JSON-serialisable dict)."""
    dev = resolve_device(device)
    all_cases = standard_cases(quick)
    names = [c.name for c in all_cases]
    if cases:
        unknown = sorted(set(cases) - set(names))
        if unknown:
            raise ValueError(f"unknown bench case(s) {', '.join(unknown)}; choose from "
                             f"{', '.join(names)}")
        all_cases = [c for c in all_cases if c.name in cases]
    rounds = rounds or (1 if quick else 5)
    round_seconds = round_seconds if round_seconds is not None else (0.05 if quick else 4.0)
    say = progress or (lambda msg: None)
    n = 256 if quick else 2048
    say(f"matmul peak, {n}x{n}, fp32 and bf16 ...")
    paths = {name: matmul_paths(dtype, dev, n, 0.05 if quick else 1.0)
             for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    peaks = {name: max(rates.values()) for name, rates in paths.items()}
    results = []
    for case in all_cases:
        say(f"{case.name}: {case.description} ...")
        results.append(bench_case(case, dev, rounds, round_seconds, peaks, amp, num_workers,
                                  compile))
    return {
        "ganlab_bench": 1,
        "quick": quick,
        "device": str(dev),
        "device_name": (torch.cuda.get_device_name(dev) if dev.type == "cuda"
                        else hardware.cpu_name()),
        "cpu": hardware.cpu_summary(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "reference": f"seed 001's loop: DataLoader ({num_workers} workers), Sigmoid + BCELoss, "
                     "separate real/fake backward, .item() every step",
        "compile": compile,
        "matmul_gflop_s": peaks,
        "matmul_paths_gflop_s": paths,
        "cases": [dataclasses.asdict(r) for r in results],
    }


def ceiling(case: dict[str, Any]) -> float:
    """The speed-up at 100% of the peak of the case's precision (reports older than the field
    have what it takes: the speed-up over the share of that peak)."""
    if case.get("ceiling_speedup"):
        return case["ceiling_speedup"]
    share = case["share_bf16_peak"] if "bf16" in case["precision"] else case["share_fp32_peak"]
    return case["speedup"] / share


def _compile_line(c: dict[str, Any]) -> str:
    if c.get("compiled_img_per_s") is None:
        return ""
    be = c["break_even_steps"]
    repaid = (f"repaid after {be:,.0f} steps" if be is not None
              else "never repaid: the compiled step is not faster")
    return (f"  {c['name']}: compiled {c['compiled_img_per_s']:,.0f} im/s "
            f"({c['compiled_speedup']:.2f}x the reference, "
            f"{c['compiled_img_per_s'] / c['ganlab_img_per_s']:.2f}x eager); compile "
            f"{c['compile_seconds']:.1f} s cold, {c['compile_seconds_cached']:.1f} s from the "
            f"cache; {repaid}")


def format_report(report: dict[str, Any]) -> str:
    cpu = report["cpu"]
    peaks = report["matmul_gflop_s"]
    units = ", ".join(cpu["bf16_units"]) or "none (bf16 is emulated)"
    lines = [
        f"device: {report['device']} ({report['device_name']}), torch {report['torch']}",
        f"cpu: {cpu['name']}, {cpu['architecture']}, vector ISA {cpu['capability']}, "
        f"{cpu['threads']} threads, bf16 units: {units}",
        f"matmul peak: fp32 {peaks['fp32']:,.0f} GFLOP/s, bf16 {peaks['bf16']:,.0f} GFLOP/s "
        f"(best of {_paths(report)})",
        f"reference: {report['reference']}",
        "",
        f"{'case':10s} {'precision':>13s} {'reference':>11s} {'ganlab':>10s} {'speed-up':>8s} "
        f"{'ceiling':>7s} {'GFLOP/step':>10s} {'GFLOP/s':>8s} {'fp32 peak':>9s} "
        f"{'bf16 peak':>9s}",
    ]
    for c in report["cases"]:
        lines.append(
            f"{c['name']:10s} {c['precision']:>13s} {c['reference_img_per_s']:>7,.0f} im/s "
            f"{c['ganlab_img_per_s']:>6,.0f} im/s {c['speedup']:>7.2f}x {ceiling(c):>6.2f}x "
            f"{c['gflop_per_step']:>10.2f} {c['achieved_gflop_s']:>8.1f} "
            f"{100 * c['share_fp32_peak']:>8.0f}% {100 * c['share_bf16_peak']:>8.0f}%")
    lines.append("")
    lines.append("ceiling: the speed-up at 100% of the precision's matmul peak (the same FLOPs)")
    lines += [f"  {c['name']}: {c['description']}; {c['rounds']} rounds of "
              f"{c['steps_per_round']} steps, medians" for c in report["cases"]]
    compiled = [_compile_line(c) for c in report["cases"] if _compile_line(c)]
    if compiled:
        lines += ["", "torch.compile (train.compile='on'), in the same rounds:", *compiled]
    return "\n".join(lines)


def format_markdown(report: dict[str, Any], command: str) -> str:
    """The report as the README's Markdown table: the machine named, the command, one row a case."""
    cpu, peaks = report["cpu"], report["matmul_gflop_s"]
    units = ", ".join(cpu["bf16_units"]) or "no bf16 units"
    machine = (report["device_name"] if report["device"].startswith("cuda") else
               f"{cpu['name']} ({cpu['architecture']}, {cpu['capability']}, {units}, "
               f"{cpu['threads']} threads)")
    compiled = any(c.get("compiled_img_per_s") is not None for c in report["cases"])
    head = ("| case | precision | seed-001 loop | ganlab | speed-up | ceiling | GFLOP/s "
            "| of fp32 peak | of bf16 peak |")
    rule = "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    if compiled:
        head += " compiled | compile (cold / cached) | break-even |"
        rule += " ---: | ---: | ---: |"
    lines = [
        f"`{command}` on {machine}, torch {report['torch']}; matmul peak fp32 "
        f"{peaks['fp32']:,.0f} GFLOP/s, bf16 {peaks['bf16']:,.0f} GFLOP/s.",
        "",
        head,
        rule,
    ]
    for c in report["cases"]:
        row = (f"| {c['description']} | {c['precision']} | {c['reference_img_per_s']:,.0f} img/s "
               f"| {c['ganlab_img_per_s']:,.0f} img/s | {c['speedup']:.2f}x "
               f"| {ceiling(c):.2f}x | {c['achieved_gflop_s']:,.0f} "
               f"| {100 * c['share_fp32_peak']:.0f}% | {100 * c['share_bf16_peak']:.0f}% |")
        if compiled and c.get("compiled_img_per_s") is not None:
            be = c["break_even_steps"]
            row += (f" {c['compiled_img_per_s']:,.0f} img/s ({c['compiled_speedup']:.2f}x) "
                    f"| {c['compile_seconds']:.0f} s / {c['compile_seconds_cached']:.0f} s "
                    f"| {'never' if be is None else f'{be:,.0f} steps'} |")
        elif compiled:
            row += " | | |"
        lines.append(row)
    return "\n".join(lines)


def _paths(report: dict[str, Any]) -> str:
    paths = report.get("matmul_paths_gflop_s", {})
    return "; ".join(f"{k}: " + ", ".join(f"{p} {v:,.0f}" for p, v in rates.items())
                     for k, rates in paths.items())


def main(quick: bool = False, json_path: str | Path | None = None, **kwargs: Any) -> dict:
    """``ganlab bench``: print the table (progress to stderr), optionally write the JSON."""
    report = run_bench(quick=quick, progress=lambda m: print(m, file=sys.stderr, flush=True),
                       **kwargs)
    print(format_report(report))
    if json_path is not None:
        from ganlab.files import atomic_write_bytes

        atomic_write_bytes(json_path, json.dumps(report, indent=2).encode())
        print(f"wrote {json_path}", file=sys.stderr)
    return report
