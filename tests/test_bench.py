"""Tests for ganlab.bench and ``ganlab bench``: FLOP counting, the reference loop, the report."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch

from ganlab import bench
from ganlab.cli import main
from ganlab.models import build

CASE_FIELDS = {"name", "description", "batch_size", "precision", "channels_last",
               "steps_per_round", "rounds", "reference_img_per_s", "ganlab_img_per_s", "speedup",
               "gflop_per_step", "achieved_gflop_s", "share_fp32_peak", "share_bf16_peak",
               "ceiling_speedup", "reference_times", "ganlab_times", "compiled_img_per_s",
               "compiled_speedup", "compile_seconds", "compile_seconds_cached",
               "break_even_steps", "compiled_times"}


def test_count_flops_matches_the_formula_for_a_linear_layer() -> None:
    B, fan_in, fan_out = 32, 64, 16
    layer = torch.nn.Linear(fan_in, fan_out, bias=False)
    x = torch.randn(B, fan_in)  # no grad: backward computes only dL/dW

    def step() -> None:
        layer(x).sum().backward()

    # forward x @ W^T: 2*B*in*out; backward dW = grad^T @ x: 2*B*in*out
    assert bench.count_flops(step) == 4 * B * fan_in * fan_out


def test_matmul_peak_is_a_positive_rate() -> None:
    peak = bench.matmul_peak(torch.float32, torch.device("cpu"), n=128, min_seconds=0.01)
    assert math.isfinite(peak) and peak > 0


def test_reference_loop_is_seed_001s_algorithm() -> None:
    case = next(c for c in bench.standard_cases(quick=True) if c.name.startswith("dcgan"))
    torch.manual_seed(0)
    G, D = build(case.config.arch)
    images = torch.rand(64, *case.data_shape) * 2 - 1
    ref = bench.ReferenceLoop(G, D, images, 16, torch.device("cpu"), {}, num_workers=0)
    before = [p.detach().clone() for p in (*G.parameters(), *D.parameters())]
    for _ in range(5):  # more steps than batches per epoch: the loader restarts
        ref.step()
    ref.close()
    after = list((*G.parameters(), *D.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(before, after))  # both nets were updated
    assert len(ref.G_losses) == len(ref.D_losses) == 5  # .item() every step
    # BCE of a sigmoid: both losses are positive; D's is the sum of its real and fake terms
    assert all(v > 0 for v in ref.G_losses + ref.D_losses)


def test_unknown_case_is_an_error_listing_the_cases() -> None:
    with pytest.raises(ValueError, match="unknown bench case.*dcgan16"):
        bench.run_bench(quick=True, cases=["nope"])


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        assert main(["bench", "--quick", "--json", str(out)]) == 0
    return json.loads(Path(out).read_text()), buf.getvalue()


def test_quick_bench_report_has_every_field(quick_report: tuple[dict, str]) -> None:
    report, _ = quick_report
    assert report["ganlab_bench"] == 1 and report["quick"] is True
    assert report["device"] == "cpu"
    assert set(report["cpu"]) >= {"name", "capability", "bf16_units", "threads"}
    assert "seed 001" in report["reference"] and "BCELoss" in report["reference"]
    peaks = report["matmul_gflop_s"]
    assert peaks["fp32"] > 0 and peaks["bf16"] > 0
    for precision, rates in report["matmul_paths_gflop_s"].items():
        assert set(rates) == {"mm", "conv1x1"}  # BLAS and oneDNN on a CPU
        assert peaks[precision] == max(rates.values())
    names = [c["name"] for c in report["cases"]]
    assert names == ["dcgan16", "progan8", "progan16", "vanilla28", "vanilla2d"]
    for c in report["cases"]:
        assert set(c) == CASE_FIELDS, c["name"]
        assert c["reference_img_per_s"] > 0 and c["ganlab_img_per_s"] > 0
        assert c["speedup"] == pytest.approx(c["ganlab_img_per_s"] / c["reference_img_per_s"])
        assert c["precision"] in ("fp32", "bf16 autocast")
        assert len(c["ganlab_times"]) == len(c["reference_times"]) == c["rounds"]
        assert c["gflop_per_step"] > 0
        assert c["share_fp32_peak"] == pytest.approx(c["achieved_gflop_s"] / peaks["fp32"])
        # at 100% of its precision's peak a step takes flops / peak seconds
        peak = peaks["bf16" if "bf16" in c["precision"] else "fp32"]
        ref_step = c["batch_size"] / c["reference_img_per_s"]
        assert c["ceiling_speedup"] == pytest.approx(ref_step / (c["gflop_per_step"] / peak))
        assert c["compiled_img_per_s"] is None and c["compiled_times"] == []  # --compile off
    conv = {c["name"][:5]: c["channels_last"] for c in report["cases"]}
    assert conv["vanil"] is False


def test_quick_bench_prints_a_table_naming_the_machine(quick_report: tuple[dict, str]) -> None:
    report, text = quick_report
    assert report["cpu"]["name"] in text
    assert "speed-up" in text and "fp32 peak" in text
    for c in report["cases"]:
        assert c["name"] in text


def test_ceiling_of_older_reports_comes_from_speedup_and_share() -> None:
    old = {"speedup": 1.2, "precision": "fp32", "share_fp32_peak": 0.8, "share_bf16_peak": 0.4}
    assert bench.ceiling(old) == pytest.approx(1.2 / 0.8)
    assert bench.ceiling({**old, "precision": "bf16 autocast"}) == pytest.approx(1.2 / 0.4)


def _report(**compiled: object) -> dict:
    case = {"name": "dcgan16", "description": "DCGAN 16px", "precision": "fp32",
            "reference_img_per_s": 100.0, "ganlab_img_per_s": 150.0, "speedup": 1.5,
            "ceiling_speedup": 2.0, "gflop_per_step": 1.0, "achieved_gflop_s": 50.0,
            "share_fp32_peak": 0.5, "share_bf16_peak": 0.25, "rounds": 1, "steps_per_round": 2,
            **compiled}
    return {"device": "cpu", "device_name": "CPU", "torch": "2", "reference": "seed 001",
            "cpu": {"name": "CPU", "architecture": "x86_64", "capability": "AVX2",
                    "bf16_units": [], "threads": 2},
            "matmul_gflop_s": {"fp32": 100.0, "bf16": 200.0}, "cases": [case]}


def test_markdown_shows_compile_columns_only_when_compiled() -> None:
    plain = bench.format_markdown(_report(), "ganlab bench")
    assert "break-even" not in plain and "| 1.50x | 2.00x |" in plain
    paid = _report(compiled_img_per_s=300.0, compiled_speedup=3.0, compile_seconds=40.0,
                   compile_seconds_cached=4.0, break_even_steps=1234.4)
    text = bench.format_markdown(paid, "ganlab bench --compile on")
    assert "| compiled | compile (cold / cached) | break-even |" in text
    assert "| 300 img/s (3.00x) | 40 s / 4 s | 1,234 steps |" in text
    never = _report(compiled_img_per_s=90.0, compiled_speedup=0.9, compile_seconds=40.0,
                    compile_seconds_cached=4.0, break_even_steps=None)
    assert "| never |" in bench.format_markdown(never, "ganlab bench --compile on")
    assert "never repaid" in bench.format_report({**never, "matmul_paths_gflop_s": {}})


def test_bench_times_a_compiled_trainer_in_the_same_rounds(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The compile path of the bench, with torch.compile replaced by the identity (fast)."""
    from ganlab.training import compiled

    monkeypatch.setattr(compiled.torch, "compile", lambda fn, **options: fn)
    monkeypatch.setattr(compiled, "unavailable_reason", lambda device_type: None)
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    case = next(c for c in bench.standard_cases(quick=True) if c.name == "vanilla2d")
    result = bench.bench_case(case, torch.device("cpu"), rounds=2, round_seconds=0.01,
                              peaks={"fp32": 100.0, "bf16": 100.0}, num_workers=0,
                              compile="on")
    assert len(result.compiled_times) == len(result.ganlab_times) == 2
    assert result.compiled_img_per_s > 0 and result.compile_seconds >= 0
    assert result.compile_seconds_cached >= 0
    assert result.compiled_speedup == pytest.approx(
        result.compiled_img_per_s / result.reference_img_per_s)
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path)  # the bench's own is gone


def test_a_path_too_slow_for_the_budget_is_measured_smaller(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """bf16 mm without bf16 units takes a minute at n = 2048: it is timed at n / 4."""
    import time

    sizes_timed: dict[str, set[int]] = {"slow": set(), "fast": set()}

    def fake_paths(dtype: torch.dtype, device: torch.device, n: int) -> dict:
        def slow() -> None:
            sizes_timed["slow"].add(n)
            time.sleep(0.1 if n == 64 else 30.0)  # 64 times longer at 4 times the size

        def fast() -> None:
            sizes_timed["fast"].add(n)

        return {"slow": slow, "fast": fast}

    monkeypatch.setattr(bench, "_product_paths", fake_paths)
    rates = bench.matmul_paths(torch.float32, torch.device("cpu"), n=256, min_seconds=0.01,
                               rounds=1)
    assert sizes_timed == {"slow": {64}, "fast": {64, 256}}  # 64: every path's first probe
    assert rates["slow"] == pytest.approx(2 * 64**3 / 0.1 / 1e9, rel=0.5)
