"""Tests for ganlab.hardware and the trainer's precision and memory-layout paths on the CPU."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from ganlab import hardware
from ganlab.presets import preset
from ganlab.training import Trainer, autocast_dtype, use_channels_last

CPU = torch.device("cpu")


def test_cpu_summary_names_the_machine() -> None:
    s = hardware.cpu_summary()
    assert isinstance(s["name"], str) and s["name"]
    assert s["capability"] == torch.backends.cpu.get_cpu_capability()
    assert set(s["bf16_units"]) <= set(hardware.BF16_UNITS)
    assert s["threads"] == torch.get_num_threads()


def test_bf16_units_follow_torchs_own_detection() -> None:
    caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    expected = {u for u in ("amx_bf16", "avx512_bf16") if caps.get(u)}
    assert set(hardware.cpu_bf16_units()) == expected
    assert hardware.cpu_has_native_bf16() == bool(expected)


@pytest.mark.parametrize("native", [True, False])
def test_auto_uses_bf16_only_where_the_cpu_has_bf16_units(monkeypatch: pytest.MonkeyPatch,
                                                          native: bool) -> None:
    monkeypatch.setattr(hardware, "cpu_bf16_units", lambda: ("amx_bf16",) if native else ())
    assert hardware.amp_dtype("auto", CPU) == (torch.bfloat16 if native else None)
    assert hardware.amp_dtype("off", CPU) is None
    assert hardware.amp_dtype("bf16", CPU) == torch.bfloat16  # asked for: on any CPU


def test_fp16_on_a_cpu_warns_and_trains_in_fp32() -> None:
    with pytest.warns(RuntimeWarning, match="fp16.*CUDA.*fp32.*bf16"):
        assert hardware.amp_dtype("fp16", CPU) is None


def test_precision_names() -> None:
    assert hardware.precision_name(None) == "fp32"
    assert hardware.precision_name(torch.bfloat16) == "bf16 autocast"


def _dtypes_seen(module: torch.nn.Module, kind: type) -> set[torch.dtype]:
    seen: set[torch.dtype] = set()
    for m in module.modules():
        if isinstance(m, kind):
            m.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype))
    return seen


def test_bf16_autocast_on_cpu_keeps_master_weights_optimizer_and_ema_in_fp32() -> None:
    config = preset("dcgan", profile="tiny", train__amp="bf16", train__ema=0.9,
                    train__batch_size=8, data__size=64)
    trainer = Trainer(config, device="cpu", progress=False)
    assert trainer.amp_dtype == torch.bfloat16
    d_convs = _dtypes_seen(trainer.D, torch.nn.Conv2d)
    g_convs = _dtypes_seen(trainer.G, torch.nn.ConvTranspose2d)
    stats = trainer.train_step()
    assert d_convs == {torch.bfloat16} and g_convs == {torch.bfloat16}  # the matmuls ran in bf16
    for name, t in stats.items():
        assert t.dtype == torch.float32, name  # losses are computed in fp32
    nets = {"G": trainer.G, "D": trainer.D, "EMA": trainer.ema.model}
    for net_name, net in nets.items():
        for pname, p in net.named_parameters():
            assert p.dtype == torch.float32, f"{net_name}.{pname}"
    for opt in (trainer.opt_G, trainer.opt_D):
        for state in opt.state.values():
            assert state["exp_avg"].dtype == torch.float32
            assert state["exp_avg_sq"].dtype == torch.float32


def test_amp_off_runs_fp32_matmuls() -> None:
    config = preset("dcgan", profile="tiny", train__amp="off", train__batch_size=8,
                    data__size=64)
    trainer = Trainer(config, device="cpu", progress=False)
    assert trainer.amp_dtype is None
    seen = _dtypes_seen(trainer.D, torch.nn.Conv2d)
    trainer.train_step()
    assert seen == {torch.float32}


def test_bf16_training_stays_close_to_fp32_for_a_few_steps() -> None:
    """bf16 autocast changes rounding, not the algorithm: after 3 steps the weights agree to
    bf16's precision (8 bits of mantissa: relative error around 1e-2)."""
    weights = {}
    for amp in ("off", "bf16"):
        config = preset("dcgan", profile="tiny", train__amp=amp, train__batch_size=8,
                        data__size=64)
        trainer = Trainer(config, device="cpu", progress=False)
        for _ in range(3):
            trainer.train_step()
        weights[amp] = torch.cat([p.detach().flatten() for p in trainer.G.parameters()])
    diff = (weights["bf16"] - weights["off"]).norm() / weights["off"].norm()
    assert 0 < diff < 0.05


@pytest.mark.parametrize("model", ["dcgan", "progan"])
def test_conv_models_train_channels_last_on_the_cpu(model: str) -> None:
    config = preset(model, profile="tiny", train__batch_size=8, data__size=64)
    trainer = Trainer(config, device="cpu", progress=False)
    assert trainer.channels_last == use_channels_last(config.arch.family, CPU)
    if trainer.channels_last:
        convs = [m for m in trainer.D.modules() if isinstance(m, torch.nn.Conv2d)]
        convs += [m for m in trainer.D.modules() if hasattr(m, "weight") and m.weight.ndim == 4]
        assert convs and all(
            m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
        x = trainer.real_batch(trainer.phase())
        assert x.is_contiguous(memory_format=torch.channels_last)
    trainer.train_step()  # and it trains


def test_mlp_models_never_use_channels_last() -> None:
    assert not use_channels_last("mlp", CPU)
    assert not use_channels_last("mlp", torch.device("cuda"))


def test_channels_last_does_not_change_what_dcgan_computes() -> None:
    """Memory layout is an implementation detail: the same step from the same weights gives the
    same losses and weights to float rounding."""
    torch.manual_seed(0)
    config = preset("dcgan", profile="tiny", train__batch_size=8, data__size=64,
                    train__amp="off")
    results = []
    for layout in (torch.contiguous_format, torch.channels_last):
        trainer = Trainer(config, device="cpu", progress=False)
        trainer.G.to(memory_format=layout)
        trainer.D.to(memory_format=layout)
        trainer.channels_last = layout == torch.channels_last
        torch.manual_seed(1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            stats = trainer.train_step()
        results.append((stats, [p.detach().clone() for p in trainer.G.parameters()]))
    (s0, w0), (s1, w1) = results
    for k in s0:
        torch.testing.assert_close(s0[k], s1[k], rtol=1e-4, atol=1e-5)
    for a, b in zip(w0, w1):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model, data, expected", [
    ("dcgan", "shapes", torch.bfloat16), ("progan", "shapes", torch.bfloat16),
    ("vanilla", "shapes", torch.bfloat16),  # an MLP on images: large products, bf16 pays
    ("vanilla", "ring8", None), ("lsgan", "ring8", None),  # 2-D points: fp32
])
def test_auto_on_a_bf16_cpu_picks_bf16_for_images_and_fp32_for_points(
        monkeypatch: pytest.MonkeyPatch, model: str, data: str,
        expected: torch.dtype | None) -> None:
    monkeypatch.setattr(hardware, "cpu_bf16_units", lambda: ("avx512_bf16",))
    config = preset(model, data, profile="tiny")
    assert config.train.amp == "auto"
    assert autocast_dtype(config, torch.device("cpu")) is expected
    # an explicit bf16 is honoured for points too; off is fp32 everywhere
    assert autocast_dtype(config.replace(train__amp="bf16"), torch.device("cpu")) is torch.bfloat16
    assert autocast_dtype(config.replace(train__amp="off"), torch.device("cpu")) is None


def test_auto_without_bf16_units_is_fp32_for_every_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware, "cpu_bf16_units", lambda: ())
    for model, data in (("dcgan", "shapes"), ("vanilla", "ring8")):
        assert autocast_dtype(preset(model, data, profile="tiny"), torch.device("cpu")) is None


def test_cpu_flags_are_the_speed_flags_of_proc_cpuinfo() -> None:
    flags = hardware.cpu_flags()
    assert set(flags) <= set(hardware.SPEED_FLAGS)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        line = next(x for x in cpuinfo.read_text().splitlines() if x.startswith("flags"))
        listed = set(line.split(":", 1)[1].split())
        assert set(flags) == listed & set(hardware.SPEED_FLAGS)
