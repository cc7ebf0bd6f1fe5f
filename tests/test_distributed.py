"""Tests for ganlab.distributed: data-parallel training under torchrun, on the CPU with gloo.

Two torchrun launches of two processes each serve every test below (35 to 75 s measured on 2
cores shared with other jobs, most of it six Python processes importing torch):
``tests/distributed_worker.py`` trains a tiny DCGAN (with reuse_fakes), ProGAN and vanilla GAN
four steps and saves what each rank saw and ended with, stops a run with a Ctrl-C that reaches
one rank, and trains the CLI's tiny DCGAN for 4 steps and for 2; then ``torchrun -m ganlab
train ... --resume`` continues the 2-step run to 4.

Against a single process with the same global batch the runs agree to float rounding, not bit
for bit: DDP averages two per-rank gradients (each a mean over 8 images) where one process takes
one mean over 16, so sums are taken in another order; Adam then carries differences of a few
ulps. Measured: at most 2.4e-7 after 4 steps, hence ``rtol=1e-5, atol=1e-6``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganlab import checkpoint as ckpt
from ganlab import cli, distributed
from ganlab.config import DCGANConfig
from ganlab.data import TensorData, load_config
from ganlab.layers import MinibatchStdDev
from ganlab.models import build
from ganlab.presets import preset
from ganlab.training import Trainer, load_run
from ganlab.training.devices import check_batches, sync_batchnorm
from ganlab.training.rundir import LOCK_NAME

sys.path.insert(0, str(Path(__file__).parent))
from distributed_worker import STEPS, configs, tensors  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORLD = 2
TIMEOUT = 300  # seconds per launch: a hang fails the test instead of blocking CI
CLI_RUN = ["train", "dcgan", "--profile", "tiny", "--steps", "4", "--batch-size", "16",
           "--device", "cpu", "--no-progress"]
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}


def torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    """``torchrun --standalone --nproc_per_node=2 ARGS`` (standalone picks a free port)."""
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    for name in distributed.ENV_VARS:
        env.pop(name, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={WORLD}", *args]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("ddp")
    torchrun(str(ROOT / "tests" / "distributed_worker.py"), str(out), "--cli", *CLI_RUN)
    resumed = torchrun("-m", "ganlab", *CLI_RUN, "--out", str(out / "half"), "--resume")
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    return {"out": out, "ranks": ranks, "resume_stderr": resumed.stderr}


# ---------------------------------------------------------------- torchrun's environment
def test_from_env_reads_torchrun_variables() -> None:
    assert distributed.from_env({}) is None
    assert distributed.from_env({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4"}) == (3, 1, 4)
    with pytest.raises(ValueError, match="not LOCAL_RANK, WORLD_SIZE"):
        distributed.from_env({"RANK": "0"})
    with pytest.raises(ValueError, match="inconsistent"):
        distributed.from_env({"RANK": "4", "LOCAL_RANK": "0", "WORLD_SIZE": "4"})
    with pytest.raises(ValueError, match="integers"):
        distributed.from_env({"RANK": "a", "LOCAL_RANK": "0", "WORLD_SIZE": "4"})


def test_a_plain_process_is_world_size_one(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in distributed.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    d = distributed.setup(torch.device("cpu"))
    assert (d.enabled, d.is_main, d.rank, d.world_size) == (False, True, 0, 1)
    module = nn.Linear(2, 2)
    data = TensorData("x", torch.zeros(5, 2))
    assert d.wrap(module) is module and d.shard(data) is data
    assert d.any(True, False) == (True, False) and d.gather("a") == ["a"]
    assert d.local_batch(7) == 7


def test_batches_must_split_evenly_over_the_ranks() -> None:
    four = distributed.Distributed(torch.device("cpu"), world_size=4)
    assert four.local_batch(16) == 4
    with pytest.raises(ValueError, match="does not split evenly over 4 processes"):
        four.local_batch(18)
    # ProGAN: the minibatch stddev groups (4) are formed in each rank's slice (12 / 2 = 6).
    progan = preset("progan", profile="tiny")  # batch 8: 4 per rank, one group each
    check_batches(progan, distributed.Distributed(torch.device("cpu"), world_size=2))
    bad = progan.replace(arch=dataclasses.replace(progan.arch, batch_sizes=(12,)))
    with pytest.raises(ValueError, match="per-device batch at stage 0 is 6"):
        check_batches(bad, distributed.Distributed(torch.device("cpu"), world_size=2))


def test_sync_batchnorm_option() -> None:
    args = cli.build_parser().parse_args(["train", "dcgan", "--out", "x", "--sync-bn"])
    assert cli.config_from_args(args).train.sync_bn is True
    G, D = build(DCGANConfig(resolution=16, g_width=4, d_width=4))
    keys = list(G.state_dict()), list(D.state_dict())
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in [*G.modules(), *D.modules()])
    with pytest.raises(ValueError, match="needs GPUs"):
        sync_batchnorm(G, D, torch.device("cpu"))
    # The conversion itself (done for CUDA) keeps the state_dict keys: checkpoints interchange.
    G, D = sync_batchnorm(G, D, torch.device("cuda"))
    assert sum(isinstance(m, nn.SyncBatchNorm) for m in [*G.modules(), *D.modules()]) == n_bn
    assert (list(G.state_dict()), list(D.state_dict())) == keys


def test_sync_bn_cannot_be_switched_on_when_resuming(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run = ["train", "dcgan", "--profile", "tiny", "--out", str(tmp_path / "run"), "--device",
           "cpu", "--no-progress"]
    assert cli.main([*run, "--steps", "1"]) == 0
    assert cli.main([*run, "--steps", "2", "--resume", "--sync-bn"]) == 2
    assert "--sync-bn" in capsys.readouterr().err


# ---------------------------------------------------------------- two processes
@pytest.mark.parametrize("model", ["dcgan", "progan", "vanilla"])
def test_ranks_are_identical_after_every_step(runs: dict[str, Any], model: str) -> None:
    rank0, rank1 = (r[model] for r in runs["ranks"])
    assert rank0["world_size"] == WORLD
    assert rank0["logged"] == rank1["logged"] == 0.5  # the mean of 0 and 1
    for step, (a, b) in enumerate(zip(rank0["states"], rank1["states"])):
        assert a.keys() == b.keys()
        for key in a:  # weights, BatchNorm buffers, EMA and Adam moments, bit for bit
            assert torch.equal(a[key], b[key]), f"{model}: {key} differs after step {step}"


@pytest.mark.parametrize("model", ["dcgan", "progan", "vanilla"])
def test_each_rank_has_its_own_data_shard_and_random_stream(runs: dict[str, Any],
                                                            model: str) -> None:
    rank0, rank1 = (r[model] for r in runs["ranks"])
    config = configs()[model]
    full = load_config(config.data).data
    assert torch.equal(rank0["shard"], full[0::2]) and torch.equal(rank1["shard"], full[1::2])
    global_batch = config.arch.batch_size_at(0) if model == "progan" else config.train.batch_size
    assert rank0["reals"][0].shape[0] == global_batch // WORLD
    # images seen counts the global batch (ProGAN's schedule runs on it)
    assert rank0["images_seen"] == rank1["images_seen"] == STEPS * global_batch
    for a, b in zip(rank0["draws"][0], rank1["draws"][0]):  # z (and GP weights): seed + rank
        assert not torch.equal(a, b)
    assert not torch.equal(rank0["reals"][0], rank1["reals"][0])


class PerRankBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm over each rank's half of the batch separately, as DDP without SyncBatchNorm.

    Rank 0's half alone updates the running statistics: DDP keeps (broadcasts) rank 0's.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        first, *rest = x.chunk(WORLD)
        return torch.cat([super().forward(first)] + [
            F.batch_norm(c, None, None, self.weight, self.bias, True, 0.0, self.eps) for c in rest
        ])


class PerRankMinibatchStdDev(MinibatchStdDev):
    """Minibatch stddev groups formed within each rank's half, as in the official code."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([super(PerRankMinibatchStdDev, self).forward(c)
                          for c in x.chunk(WORLD)])


class Replay:
    """``torch.randn``/``torch.rand`` return the ranks' recorded draws, concatenated."""

    def __init__(self, draws: list[torch.Tensor]) -> None:
        self.draws = list(draws)

    def _next(self, *size: Any, **kwargs: Any) -> torch.Tensor:
        out = self.draws.pop(0)
        shape = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else size
        assert out.shape == shape, f"replayed draw of shape {tuple(out.shape)} for {shape}"
        return out

    def __enter__(self) -> Replay:
        self._saved = torch.randn, torch.rand
        torch.randn = torch.rand = self._next  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: Any) -> None:
        torch.randn, torch.rand = self._saved
        assert not self.draws, "the single process drew fewer random tensors than the ranks"


def single_process(model: str, ranks: list[dict[str, Any]], per_rank: bool) -> list[dict]:
    """One process, the same config (so the same global batch), fed the ranks' inputs."""
    trainer = Trainer(configs()[model], device="cpu", progress=False)
    if per_rank:  # swap the classes in place: same parameters, same state_dict keys
        for m in [*trainer.G.modules(), *trainer.D.modules()]:
            if type(m) is nn.BatchNorm2d:
                m.__class__ = PerRankBatchNorm2d
            elif type(m) is MinibatchStdDev:
                m.__class__ = PerRankMinibatchStdDev
    reals = iter([torch.cat(batches) for batches in zip(*(r[model]["reals"] for r in ranks))])
    trainer.real_batch = lambda phase: next(reals)  # type: ignore[method-assign]
    states = [tensors(trainer)]
    for step in range(STEPS):
        draws = [torch.cat(d) for d in zip(*(r[model]["draws"][step] for r in ranks))]
        with Replay(draws):
            trainer.train_step()
        states.append(tensors(trainer))
    return states


# (The vanilla GAN's dropout masks are drawn inside D, not recorded, so it is not replayed.)
@pytest.mark.parametrize("model", ["dcgan", "progan"])
def test_matches_one_process_with_the_same_global_batch(runs: dict[str, Any],
                                                        model: str) -> None:
    ddp = runs["ranks"][0][model]["states"]
    if model == "progan":  # the run reaches the fade-in of 8x8: DDP's set of used blocks changes
        assert [stage for stage, _ in runs["ranks"][0][model]["phases"]] == [0, 0, 1, 1]
    ref = single_process(model, runs["ranks"], per_rank=True)
    for key in ref[0]:  # rank 0 builds exactly what a single process builds
        assert torch.equal(ddp[0][key], ref[0][key]), key
    for step in range(1, STEPS + 1):
        # same keys: ProGAN's unused blocks get no gradient (hence no Adam state) under DDP too
        assert ddp[step].keys() == ref[step].keys()
        for key in ref[step]:
            torch.testing.assert_close(ddp[step][key], ref[step][key], **TOLERANCE,
                                       msg=lambda m, s=step, k=key: f"{model} step {s} {k}: {m}")
    # Per-rank statistics are a real difference: BatchNorm (DCGAN) and the minibatch stddev
    # (ProGAN) over the whole global batch give other weights after one step already.
    plain = single_process(model, runs["ranks"], per_rank=False)
    worst = max((plain[1][k] - ddp[1][k]).abs().max().item() for k in ddp[1]
                if ddp[1][k].is_floating_point())
    assert worst > 1e-3


def test_ctrl_c_on_one_rank_stops_every_rank_at_the_same_step(runs: dict[str, Any]) -> None:
    assert [r["interrupted"] for r in runs["ranks"]] == [{"step": 3, "interrupted": True}] * 2
    assert ckpt.load_checkpoint(runs["out"] / "interrupted")["step"] == 3


def test_one_lock_for_the_whole_job_held_by_rank_0(runs: dict[str, Any]) -> None:
    rank0, rank1 = (r["lock"] for r in runs["ranks"])
    assert rank0["holder"] == rank1["holder"] == rank0["pid"] != rank1["pid"]
    for run in ("interrupted", "half", "whole"):  # released at the end of every run
        assert not (runs["out"] / run / LOCK_NAME).exists(), run


def test_resume_under_torchrun_continues_exactly(runs: dict[str, Any]) -> None:
    half, whole = ckpt.load_checkpoint(runs["out"] / "half"), ckpt.load_checkpoint(
        runs["out"] / "whole")
    assert half["step"] == whole["step"] == 4
    assert half["world_size"] == 2 and half["batch"] == {"global": 16, "per_device": 8}
    for part in ("G", "D", "G_ema", "opt_G", "opt_D", "scaler", "images_seen", "rng_ranks"):
        assert_same(half[part], whole[part], part)
    # every rank's own RNG state was saved (and, by the equality above, restored)
    assert len(half["rng_ranks"]) == WORLD
    assert not torch.equal(half["rng_ranks"][0]["torch"], half["rng_ranks"][1]["torch"])


def assert_same(a: Any, b: Any, where: str) -> None:
    """Nested dicts/lists of tensors and plain values, equal bit for bit."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}.{i}")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), f"{where} differs"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_rank0_alone_reports_and_writes(runs: dict[str, Any]) -> None:
    err = runs["resume_stderr"]
    assert err.count("training dcgan") == 1, err
    assert "2 processes (gloo): batch 16 global = 8 per device" in err
    assert err.count("done: step 4") == 1, err
    half = runs["out"] / "half"
    assert sorted(p.name for p in half.iterdir()) == ["checkpoint.pt", "config.json", "samples"]
    assert sorted(p.name for p in (half / "samples").iterdir()) == [
        "step_0000002.png", "step_0000004.png"]


def test_a_ddp_checkpoint_loads_in_one_process(runs: dict[str, Any],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    run = load_run(runs["out"] / "half")  # no "module." prefix in its state_dicts
    assert run.sample(4).shape == (4, 3, 16, 16)
    assert cli.main(["info", str(runs["out"] / "half")]) == 0
    assert "world:    2 process(es), batch 16 global = 8 per device" in capsys.readouterr().out


def test_resuming_with_another_world_size_is_refused(runs: dict[str, Any], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(runs["out"] / "half", run)
    before = (run / ckpt.CHECKPOINT_NAME).read_bytes()
    code = cli.main(["train", "dcgan", "--steps", "6", "--out", str(run), "--resume",
                     "--device", "cpu", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert "trained by 2 process(es) and this is 1" in err and "same world size" in err
    assert (run / ckpt.CHECKPOINT_NAME).read_bytes() == before
