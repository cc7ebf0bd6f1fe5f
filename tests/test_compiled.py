"""Tests for ganlab.training.compiled: when a run compiles, what is compiled, and that a compiled
run trains like an eager one and resumes exactly.

Only the last test compiles for real (seconds to a minute on a 2-core CPU, once, in a private
inductor cache); the others put a stand-in for ``torch.compile`` in its place.
"""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest
import torch

from ganlab.models.progan import phase_at, total_images
from ganlab.presets import preset
from ganlab.training import Trainer, compiled


class FakeCompile:
    """Stands in for ``torch.compile``: records what it wrapped and which calls reached it."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, fn, **options):  # noqa: ANN001, ANN204
        def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            self.calls.append(kwargs)
            return fn(*args, **kwargs)

        return run


@pytest.fixture
def fake_compile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeCompile:
    fake = FakeCompile()
    monkeypatch.setattr(compiled.torch, "compile", fake)
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))  # attach sets it
    return fake


def _pretend(monkeypatch: pytest.MonkeyPatch, family: str, steps: int | None,
             missing: str | None = None) -> None:
    """This machine's break-even for ``family`` in fp32 is ``steps``; inductor is missing when
    ``missing`` says why."""
    table = {(compiled.machine_class(torch.device("cpu")), family, "fp32"): steps}
    monkeypatch.setattr(compiled, "BREAK_EVEN_STEPS", table)
    monkeypatch.setattr(compiled, "unavailable_reason", lambda device_type: missing)


CPU = torch.device("cpu")


# ---------------------------------------------------------------- the decision
def test_off_never_compiles_and_on_always_does(monkeypatch: pytest.MonkeyPatch) -> None:
    _pretend(monkeypatch, "dcgan", None)
    config = preset("dcgan", profile="tiny")
    assert not compiled.decide("off", config, CPU, None, 10**9).compile
    on = compiled.decide("on", config, CPU, None, 1)
    assert on.compile and on.stages is None


def test_on_without_inductor_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _pretend(monkeypatch, "dcgan", 100, missing="found no C++ compiler (g++, c++ or clang++)")
    with pytest.raises(compiled.CompileUnavailable, match="compile='on' but found no C\\+\\+ "
                       "compiler.*use compile 'off'"):
        compiled.decide("on", preset("dcgan", profile="tiny"), CPU, None, 1)


def test_auto_compiles_only_runs_that_repay_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _pretend(monkeypatch, "dcgan", 500)
    config = preset("dcgan", profile="tiny")
    short = compiled.decide("auto", config, CPU, None, 499)
    assert not short.compile and "499 steps do not repay" in short.reason
    assert compiled.decide("auto", config, CPU, None, 500).compile
    assert not compiled.decide("auto", config, CPU, torch.bfloat16, 10**6).compile  # unmeasured


def test_auto_stays_eager_where_compiling_does_not_pay(monkeypatch: pytest.MonkeyPatch) -> None:
    _pretend(monkeypatch, "dcgan", None)
    decision = compiled.decide("auto", preset("dcgan", profile="tiny"), CPU, None, 10**6)
    assert not decision.compile and "measured not to pay" in decision.reason


def test_auto_without_inductor_falls_back_with_one_note(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _pretend(monkeypatch, "mlp", 1, missing="no compiler here")
    trainer = Trainer(preset("vanilla", "ring8", profile="tiny", train__steps=2), device="cpu",
                      progress=False)
    trainer.fit()
    trainer.fit(4)
    assert not trainer.compile_decision.compile and trainer.compile_decision.fallback
    assert capsys.readouterr().err.count("train.compile=auto: eager: no compiler here") == 1
    assert not compiled.is_compiled(trainer.G)


def test_progan_stable_steps_follow_the_schedule() -> None:
    arch = preset("progan", profile="tiny").arch  # 3 stages, 32 images per fade and stable
    batch, per_phase = arch.batch_size_at(0), arch.images_per_stable // arch.batch_size_at(0)
    assert arch.images_per_fade == arch.images_per_stable and arch.num_stages == 3
    # stage 0 stable; stage 1 fade, stable; stage 2 fade, stable; then stage 2 forever
    schedule_steps = 5 * per_phase
    counts = compiled.progan_stable_steps(arch, schedule_steps + 7)
    assert counts == {0: per_phase, 1: per_phase, 2: per_phase + 7}
    assert compiled.progan_stable_steps(arch, per_phase + 1) == {0: per_phase}  # in 1's fade
    assert total_images(arch) == schedule_steps * batch


def test_auto_compiles_the_progan_stages_that_repay_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _pretend(monkeypatch, "progan", 10)
    config = preset("progan", profile="tiny")
    per_phase = config.arch.images_per_stable // config.arch.batch_size_at(0)  # 4 < 10
    decision = compiled.decide("auto", config, CPU, None, 5 * per_phase + 10)
    assert decision.compile and decision.stages == frozenset({2})
    assert not compiled.decide("auto", config, CPU, None, 5 * per_phase).compile


# ---------------------------------------------------------------- what runs compiled
def test_the_router_compiles_training_passes_only(fake_compile: FakeCompile) -> None:
    config = preset("progan", profile="tiny")
    trainer = Trainer(config.replace(train__compile="off"), device="cpu", progress=False)
    G = trainer.G
    keys = list(G.state_dict())
    compiled.attach(G, stages=frozenset({2}))
    assert compiled.is_compiled(G) and list(G.state_dict()) == keys  # checkpoints unchanged
    z = torch.randn(4, config.arch.latent_dim)
    G(z, stage=2, alpha=1.0)
    G(z, stage=2, alpha=0.5)  # a fade: alpha changes every step
    G(z, stage=1, alpha=1.0)  # a stage not chosen
    G.eval()
    G(z, stage=2, alpha=1.0)  # sampling
    assert fake_compile.calls == [{"stage": 2, "alpha": 1.0}]
    G.train()
    assert compiled.attach(G, stages=frozenset({1})).stages == frozenset({1})  # a longer run
    G(z, stage=1, alpha=1.0)
    assert fake_compile.calls[-1] == {"stage": 1, "alpha": 1.0}
    compiled.detach(G)
    assert not compiled.is_compiled(G)


def test_copies_of_a_compiled_module_are_eager(fake_compile: FakeCompile) -> None:
    trainer = Trainer(preset("vanilla", "ring8", profile="tiny"), device="cpu", progress=False)
    compiled.attach(trainer.G)
    for twin in (copy.deepcopy(trainer.G), pickle.loads(pickle.dumps(trainer.G))):
        assert not compiled.is_compiled(twin)
        twin(torch.randn(3, trainer.G.latent_dim))
        torch.testing.assert_close(twin.state_dict(), trainer.G.state_dict())
    assert fake_compile.calls == []


def test_the_trainer_compiles_g_and_d_when_on(fake_compile: FakeCompile,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiled, "unavailable_reason", lambda device_type: None)
    trainer = Trainer(preset("vanilla", "ring8", profile="tiny", train__compile="on",
                             train__steps=2), device="cpu", progress=False)
    trainer.fit()
    assert compiled.is_compiled(trainer.G) and compiled.is_compiled(trainer.D)
    assert len(fake_compile.calls) >= 2 * 3  # per step: G once, D on real, fake and in G's step


def test_the_cache_lives_in_ganlabs_cache(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path))
    assert compiled.use_cache_dir() == str(tmp_path / "inductor")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    assert compiled.use_cache_dir() == str(tmp_path / "mine")


# ---------------------------------------------------------------- compiling for real
@pytest.mark.skipif(compiled.unavailable_reason("cpu") is not None,
                    reason=f"torch.compile cannot run here: {compiled.unavailable_reason('cpu')}")
def test_a_compiled_run_trains_like_eager_and_resumes_exactly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The smallest model (the ring's MLP, no dropout), a few steps: compiled weights match
    eager ones to rounding, and 3 steps + resume to 5 equal 5 steps, both compiled."""
    import torch._dynamo

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    config = preset("vanilla", "ring8", profile="tiny", train__steps=5, train__log_every=1)
    assert config.arch.d_dropout == 0.0  # inductor draws its own random numbers for dropout

    def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
        return {**{f"G.{k}": v for k, v in trainer.G.state_dict().items()},
                **{f"D.{k}": v for k, v in trainer.D.state_dict().items()}}

    torch._dynamo.reset()
    eager = Trainer(config.replace(train__compile="off"), device="cpu", progress=False)
    eager.fit()
    whole = Trainer(config.replace(train__compile="on"), out_dir=tmp_path / "whole",
                    device="cpu", progress=False)
    whole.fit()
    assert compiled.is_compiled(whole.G) and compiled.is_compiled(whole.D)
    torch.testing.assert_close(weights(whole), weights(eager), rtol=1e-4, atol=1e-5)
    assert [r["loss_D"] for r in whole.history] == pytest.approx(
        [r["loss_D"] for r in eager.history], rel=1e-4)
    whole.close()

    first = Trainer(config.replace(train__compile="on", train__steps=3),
                    out_dir=tmp_path / "split", device="cpu", progress=False)
    first.fit()
    first.close()
    torch._dynamo.reset()  # a new process: graphs come from the on-disk cache
    resumed = Trainer(None, out_dir=tmp_path / "split", device="cpu", progress=False,
                      resume=True)
    resumed.fit(5)
    assert resumed.compile_decision.compile
    for name, value in weights(whole).items():
        assert torch.equal(value, weights(resumed)[name]), name
    resumed.close()


def test_phase_at_agrees_with_the_counts_used_above() -> None:
    """progan_stable_steps walks the schedule with phase_at; check one boundary by hand."""
    arch = preset("progan", profile="tiny").arch
    assert phase_at(arch, arch.images_per_stable - 1).stage == 0
    assert phase_at(arch, arch.images_per_stable).alpha == 0.0
