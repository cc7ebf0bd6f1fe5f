"""Tests for ganlab.training: history, determinism, exact resume, run dirs, divergence, warnings.

Everything runs on the CPU with the ``tiny`` presets (or smaller), a few steps each.
"""

from __future__ import annotations

import errno
import math
import time
import warnings
from pathlib import Path

import pytest
import torch
from conftest import fill, unprivileged
from PIL import Image

from ganlab import checkpoint as ckpt
from ganlab.checkpoint import StorageError
from ganlab.config import DCGANConfig, MLPConfig, RunConfig
from ganlab.data import TensorData, load
from ganlab.losses import GANLoss
from ganlab.metrics import mode_coverage
from ganlab.models.progan import phase_at
from ganlab.presets import preset
from ganlab.training import (
    ResumeConflictError,
    RunDirError,
    Trainer,
    TrainingDiverged,
    load_run,
    resolve_device,
    sample_z,
)

HISTORY_KEYS = {"loss_D", "loss_G", "D_x", "D_G_z", "step", "images_seen", "seconds"}
CHECKPOINT_KEYS = {"G", "D", "G_ema", "opt_G", "opt_D", "scaler", "step", "images_seen", "rng",
                   "config"}


@pytest.fixture(scope="module")
def shapes16() -> TensorData:
    c = preset("dcgan", profile="tiny").data
    return load(c.name, c.resolution, c.size, seed=c.seed)


def ring_config(**overrides) -> RunConfig:
    """The tiny toy MLP on ring8, smaller still (a step takes about a millisecond)."""
    values = dict(train__batch_size=32, data__size=2000, train__n_samples=32)
    values.update(overrides)
    return preset("lsgan", "ring8", profile="tiny", **values)


def image_config(**overrides) -> RunConfig:
    """A vanilla MLP on 4x4 shapes: the cheapest image run (images can be written as PNGs)."""
    values = dict(arch=MLPConfig(data_shape=(3, 4, 4), latent_dim=8, g_hidden=(32,),
                                 d_hidden=(32,)),
                  data__resolution=4, data__size=256, train__batch_size=16, train__n_samples=16)
    values.update(overrides)
    return preset("vanilla", "shapes", profile="tiny", **values)


def tensors_equal(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys(), what
    for key in a:
        assert torch.equal(a[key], b[key]), f"{what}: {key} differs"


def optimizer_tensors(opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for index, state in opt.state_dict()["state"].items():
        for name, value in state.items():
            out[f"{index}.{name}"] = torch.as_tensor(value)
    return out


def assert_same_run(a: Trainer, b: Trainer) -> None:
    assert (a.step, a.images_seen) == (b.step, b.images_seen)
    tensors_equal(a.G.state_dict(), b.G.state_dict(), "G")
    tensors_equal(a.D.state_dict(), b.D.state_dict(), "D")
    assert (a.ema is None) == (b.ema is None)
    if a.ema is not None:
        tensors_equal(a.ema.model.state_dict(), b.ema.model.state_dict(), "G_ema")
    tensors_equal(optimizer_tensors(a.opt_G), optimizer_tensors(b.opt_G), "opt_G")
    tensors_equal(optimizer_tensors(a.opt_D), optimizer_tensors(b.opt_D), "opt_D")


# ---------------------------------------------------------------- history and determinism
def test_history_records_and_images_seen() -> None:
    config = ring_config(train__n_critic=3, train__steps=6, train__log_every=2)
    trainer = Trainer(config, device="cpu", progress=False)
    history = trainer.fit()
    assert [h["step"] for h in history] == [2, 4, 6]
    for record in history:
        assert set(record) == HISTORY_KEYS
        # Each step shows D n_critic real batches.
        assert record["images_seen"] == record["step"] * 32 * 3
    assert trainer.images_seen == 6 * 32 * 3
    assert history[-1]["seconds"] >= history[0]["seconds"] > 0
    assert trainer.data.data.device == trainer.device


def test_same_seed_same_weights_other_seed_differs() -> None:
    def train(seed: int) -> Trainer:
        trainer = Trainer(ring_config(train__seed=seed, train__steps=5), device="cpu",
                          progress=False)
        trainer.fit()
        return trainer

    a, b, c = train(0), train(0), train(1)
    tensors_equal(a.G.state_dict(), b.G.state_dict(), "G")
    assert torch.equal(a.generate(), b.generate())
    assert any(not torch.equal(p, q) for p, q in zip(a.G.parameters(), c.G.parameters()))


def test_fit_rejects_fewer_steps_than_done() -> None:
    trainer = Trainer(ring_config(train__steps=3), device="cpu", progress=False)
    trainer.fit()
    with pytest.raises(ValueError, match="already done 3 steps"):
        trainer.fit(2)
    with pytest.raises(ValueError, match="positive"):
        trainer.fit(0)


# ---------------------------------------------------------------- exact resume
def _resume_case(config: RunConfig, n: int, tmp_path: Path, data: TensorData | None,
                 images_seen: int | None = None) -> Trainer:
    """N steps in A, resume A to 2N; a fresh 2N run in B; both must agree bit for bit."""
    first = Trainer(config, out_dir=tmp_path / "A", device="cpu", data=data, progress=False)
    first.fit(n)
    del first
    resumed = Trainer(None, out_dir=tmp_path / "A", device="cpu", data=data, progress=False,
                      resume=True)
    assert resumed.step == n
    if images_seen is not None:
        assert resumed.images_seen == images_seen
    resumed.fit(2 * n)
    fresh = Trainer(config, out_dir=tmp_path / "B", device="cpu", data=data, progress=False)
    fresh.fit(2 * n)
    assert_same_run(resumed, fresh)
    assert torch.equal(resumed.generate(), fresh.generate())
    # The checkpoints on disk agree too.
    a = ckpt.load_checkpoint(tmp_path / "A")
    b = ckpt.load_checkpoint(tmp_path / "B")
    tensors_equal(a["G"], b["G"], "saved G")
    tensors_equal(a["D"], b["D"], "saved D")
    return resumed


def test_exact_resume_dcgan_with_batchnorm_and_ema(tmp_path: Path, shapes16: TensorData) -> None:
    config = preset("dcgan", profile="tiny", train__ema=0.9, train__log_every=2)
    resumed = _resume_case(config, 3, tmp_path, shapes16)
    assert resumed.ema is not None
    assert any(name.endswith("running_mean") for name in resumed.G.state_dict())


def test_exact_resume_dcgan_without_batch_norm_under_rmsprop(tmp_path: Path,
                                                             shapes16: TensorData) -> None:
    # LSGAN's stability comparison: no batch norm in either network, RMSProp.
    config = preset("dcgan", profile="tiny", arch__batch_norm="none", train__optimizer="rmsprop",
                    train__log_every=2)
    resumed = _resume_case(config, 3, tmp_path, shapes16)
    assert isinstance(resumed.opt_G, torch.optim.RMSprop)
    assert isinstance(resumed.opt_D, torch.optim.RMSprop)
    assert not any("running_mean" in name for name in resumed.G.state_dict())


def test_exact_resume_vanilla_with_dropout(tmp_path: Path) -> None:
    config = preset("vanilla", profile="tiny", train__log_every=5)
    assert config.arch.d_dropout > 0  # dropout draws from the RNG that the checkpoint restores
    _resume_case(config, 5, tmp_path, None)


def test_exact_resume_progan_in_the_middle_of_a_fade(tmp_path: Path,
                                                     shapes16: TensorData) -> None:
    config = preset("progan", profile="tiny", train__log_every=2)
    arch = config.arch
    assert config.train.ema > 0
    # Simulate the schedule: each step shows D one batch of the phase it starts in.
    seen, n = 0, 0
    while True:
        seen += phase_at(arch, seen).batch_size * config.train.n_critic
        n += 1
        p = phase_at(arch, seen)
        if n >= 2 and p.fading and 0 < p.alpha < 1:
            break
        assert n < 100, "the tiny ProGAN schedule never fades"
    assert phase_at(arch, seen).fading
    resumed = _resume_case(config, n, tmp_path, shapes16, images_seen=seen)
    assert resumed.history[-1]["stage"] >= 1
    assert set(resumed.history[-1]) == HISTORY_KEYS | {"stage", "alpha"}


def test_exact_resume_r3gan_with_penalties_augmentation_and_ema(tmp_path: Path,
                                                                 shapes16: TensorData) -> None:
    # R1/R2 and DiffAugment draw nothing from the RNG that the checkpoint does not restore; the
    # relativistic G step reuses the D step's reals.
    config = preset("r3gan", profile="tiny", train__augment="translation,cutout",
                    train__log_every=2)
    assert config.loss.r1_weight > 0 and config.loss.r2_weight > 0 and config.train.ema > 0
    _resume_case(config, 2, tmp_path, shapes16)


# ---------------------------------------------------------------- run directory rules
def test_refuses_a_non_empty_foreign_directory(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("do not touch")
    with pytest.raises(RunDirError, match="not empty"):
        Trainer(ring_config(), out_dir=out, device="cpu", progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    assert (out / "thesis.tex").read_text() == "do not touch"


def test_refuses_an_existing_run_without_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    Trainer(image_config(train__steps=2), out_dir=out, device="cpu", progress=False).fit()
    before = (out / "checkpoint.pt").read_bytes()
    with pytest.raises(RunDirError, match="resume"):
        Trainer(image_config(train__steps=2), out_dir=out, device="cpu", progress=False)
    assert (out / "checkpoint.pt").read_bytes() == before


def test_resume_with_nothing_to_resume(tmp_path: Path) -> None:
    for out in (tmp_path / "missing", tmp_path / "empty"):
        if out.name == "empty":
            out.mkdir()
        with pytest.raises(RunDirError, match="nothing to resume"):
            Trainer(ring_config(), out_dir=out, device="cpu", progress=False, resume=True)
    with pytest.raises(RunDirError):
        Trainer(ring_config(), out_dir=None, device="cpu", progress=False, resume=True)
    # A config.json without a checkpoint is not resumable either.
    out = tmp_path / "no_ckpt"
    out.mkdir()
    (out / "config.json").write_text(ring_config().to_json())
    with pytest.raises(RunDirError, match="checkpoint"):
        Trainer(None, out_dir=out, device="cpu", progress=False, resume=True)


def test_data_shape_mismatch_names_both_shapes() -> None:
    config = preset("dcgan", "digits", profile="tiny")
    config = config.replace(arch=DCGANConfig(resolution=32, channels=1, g_width=4, d_width=4))
    assert config.data.resolution == 16
    with pytest.raises(ValueError) as info:
        Trainer(config, device="cpu", progress=False)
    assert "(1, 16, 16)" in str(info.value) and "(1, 32, 32)" in str(info.value)


def test_config_must_be_a_run_config() -> None:
    with pytest.raises(TypeError, match="RunConfig"):
        Trainer({"model": "dcgan"}, device="cpu", progress=False)


# ---------------------------------------------------------------- checkpoint contents
def test_checkpoint_config_and_samples_written(tmp_path: Path, shapes16: TensorData) -> None:
    config = preset("dcgan", profile="tiny")
    tc = config.train
    out = tmp_path / "run"
    trainer = Trainer(config, out_dir=out, device="cpu", data=shapes16, progress=False)
    trainer.fit()
    state = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert CHECKPOINT_KEYS <= set(state)
    assert state["step"] == tc.steps
    assert state["images_seen"] == tc.steps * tc.batch_size * tc.n_critic
    assert RunConfig.from_dict(state["config"]) == config
    assert RunConfig.from_json((out / "config.json").read_text()) == config
    tensors_equal(state["G"], trainer.G.state_dict(), "G")
    assert state["G_ema"] is None  # no EMA in this preset

    expected_steps = [s for s in range(1, tc.steps + 1) if s % tc.sample_every == 0]
    files = sorted(p.name for p in (out / "samples").glob("*.png"))
    assert files == [f"step_{s:07d}.png" for s in expected_steps]
    assert [s for s, _, _ in trainer.samples] == expected_steps
    # Each sample file is a grid of n_samples images: ceil(sqrt(n)) per row, 2 px padding.
    n, r = tc.n_samples, config.arch.resolution
    per_row = math.ceil(math.sqrt(n))
    rows = math.ceil(n / per_row)
    with Image.open(out / "samples" / files[-1]) as im:
        assert im.size == (per_row * (r + 2) + 2, rows * (r + 2) + 2)


def test_load_run_rebuilds_the_generator(tmp_path: Path) -> None:
    config = image_config(train__steps=4, train__ema=0.5)
    trainer = Trainer(config, out_dir=tmp_path / "run", device="cpu", progress=False)
    trainer.fit()
    run = load_run(tmp_path / "run")
    assert run.config == config and run.step == 4
    tensors_equal(run.G.state_dict(), trainer.ema.model.state_dict(), "EMA G")
    raw = load_run(tmp_path / "run", ema=False)
    tensors_equal(raw.G.state_dict(), trainer.G.state_dict(), "raw G")
    z = sample_z(10, config.arch.latent_dim, seed=7)
    assert torch.equal(run.sample(10, seed=7), trainer.generate(z))
    assert not torch.equal(run.sample(10, seed=7), run.sample(10, seed=8))


def test_sample_z_is_seeded_and_checked() -> None:
    assert torch.equal(sample_z(4, 3, seed=1), sample_z(4, 3, seed=1))
    assert not torch.equal(sample_z(4, 3, seed=1), sample_z(4, 3, seed=2))
    assert sample_z(4, 3).shape == (4, 3)
    with pytest.raises(ValueError):
        sample_z(0, 3)


# ---------------------------------------------------------------- divergence
def _poison_generator_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    original = GANLoss.generator
    monkeypatch.setattr(GANLoss, "generator",
                        lambda self, *logits: original(self, *logits) * float("nan"))


def _run_with_checkpoint(out: Path, log_every: int) -> tuple[Trainer, bytes]:
    """A 2-step run that saved a checkpoint at every step, and that checkpoint's bytes."""
    config = image_config(train__steps=2, train__log_every=log_every, train__checkpoint_every=1)
    trainer = Trainer(config, out_dir=out, device="cpu", progress=False)
    trainer.fit()
    return trainer, (out / "checkpoint.pt").read_bytes()


def test_nan_raises_and_keeps_the_last_checkpoint(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run"
    trainer, before = _run_with_checkpoint(out, log_every=1)

    _poison_generator_loss(monkeypatch)
    with pytest.raises(TrainingDiverged) as info:
        trainer.fit(6)
    message = str(info.value)
    assert "NaN" in message and "loss_G" in message
    assert "lr" in message  # says what to try
    assert str(out) in message
    assert (out / "checkpoint.pt").read_bytes() == before


def test_nan_weights_never_overwrite_a_checkpoint(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Logging only every 100 steps: the checkpoint writer itself must notice the NaN weights.
    out = tmp_path / "run"
    trainer, before = _run_with_checkpoint(out, log_every=100)
    _poison_generator_loss(monkeypatch)
    with pytest.raises(TrainingDiverged, match="NaN"):
        trainer.fit(5)
    assert (out / "checkpoint.pt").read_bytes() == before


def test_a_huge_learning_rate_diverges_with_a_clear_error() -> None:
    config = ring_config(train__steps=200, train__log_every=1, train__lr_d=1e6, train__lr_g=1e6,
                         train__betas=(0.0, 0.0))
    with pytest.raises(TrainingDiverged, match="learning rate"):
        Trainer(config, device="cpu", progress=False).fit()


# ---------------------------------------------------------------- learner-facing warnings
def _runtime_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


def test_d_winning_warns_once() -> None:
    trainer = Trainer(ring_config(loss__name="nonsaturating"), device="cpu", progress=False)
    trainer.d_wins_patience = 3
    winning = dict(D_x=0.999, D_G_z=0.001)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(10):
            trainer._check_d_wins(winning)
    messages = _runtime_warnings(caught)
    assert len(messages) == 1
    assert "discriminator is winning" in messages[0]


def test_d_winning_needs_consecutive_logs() -> None:
    trainer = Trainer(ring_config(loss__name="nonsaturating"), device="cpu", progress=False)
    trainer.d_wins_patience = 3
    winning, fine = dict(D_x=0.999, D_G_z=0.001), dict(D_x=0.7, D_G_z=0.3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for record in [winning, winning, fine] * 4:
            trainer._check_d_wins(record)
    assert _runtime_warnings(caught) == []


def test_d_winning_with_least_squares_targets() -> None:
    trainer = Trainer(ring_config(), device="cpu", progress=False)  # a = 0, b = 1
    trainer.d_wins_patience = 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(4):
            trainer._check_d_wins(dict(D_x=1.0, D_G_z=0.0))
    assert len(_runtime_warnings(caught)) == 1


def test_d_winning_with_the_relativistic_loss_reads_the_logit_gap() -> None:
    # Only D(x) - D(G(z)) means something: a gap of 6 is D winning wherever the logits sit.
    trainer = Trainer(ring_config(loss__name="relativistic"), device="cpu", progress=False)
    trainer.d_wins_patience = 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            trainer._check_d_wins(dict(D_x=40.0, D_G_z=39.0))  # high, but a gap of 1
        assert _runtime_warnings(caught) == []
        for _ in range(3):
            trainer._check_d_wins(dict(D_x=-3.0, D_G_z=-9.0))
    messages = _runtime_warnings(caught)
    assert len(messages) == 1 and "r1_weight" in messages[0]


def test_collapse_warns_once() -> None:
    trainer = Trainer(ring_config(), device="cpu", progress=False)
    x = torch.full((32, 2), 0.3)
    trainer.step = trainer.collapse_after - 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer._check_collapse(x)  # too early to judge
        assert _runtime_warnings(caught) == []
        trainer.step = trainer.collapse_after
        trainer._check_collapse(x)
        trainer._check_collapse(x)
    messages = _runtime_warnings(caught)
    assert len(messages) == 1 and "collapse" in messages[0]


def test_diverse_samples_do_not_warn() -> None:
    trainer = Trainer(ring_config(), device="cpu", progress=False)
    trainer.step = trainer.collapse_after
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer._check_collapse(trainer.data.tensors()[1000:1064])
    assert _runtime_warnings(caught) == []


def test_a_constant_generator_triggers_the_collapse_warning() -> None:
    trainer = Trainer(ring_config(), device="cpu", progress=False)
    last = [m for m in trainer.G.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()  # G(z) = tanh(bias) for every z
    trainer.step = trainer.collapse_after
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.snapshot()
    assert len(_runtime_warnings(caught)) == 1


def test_the_collapse_check_waits_for_the_ema_copy_to_leave_its_initial_weights() -> None:
    # Snapshots come from the EMA copy; at decay 0.999 it is still 74% the untrained G at step 300,
    # whose outputs all look alike: judging it then is a false alarm.
    trainer = Trainer(ring_config(train__ema=0.999), device="cpu", progress=False)
    start = trainer.collapse_check_start()
    lag = start - trainer.collapse_after
    assert 0.999 ** lag < 0.1 <= 0.999 ** (lag - 1)
    no_ema = Trainer(ring_config(), device="cpu", progress=False)
    assert no_ema.collapse_check_start() == no_ema.collapse_after
    x = torch.full((32, 2), 0.3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.step = start - 1
        trainer._check_collapse(x)
        assert _runtime_warnings(caught) == []
        trainer.step = start
        trainer._check_collapse(x)
    assert len(_runtime_warnings(caught)) == 1


# ---------------------------------------------------------------- callbacks, generate, devices
def test_callbacks_receive_every_event(tmp_path: Path) -> None:
    events: list[tuple[str, dict]] = []
    config = image_config(train__steps=4, train__log_every=2, train__sample_every=2,
                         train__checkpoint_every=2)
    trainer = Trainer(config, out_dir=tmp_path / "run", device="cpu", progress=False,
                      callbacks=[lambda t, event, info: events.append((event, info))])
    trainer.fit()
    names = [e for e, _ in events]
    assert {"log", "sample", "checkpoint", "end"} == set(names)
    assert names[-1] == "end" and names.count("end") == 1
    assert [info for e, info in events if e == "log"] == trainer.history
    samples = [info for e, info in events if e == "sample"]
    assert [s["step"] for s in samples] == [2, 4]
    assert samples[0]["images"].shape == (config.train.n_samples, 3, 4, 4)
    assert all(info["path"] == tmp_path / "run" / "checkpoint.pt"
               for e, info in events if e == "checkpoint")


def test_generate_uses_eval_mode_and_returns_cpu(shapes16: TensorData) -> None:
    config = preset("dcgan", profile="tiny")
    trainer = Trainer(config, device="cpu", data=shapes16, progress=False)
    trainer.G.train()
    x = trainer.generate()
    assert x.shape == (config.train.n_samples, *config.arch.image_shape)
    assert x.device.type == "cpu" and x.dtype == torch.float32
    assert trainer.G.training  # mode restored
    # Eval mode: BatchNorm uses running statistics, so one sample does not depend on the others.
    z = sample_z(4, config.arch.latent_dim, seed=0)
    torch.testing.assert_close(trainer.generate(z)[:1], trainer.generate(z[:1]))


def test_resolve_device(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ValueError):
        resolve_device("cuda:1")


def test_point_runs_can_use_a_run_directory(tmp_path: Path) -> None:
    # ring8/grid25 runs must be able to save checkpoints and samples like image runs
    # (the CLI's own example: ganlab train lsgan --data ring8 --out runs/ring).
    out = tmp_path / "ring"
    trainer = Trainer(ring_config(train__steps=4), out_dir=out, device="cpu", progress=False)
    trainer.fit()
    assert ckpt.load_checkpoint(out)["step"] == 4
    assert len(trainer.samples) >= 1


# ---------------------------------------------------------------- LSGAN learns the ring
def test_lsgan_covers_the_ring(capsys: pytest.CaptureFixture[str]) -> None:
    config = preset("lsgan", "ring8", profile="default")
    wall, cpu = time.perf_counter(), time.process_time()
    trainer = Trainer(config, device="cpu", progress=False)
    trainer.fit()
    # CPU time, not wall time: a shared CI machine can slow the clock, not the work (1 thread).
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    samples = trainer.generate(sample_z(2500, config.arch.latent_dim, seed=1))
    coverage = mode_coverage(samples, trainer.data.mixture)
    with capsys.disabled():
        print(f"\nLSGAN ring8 ({config.train.steps} steps, default profile): {coverage}, "
              f"counts {coverage.counts}; {cpu:.1f} s CPU, {wall:.1f} s wall")
    assert cpu < 60
    assert coverage.modes_captured >= 6
    assert coverage.high_quality > 0.5


# ---------------------------------------------------------------- fakes reused for the G step
def _count_forwards(module: torch.nn.Module) -> list[int]:
    calls = [0]
    module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


@pytest.mark.parametrize("reuse, per_step", [(False, 2), (True, 1)])
def test_reuse_fakes_saves_one_generator_pass(reuse: bool, per_step: int) -> None:
    trainer = Trainer(ring_config(train__reuse_fakes=reuse, train__n_critic=2), device="cpu",
                      progress=False)
    g_calls, d_calls = _count_forwards(trainer.G), _count_forwards(trainer.D)
    for _ in range(3):
        trainer.train_step()
    # n_critic = 2: fresh fakes for each D step, then either fresh ones or the last D step's
    assert g_calls[0] == 3 * (per_step + 1)
    assert d_calls[0] == 3 * (2 * 2 + 1)  # real + fake per D step, fake for the G step


def test_reused_fakes_train_g_through_the_updated_d() -> None:
    """The G step on reused fakes is exactly G's loss on those same fakes through the D that the
    D step just updated (the tutorial's order), computed here by hand."""
    trainer = Trainer(ring_config(train__reuse_fakes=True, train__amp="off"), device="cpu",
                      progress=False)
    phase = trainer.phase()
    torch.manual_seed(3)
    x_fake = trainer.generate_fakes(phase.batch_size, phase, grad=True)
    trainer.d_step(trainer.real_batch(phase), phase, x_fake)
    expected = trainer.loss.generator(trainer.D(x_fake.detach()))
    got = trainer.g_step(phase.batch_size, phase, x_fake)["loss_G"]
    torch.testing.assert_close(got, expected.detach())


def test_exact_resume_with_reused_fakes(tmp_path: Path, shapes16: TensorData) -> None:
    config = preset("dcgan", profile="tiny", train__reuse_fakes=True, train__log_every=2)
    _resume_case(config, 3, tmp_path, shapes16)


# ---------------------------------------------------------------- resume keeps its settings
def _saved_ring_run(out: Path, steps: int = 3) -> bytes:
    Trainer(ring_config(train__steps=steps), out_dir=out, device="cpu", progress=False).fit()
    return (out / "checkpoint.pt").read_bytes()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"train__seed": 7}, "train.seed"),
        ({"train__batch_size": 64}, "train.batch_size"),
        ({"train__lr_d": 1e-2}, "train.lr_d"),
        ({"loss__name": "nonsaturating"}, "loss.name"),
        ({"data__name": "grid25"}, "data.name"),
        ({"arch__g_hidden": (16,)}, "arch.g_hidden"),
    ],
)
def test_resume_refuses_a_config_that_changes_the_run(change: dict, field: str,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "run"
    before = _saved_ring_run(out)
    config_before = (out / "config.json").read_bytes()
    with pytest.raises(ResumeConflictError) as info:
        Trainer(ring_config(train__steps=6, **change), out_dir=out, device="cpu",
                progress=False, resume=True)
    message = str(info.value)
    assert field in message and str(out) in message and "\n" not in message
    assert (out / "checkpoint.pt").read_bytes() == before
    assert (out / "config.json").read_bytes() == config_before


def test_resume_applies_steps_precision_and_data_location(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    out = tmp_path / "run"
    _saved_ring_run(out)
    capsys.readouterr()
    config = ring_config(train__steps=5, train__amp="off", data__root=str(tmp_path / "elsewhere"))
    trainer = Trainer(config, out_dir=out, device="cpu", progress=False, resume=True)
    err = capsys.readouterr().err
    assert "resume: train.amp changed from 'auto' to 'off'" in err
    assert f"resume: data.root changed from 'data' to '{tmp_path / 'elsewhere'}'" in err
    assert "train.steps" not in err  # extending a run is what resuming is for
    assert trainer.step == 3
    trainer.fit()
    assert ckpt.read_config(out) == config
    assert RunConfig.from_dict(ckpt.load_checkpoint(out)["config"]) == config


def test_resume_with_an_edited_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _saved_ring_run(out)
    state = ckpt.load_checkpoint(out)
    state["G"] = {k: torch.zeros(3) for k in state["G"]}  # weights of the wrong shape
    torch.save(state, out / "checkpoint.pt")
    with pytest.raises(ckpt.CheckpointError, match="does not fit the model") as info:
        Trainer(None, out_dir=out, device="cpu", progress=False, resume=True)
    assert "\n" not in str(info.value)
    with pytest.raises(ckpt.CheckpointError, match="does not fit the model"):
        load_run(out)
    del state["opt_G"], state["rng"]
    torch.save(state, out / "checkpoint.pt")
    with pytest.raises(ckpt.CheckpointError, match="without opt_G, rng"):
        Trainer(None, out_dir=out, device="cpu", progress=False, resume=True)


def test_resume_and_load_run_with_a_damaged_config_json(tmp_path: Path) -> None:
    out = tmp_path / "run"
    before = _saved_ring_run(out)
    (out / "config.json").write_text("{ half a config")
    for attempt in (lambda: Trainer(None, out_dir=out, device="cpu", progress=False,
                                    resume=True),
                    lambda: load_run(out)):
        with pytest.raises(ckpt.CheckpointError) as info:
            attempt()
        assert str(out / "config.json") in str(info.value)
        assert "not valid JSON" in str(info.value)
    assert (out / "checkpoint.pt").read_bytes() == before
    # The checkpoint file alone still loads: it carries its own config.
    assert load_run(out / "checkpoint.pt").step == 3


def test_load_run_paths_of_the_wrong_kind(tmp_path: Path) -> None:
    with pytest.raises(ckpt.CheckpointError, match="no checkpoint"):
        load_run(tmp_path / "absent.pt")
    with pytest.raises(ckpt.CheckpointError, match="no config.json"):
        load_run(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ckpt.CheckpointError, match="not a readable ganlab checkpoint"):
        load_run(tmp_path / "notes.txt")


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "tpu", "", "cpu:0:1", 3.5])
def test_unknown_devices_are_a_value_error(device) -> None:
    with pytest.raises(ValueError, match="device"):
        resolve_device(device)


def test_config_none_without_resume() -> None:
    with pytest.raises(TypeError, match="None only with resume=True"):
        Trainer(None, device="cpu", progress=False)


# ---------------------------------------------------------------- the disk refuses
def test_a_new_run_on_a_full_disk_leaves_nothing_behind(small_tmpfs) -> None:
    disk = small_tmpfs(1 << 20)
    fill(disk)
    with pytest.raises(StorageError) as info:
        Trainer(ring_config(), out_dir=disk / "run", device="cpu", progress=False)
    assert info.value.errno == errno.ENOSPC
    assert str(disk / "run" / "config.json") in str(info.value)
    assert sorted(p.name for p in disk.iterdir()) == ["filler.bin"]


def test_a_full_disk_while_saving_keeps_the_last_checkpoint(small_tmpfs) -> None:
    disk = small_tmpfs(2 << 20)
    out = disk / "run"
    config = image_config(train__steps=2, train__sample_every=1000, arch=MLPConfig(
        data_shape=(3, 4, 4), latent_dim=8, g_hidden=(512,), d_hidden=(512,)))
    Trainer(config, out_dir=out, device="cpu", progress=False).fit()
    before = (out / "checkpoint.pt").read_bytes()
    assert len(before) > 100_000
    fill(disk, leave=32768)  # room for config.json and a sample, not for a checkpoint
    trainer = Trainer(config.replace(train__steps=4), out_dir=out, device="cpu", progress=False,
                      resume=True)
    with pytest.raises(StorageError) as info:
        trainer.fit()
    message = str(info.value)
    assert info.value.errno == errno.ENOSPC
    assert f"could not write {out / 'checkpoint.pt'}: no space left" in message
    assert f"The previous checkpoint {out / 'checkpoint.pt'} is unchanged" in message
    assert (out / "checkpoint.pt").read_bytes() == before
    assert [p.name for p in out.rglob("*") if ".tmp" in p.name] == []


def test_a_read_only_run_directory(public_dir: Path) -> None:
    out = public_dir / "run"
    before = _saved_ring_run(out)
    config_before = (out / "config.json").read_bytes()
    for p in [public_dir, out, *out.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    with unprivileged(), pytest.raises(StorageError, match="permission denied") as info:
        Trainer(None, out_dir=out, device="cpu", progress=False, resume=True)
    assert str(out / "config.json") in str(info.value)
    with unprivileged(), pytest.raises(StorageError, match="permission denied"):
        Trainer(ring_config(), out_dir=public_dir / "new", device="cpu", progress=False)
    assert (out / "checkpoint.pt").read_bytes() == before
    assert (out / "config.json").read_bytes() == config_before
    assert sorted(p.name for p in public_dir.iterdir()) == ["run"]
    for p in [public_dir, out, *out.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"data": "shapes"}, ["data must be a ganlab.data.TensorData", "str"]),
        ({"data": torch.zeros(4, 2)}, ["data must be a ganlab.data.TensorData", "Tensor"]),
        ({"callbacks": [print, "log"]}, ["callbacks must be functions", "str"]),
    ],
)
def test_trainer_arguments_of_the_wrong_kind(kwargs: dict, words: list[str],
                                             tmp_path: Path) -> None:
    with pytest.raises(TypeError) as info:
        Trainer(ring_config(), out_dir=tmp_path / "run", device="cpu", progress=False, **kwargs)
    for word in words:
        assert word in str(info.value)
    assert not (tmp_path / "run").exists()


def test_resume_into_fp16_from_a_run_saved_without_a_grad_scaler() -> None:
    # A run started on a CPU (no fp16, so the scaler is disabled and saves {}) and resumed where
    # fp16 is on: the enabled scaler starts fresh instead of failing on the empty state.
    state = Trainer(ring_config(), device="cpu", progress=False).state_dict()
    assert state["scaler"] == {}
    resumed = Trainer(ring_config(), device="cpu", progress=False)
    resumed.scaler = torch.amp.GradScaler("cpu", enabled=True)  # what CUDA + fp16 would make
    with pytest.raises(RuntimeError, match="empty"):  # what _restore used to do
        resumed.scaler.load_state_dict(state["scaler"])
    resumed._restore({**state, "path": Path("checkpoint.pt")})
    assert resumed.scaler.is_enabled() and resumed.scaler.get_scale() == 2.0**16


def test_a_sample_that_cannot_be_written_names_it_and_keeps_the_checkpoint(
        tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = image_config(train__steps=2, train__sample_every=3)
    Trainer(config, out_dir=out, device="cpu", progress=False).fit()
    before = (out / "checkpoint.pt").read_bytes()
    (out / "samples" / "step_0000003.png").mkdir(parents=True)  # in the way of the next sample
    trainer = Trainer(config.replace(train__steps=3), out_dir=out, device="cpu", progress=False,
                      resume=True)
    with pytest.raises(StorageError) as info:
        trainer.fit()
    message = str(info.value)
    assert f"could not write {out / 'samples' / 'step_0000003.png'}" in message
    assert "directory where a file should be" in message
    assert f"The previous checkpoint {out / 'checkpoint.pt'} is unchanged" in message
    assert (out / "checkpoint.pt").read_bytes() == before


# ---------------------------------------------------------------- the package's parts
ROOT = Path(__file__).resolve().parents[1]


def test_every_name_used_from_ganlab_training_is_still_there() -> None:
    """ganlab.training was one file; every name the package, tests, scripts, notebooks and docs
    take from it still imports from the package."""
    import re

    import ganlab.training

    files = [*ROOT.glob("ganlab/**/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("scripts/*.py"),
             *ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("*.md"), *ROOT.glob("docs/**/*.md")]
    used: dict[str, str] = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        imports = re.findall(r"from ganlab\.training import (?:\(([^)]*)\)|([\w, ]+))", text)
        found = [n.strip() for group in imports for n in "".join(group).split(",")]
        found += re.findall(r"ganlab\.training\.([A-Za-z_]\w*)", text)
        if "from ganlab import training" in text:  # notebook 04: training.Trainer, ...
            found += re.findall(r"\btraining\.([A-Za-z_]\w*)", text)
        used.update({name: path.name for name in found if name})
    assert len(used) > 10, used
    missing = {name: where for name, where in used.items() if not hasattr(ganlab.training, name)}
    assert not missing, missing


def test_no_part_of_the_training_package_is_over_600_lines() -> None:
    parts = (ROOT / "ganlab" / "training").glob("*.py")
    sizes = {p.name: len(p.read_text().splitlines()) for p in parts}
    assert {"trainer.py", "rundir.py", "diagnostics.py", "many.py", "devices.py"} <= set(sizes)
    assert max(sizes.values()) <= 600, sizes
