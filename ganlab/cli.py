"""Command line: ``ganlab train | sample | info | eval | bench | doctor`` (or ``python -m
ganlab``).

A thin wrapper over the Python API: every option maps to a field of ``ganlab.config`` or an
argument of ``ganlab.training.Trainer``. Errors a user can fix (bad options, a damaged run, a full
disk, missing data) are printed as one clear line (exit status 2), not as a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ganlab.config import COMPILE_MODES, LOSSES
from ganlab.profiles import PROFILES

TRAINABLE = ("vanilla", "dcgan", "lsgan", "progan", "r3gan")

EPILOG = """examples:
  ganlab train dcgan --data shapes --steps 1500 --out runs/dcgan
  ganlab train dcgan --steps 3000 --out runs/dcgan --resume     # continue to 3000 steps
  ganlab train lsgan --data ring8 --steps 3000 --out runs/ring
  ganlab train progan --data shapes --resolution 32 --out runs/progan --gif
  ganlab train r3gan --data shapes --set loss.r1_weight=0.1 --set loss.r2_weight=0.1 --out runs/r3
  ganlab sample runs/dcgan --n 64 --seed 0 --out grid.png
  ganlab sample pretrained:dcgan_shapes64 --n 1000 --out samples.npz   # raw uint8 images
  ganlab info runs/dcgan
  ganlab eval runs/dcgan --n 1000 --json scores.json            # FD, KID, density, SWD, ...
  ganlab eval pretrained:progan_shapes32
  ganlab bench --json bench.json                                # training speed on this machine
  ganlab doctor                                                 # is this machine ready? fixes
  torchrun --nproc_per_node=4 -m ganlab train dcgan --out runs/dcgan4   # 4 GPUs, one machine
"""

RESUME_HELP = """\
Train a GAN. --steps is the run's total number of steps; with --resume an existing run continues
until it has done that many.

with --resume the run keeps the settings it was started with:
  extended:       --steps (the new total; the one option that makes a run longer)
  applied, and said in one line when they differ from the run's:
                  --amp (precision of the remaining steps, e.g. --amp off after a NaN),
                  --compile (whether the remaining steps run compiled),
                  --data-root, --download (where the data is, whether it may be fetched)
  this session only: --device, --gif, --no-progress
  refused with an error naming the option, unless they repeat the run's own values:
                  --data, --profile, --resolution, --loss, --batch-size, --seed, --sync-bn,
                  --lr-g, --lr-d, --ema, --augment, --set
                  (they define the run: start a new one with another --out instead)
"""

# Options that define a run: with --resume, each must repeat the run's value. The fields each one
# decides; None (--profile) means every field no other option decides (widths, rates, sizes).
DEFINING = {"data": ("data.name",), "seed": ("train.seed",), "batch_size": ("train.batch_size",),
            "loss": ("loss.name",), "sync_bn": ("train.sync_bn",), "lr_g": ("train.lr_g",),
            "lr_d": ("train.lr_d",), "ema": ("train.ema",), "augment": ("train.augment",),
            "resolution": ("arch.resolution", "arch.data_shape", "data.resolution"),
            "set": (),  # the fields it names
            "profile": None}
MAX_SAMPLES = 10_000  # in one PNG grid
MAX_RAW_SAMPLES = 100_000  # in one .npz
PRETRAINED_PREFIX = "pretrained:"


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {n}")
    return n


def _bounded_float(what: str, example: str, interval: str,
                   ok: Callable[[float], bool]) -> Callable[[str], float]:
    """An argparse type: a float for which ``ok`` holds, else a message naming ``what``."""
    def parse(value: str) -> float:
        try:
            x = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} such as {example}, got "
                                             f"{value!r}") from None
        if not ok(x):  # NaN fails every comparison
            raise argparse.ArgumentTypeError(f"{what} must lie in {interval}, got {value}")
        return x
    return parse


_learning_rate = _bounded_float("a learning rate", "2e-4", "(0, 1)", lambda x: 0.0 < x < 1.0)
_ema_decay = _bounded_float("an EMA decay", "0.999", "[0, 1) (0: off)", lambda x: 0.0 <= x < 1.0)


def _augment_policy(value: str) -> str:
    """An argparse type: a DiffAugment policy such as ``translation,cutout``; ``none`` -> ''."""
    from ganlab.config import parse_augment_policy

    if value.strip().lower() == "none":
        return ""
    try:
        return ",".join(parse_augment_policy(value))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _setting(value: str) -> tuple[str, object]:
    """An argparse type: ``SECTION.FIELD=VALUE`` (see ganlab.config.parse_setting)."""
    from ganlab.config import parse_setting

    try:
        return parse_setting(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _non_negative(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganlab", description="Train and sample the GANs of the ganlab course.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="{train,sample,info,eval,bench,doctor}")

    t = sub.add_parser("train", help="train a model (or resume a run)", description=RESUME_HELP,
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("model", choices=TRAINABLE, help="which GAN to train")
    t.add_argument("--data", help="digits, shapes, ring8, grid25, mnist, fashion-mnist, cifar10, "
                   "celeba or folder:PATH (default: the profile's data set for the model)")
    t.add_argument("--steps", type=_positive, help="total training steps (default: the preset's)")
    t.add_argument("--out", required=True, type=Path, help="run directory to create or resume")
    t.add_argument("--profile", choices=PROFILES, help="preset size (default: $GANLAB_PROFILE "
                   "or 'default')")
    t.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1")
    t.add_argument("--resume", action="store_true", help="continue the run in --out (see above "
                   "for what the other options do then)")
    t.add_argument("--seed", type=_non_negative, help="random seed (default 0)")
    t.add_argument("--batch-size", type=_positive, help="override the preset's batch size")
    t.add_argument("--lr-g", type=_learning_rate, help="G's Adam learning rate (default: the "
                   "preset's)")
    t.add_argument("--lr-d", type=_learning_rate, help="D's Adam learning rate (default: the "
                   "preset's)")
    t.add_argument("--ema", type=_ema_decay, help="decay of the moving average of G's weights "
                   "that samples come from, in [0, 1); 0 turns it off (default: the preset's)")
    t.add_argument("--augment", type=_augment_policy, metavar="POLICY",
                   help="DiffAugment for everything D sees, e.g. translation,cutout (choose from "
                   "translation, cutout, color); 'none' turns it off (default: the preset's)")
    t.add_argument("--resolution", type=_positive, help="image resolution (dcgan/lsgan: 16, 32, "
                   "64; progan: the target, a power of two; r3gan: a power of two)")
    t.add_argument("--loss", choices=LOSSES, help="override the model's loss (R1/R2 penalties "
                   "for any loss: --set loss.r1_weight=GAMMA --set loss.r2_weight=GAMMA)")
    t.add_argument("--set", type=_setting, action="append", metavar="SECTION.FIELD=VALUE",
                   help="set any config field the options above do not, e.g. --set "
                        "arch.max_channels=64 --set arch.images_per_stable=32000 (repeatable; "
                        "sections arch, data, loss, train; `ganlab info RUN` lists the fields)")
    t.add_argument("--amp", choices=("auto", "off", "bf16", "fp16"),
                   help="mixed precision: auto (the default: bf16 where the CPU or GPU has it), "
                   "off, bf16, fp16")
    t.add_argument("--compile", choices=COMPILE_MODES,
                   help="torch.compile G's and D's training passes: auto (the default: only where "
                   "it was measured to repay its compile time within the run), on, off")
    t.add_argument("--sync-bn", action="store_true", default=None,
                   help="under torchrun on GPUs: BatchNorm statistics over the global batch "
                   "(torch.nn.SyncBatchNorm), not per process")
    t.add_argument("--download", action="store_true", help="allow downloading real data sets "
                   "(the full profile allows it by default)")
    t.add_argument("--data-root", help="where real data sets live (default data/)")
    t.add_argument("--gif", action="store_true", help="also write progress.gif of the samples")
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    s = sub.add_parser("sample", help="write samples of a run or a shipped generator: a PNG grid "
                       "or the raw images (.npz)")
    s.add_argument("source", metavar="SOURCE",
                   help="a run directory, or pretrained:NAME for a generator shipped with ganlab "
                   "(pretrained:dcgan_shapes64, ...)")
    s.add_argument("--n", type=_positive, default=64,
                   help=f"number of samples (default 64; at most {MAX_SAMPLES} in a grid, "
                   f"{MAX_RAW_SAMPLES} in an .npz)")
    s.add_argument("--seed", type=_non_negative, default=0, help="latent seed (default 0)")
    s.add_argument("--out", type=Path, default=Path("grid.png"),
                   help="FILE.png: a grid of the samples; FILE.npz: the samples themselves, key "
                   "'images', uint8 of shape (N, H, W, C)")
    s.add_argument("--device", default="cpu", help="device to sample on (default cpu)")
    s.add_argument("--no-ema", action="store_true", help="use G's raw weights, not the EMA")

    b = sub.add_parser("bench", help="training speed against seed 001's loop and the peak",
                       description="Train every model at a standard size with ganlab's Trainer "
                       "and with seed 001's reference loop, alternating in one process; print "
                       "images per second, the speed-up, the precision path, and the achieved "
                       "GFLOP/s against this machine's fp32 and bf16 matrix-multiply peaks. "
                       "Run it on an idle machine: other work on the same cores skews it.")
    b.add_argument("--quick", action="store_true", help="tiny sizes, one short round (seconds)")
    b.add_argument("--json", type=Path, metavar="FILE", help="also write the report as JSON")
    b.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda")
    b.add_argument("--amp", choices=("auto", "off", "bf16", "fp16"),
                   help="ganlab's precision (default: auto, what training uses)")
    b.add_argument("--cases", nargs="+", metavar="CASE", help="only these cases (dcgan64, "
                   "progan32, progan64, vanilla28, vanilla2d)")
    b.add_argument("--rounds", type=_positive, help="alternating rounds (default 5; quick 1)")
    b.add_argument("--compile", choices=("off", "on"), default="off",
                   help="on: also time ganlab with torch.compile (a third loop in the same "
                   "rounds) and report its compile time, cold and from the cache, and the steps "
                   "it takes to repay it (default off)")

    i = sub.add_parser("info", help="show a run's config and progress")
    i.add_argument("run_dir", type=Path)
    i.add_argument("--json", action="store_true", help="print machine-readable JSON")

    e = sub.add_parser("eval", help="score a generator against its training set",
                       description=EVAL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("source", help="a run directory, or pretrained:NAME for a shipped generator")
    e.add_argument("--n", type=_positive, help="samples per set (default: 1000, or half the "
                   "training set when it is smaller)")
    e.add_argument("--seed", type=_non_negative, default=0, help="latent seed of the samples; "
                   "also seeds KID's subsets and SWD's patches (default 0)")
    e.add_argument("--json", type=Path, metavar="FILE", help="also write the result as JSON "
                   "('-' prints it instead of the table)")
    e.add_argument("--device", default="cpu", help="device to sample on (default cpu)")
    d = sub.add_parser("doctor", help="check this machine for the course; a fix per problem",
                       description="Check Python, torch and CUDA, the CPU's bf16 support, the "
                       "ipywidgets front end (blank widgets), the real data sets on disk and the "
                       "shipped generators. Prints a fix for every problem; exit status 0 when "
                       "all is well, 1 otherwise.")
    d.add_argument("--data-root", default="data", help="where real data sets live (default data/)")
    d.add_argument("--json", action="store_true", help="print machine-readable JSON")
    return parser


EVAL_HELP = """\
Score a generator's samples against its training set: how many the data set's judge recognises,
as a share of its score on held-out real data (recognised, of_real); Fréchet distance, KID and
density/coverage in the feature space of the same judge (ganlab.metrics; no download),
ProGAN's sliced Wasserstein distance on image patches (16x16 and up), a data-copying test, and
mode coverage for the 2-D mixtures. Beside each score: its real-data floor, the same metric for
a disjoint half of the real data, i.e. what a perfect generator would get with this many
samples. The last line is the protocol (sample count, reference split, feature network and
weights hash, resize, seed): compare numbers only between results with the same protocol.

data sets with a judge: shapes (shape judge), mnist-5k (digit judge); 2-D points: ring8, grid25
"""


def config_from_args(args: argparse.Namespace):  # noqa: ANN201 - a ganlab.config.RunConfig
    """The RunConfig that ``ganlab train`` builds for a new run from its parsed arguments."""
    import dataclasses

    from ganlab.presets import preset

    overrides: dict[str, object] = {}
    if args.seed is not None:
        overrides["train__seed"] = args.seed
    if args.batch_size:
        overrides["train__batch_size"] = args.batch_size
    if args.steps:
        overrides["train__steps"] = args.steps
    if args.amp:
        overrides["train__amp"] = args.amp
    if args.compile:
        overrides["train__compile"] = args.compile
    if args.loss:
        overrides["loss__name"] = args.loss
    for name in ("lr_g", "lr_d", "ema", "augment"):
        if getattr(args, name, None) is not None:
            overrides[f"train__{name}"] = getattr(args, name)
    if getattr(args, "sync_bn", False):
        overrides["train__sync_bn"] = True
    config = preset(args.model, args.data, profile=args.profile, **overrides)
    # The full profile's presets may download; elsewhere only an explicit --download does.
    data_changes = {"root": args.data_root or "data",
                    "download": args.download or config.data.download}
    if args.resolution:
        config = config.replace(arch=dataclasses.replace(config.arch,
                                                         **_resolution_field(config, args)))
        data_changes["resolution"] = args.resolution
    config = config.replace(**{f"data__{k}": v for k, v in data_changes.items()})
    if getattr(args, "set", None):
        from ganlab.config import apply_settings

        config = apply_settings(config, dict(args.set))
    if config.model == "progan" and not args.steps:
        from ganlab.models.progan import steps_for_schedule

        # A ProGAN run lasts as long as its growth schedule, which --resolution and --set change.
        config = config.replace(train__steps=steps_for_schedule(config.arch))
    return config


def _train(args: argparse.Namespace) -> int:
    from ganlab import checkpoint as ckpt
    from ganlab.training import Trainer

    if args.resume:
        if not (args.out / ckpt.CONFIG_NAME).exists():
            raise ValueError(f"nothing to resume: {args.out} is not a ganlab run directory "
                             "(no config.json)")
        config = _resumed_config(args, ckpt.read_config(args.out))
    else:
        config = config_from_args(args)
    trainer = None
    try:
        # The Trainer holds the run directory's lock until close(): another process that
        # wants it gets a RunDirBusyError naming this one.
        trainer = Trainer(config, out_dir=args.out, device=args.device, resume=args.resume,
                          progress=not args.no_progress)
        main = trainer.dist.is_main
        if main:
            dist = trainer.dist
            world = ""
            if dist.enabled:
                batch = trainer.phase().batch_size
                world = (f", {dist.world_size} processes ({dist.backend}): batch {batch} global "
                         f"= {dist.local_batch(batch)} per device")
            print(f"training {config.model} on {config.data.name} ({trainer.device}{world}) "
                  f"to {config.train.steps} steps in {args.out}", file=sys.stderr)
        trainer.fit(config.train.steps)
        if args.gif and trainer.samples:
            from ganlab.viz import save_gif

            save_gif([x for _, _, x in trainer.samples], args.out / "progress.gif")
    finally:
        from ganlab.distributed import shutdown

        if trainer is not None:
            trainer.close()
        shutdown()
    last = trainer.history[-1] if trainer.history else {}
    if main:
        print(f"done: step {trainer.step}, images seen {trainer.images_seen}, "
              + ", ".join(f"{k} {last[k]:.3f}" for k in ("loss_D", "loss_G") if k in last),
              file=sys.stderr)
    return 130 if trainer.interrupted else 0


def _resumed_config(args: argparse.Namespace, saved):  # noqa: ANN001, ANN202 - RunConfigs
    """The saved run's config with --steps, --amp, --data-root, --download applied; the options
    that define a run must repeat its values (ResumeConflictError names those that do not)."""
    import copy

    from ganlab.training.rundir import ResumeConflictError, resume_changes

    if saved.model != args.model:
        raise ResumeConflictError(f"{args.out} holds a {saved.model} run, not {args.model}; "
                                  f"resume it with ganlab train {saved.model} --resume")
    given = {name: getattr(args, name) for name in DEFINING if getattr(args, name) is not None}
    if given:
        # The config a new run with these options would get, compared field by field.
        fresh_args = copy.copy(args)
        fresh_args.data = args.data or saved.data.name
        fresh_args.steps, fresh_args.amp, fresh_args.compile = None, None, None
        # What a resume may change is decided in ganlab.training.rundir, for the API and here.
        _, refused = resume_changes(saved, config_from_args(fresh_args))
        changed = {f: (old, new) for f, old, new in refused}
        named = [key.replace("__", ".") for key, _ in args.set or ()]
        owned = {f for fields in DEFINING.values() if fields for f in fields} | set(named)
        conflicts = []
        for name, value in given.items():
            if name == "set":
                fields = named
                value = " --set ".join(f"{f}={v!r}" for f, (_, v) in zip(named, args.set))
            else:
                fields = DEFINING[name] or [f for f in changed if f not in owned]
            diffs = [f"{f} {changed[f][0]!r} -> {changed[f][1]!r}" for f in fields if f in changed]
            if diffs:
                option = "--" + name.replace("_", "-")
                conflicts.append(f"{option} {value} ({', '.join(diffs[:3])})")
        if conflicts:
            raise ResumeConflictError(
                f"cannot resume {args.out} with {'; '.join(conflicts)}: these options define a "
                "run, and a resumed run keeps its own. Drop them to continue the run, or start a "
                "new one with another --out"
            )
    changes: dict[str, object] = {}
    if args.steps:
        changes["train__steps"] = args.steps
    if args.amp:
        changes["train__amp"] = args.amp
    if args.compile:
        changes["train__compile"] = args.compile
    if args.data_root is not None:
        changes["data__root"] = args.data_root
    if args.download:
        changes["data__download"] = True
    return saved.replace(**changes)


def _resolution_field(config, args: argparse.Namespace) -> dict[str, object]:  # noqa: ANN001
    if config.arch.family == "mlp":
        shape = tuple(config.arch.data_shape)
        if len(shape) != 3:
            raise ValueError("--resolution does not apply to 2-D point data sets")
        return {"data_shape": (shape[0], args.resolution, args.resolution)}
    return {"resolution": args.resolution}


def _sample(args: argparse.Namespace) -> int:
    import errno
    import io

    import numpy as np
    import torch

    from ganlab.files import atomic_write_bytes, storage_error
    from ganlab.training import resolve_device, sample_z
    from ganlab.viz import save_png, to_uint8

    if args.out.is_dir():
        raise storage_error(IsADirectoryError(errno.EISDIR, "Is a directory"), args.out, "write")
    kind = args.out.suffix.lower()
    if kind not in (".png", ".npz"):
        raise ValueError(f"--out {args.out} must name a .png file (a grid of the samples) or an "
                         ".npz file (the raw samples)")
    limit = MAX_SAMPLES if kind == ".png" else MAX_RAW_SAMPLES
    if args.n > limit:
        raise ValueError(f"--n {args.n} is more samples than one {kind} file holds here; use at "
                         f"most {limit}" + (" (or write an .npz)" if kind == ".png" else ""))
    device = resolve_device(args.device)
    G, config = load_generator(args.source, device=device, ema=not args.no_ema)
    if len(config.arch.image_shape) != 3:
        raise ValueError(f"{args.source} generates 2-D points, not images; plot them instead")
    z = sample_z(args.n, config.arch.latent_dim, seed=args.seed)  # the same z on every device
    chunks = []
    with torch.inference_mode():
        for b in z.split(500):
            x = G(b.to(device)).float().cpu()  # (b, C, H, W) in [-1, 1]
            chunks.append(x if kind == ".png" else to_uint8(x).permute(0, 2, 3, 1))
    if kind == ".png":
        save_png(torch.cat(chunks), args.out)
    else:
        raw = torch.cat(chunks).contiguous().numpy()  # (N, H, W, C) uint8
        buffer = io.BytesIO()
        np.savez_compressed(buffer, images=raw)
        atomic_write_bytes(args.out, buffer.getvalue())
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def load_generator(source: str, device: str = "cpu", ema: bool = True):  # noqa: ANN201
    """``(G, config)`` for ``ganlab sample``'s SOURCE: a run directory or ``pretrained:NAME``.

    G is in eval mode; for a run, its EMA copy when the run kept one and ``ema``.
    """
    source = str(source)
    if source.startswith(PRETRAINED_PREFIX):
        from ganlab.pretrained import load_pretrained, pretrained_names

        name = source[len(PRETRAINED_PREFIX):]
        names = pretrained_names()
        if name not in names:
            raise ValueError(f"no pretrained generator {name!r}; choose one of "
                             f"{', '.join(PRETRAINED_PREFIX + n for n in names) or 'none'}, or "
                             "give a run directory")
        p = load_pretrained(name, device=device)
        return p.G.eval(), p.config
    from ganlab.training import load_run

    run = load_run(source, device=device, ema=ema)
    return run.G.eval(), run.config


def _info(args: argparse.Namespace) -> int:
    from ganlab import checkpoint as ckpt

    config = ckpt.read_config(args.run_dir)
    info: dict[str, object] = {"config": config.to_dict(), "checkpoint": None}
    if (args.run_dir / ckpt.CHECKPOINT_NAME).exists():
        path = args.run_dir / ckpt.CHECKPOINT_NAME
        state = ckpt.load_checkpoint(path)
        ckpt.require(state, ("step", "images_seen", "history"), path)
        last = state["history"][-1] if state["history"] else {}
        info["checkpoint"] = {"step": state["step"], "images_seen": state["images_seen"],
                              "seconds": round(state.get("elapsed", 0.0), 1), "last_log": last,
                              "world_size": int(state.get("world_size", 1)),
                              "batch": state.get("batch")}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"run:      {args.run_dir}")
    print(f"model:    {config.model} ({config.arch.family}), loss {config.loss.name}")
    print(f"data:     {config.data.name}, examples of shape {tuple(config.arch.image_shape)}")
    print(f"target:   {config.train.steps} steps, batch {config.train.batch_size}")
    c = info["checkpoint"]
    if c is None:
        print("progress: no checkpoint yet")
    else:
        print(f"progress: step {c['step']}, {c['images_seen']} images seen, {c['seconds']} s")
        batch = c["batch"] or {}
        split = (f", batch {batch['global']} global = {batch['per_device']} per device"
                 if batch else "")
        print(f"world:    {c['world_size']} process(es){split}")
        if c["last_log"]:
            print("last log: " + ", ".join(f"{k} {v:.4g}" for k, v in c["last_log"].items()))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from ganlab.evaluation import evaluate_source

    print(f"evaluating {args.source} (a judge network is trained first where needed, about a "
          "minute)", file=sys.stderr)
    result = evaluate_source(args.source, n=args.n, seed=args.seed, device=args.device)
    report = {"source": str(args.source), **result.to_dict()}
    if args.json is not None and str(args.json) == "-":
        print(json.dumps(report, indent=2))
        return 0
    print(result.table())
    if args.json is not None:
        from ganlab.files import atomic_write_bytes

        atomic_write_bytes(args.json, json.dumps(report, indent=2).encode())
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from ganlab import bench

    bench.main(quick=args.quick, json_path=args.json, device=args.device, amp=args.amp,
               cases=args.cases, rounds=args.rounds, compile=args.compile)
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from ganlab import doctor

    return doctor.main(data_root=args.data_root, as_json=args.json)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = {"train": _train, "sample": _sample, "info": _info, "eval": _eval,
               "bench": _bench, "doctor": _doctor}[args.command]
    from ganlab.checkpoint import CheckpointError, StorageError, storage_error
    from ganlab.training import TrainingDiverged

    try:
        return handler(args)
    except (ValueError, CheckpointError, TrainingDiverged) as err:
        message = str(err)
    except OSError as err:  # StorageError, DataNotFoundError; any other with its path and advice
        plain = isinstance(err, StorageError) or err.errno is None
        message = str(err) if plain else str(storage_error(err, err.filename or "a file", "use"))
    except (MemoryError, RuntimeError) as err:
        text = str(err)
        if not isinstance(err, MemoryError) and not ("out of memory" in text.lower()
                                                     or "can't allocate memory" in text):
            raise
        message = ("out of memory: try a smaller --batch-size, --resolution or --n, or a device "
                   "with more memory")
    except KeyboardInterrupt:
        print(f"ganlab {args.command}: interrupted", file=sys.stderr)
        return 130
    print(f"ganlab {args.command}: error: {' '.join(message.split())}", file=sys.stderr)
    return 2
