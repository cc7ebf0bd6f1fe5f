"""Tests for ganlab.bench and ``ganlab bench``: FLOP counting, the reference loop, the report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from ganlab import bench
from ganlab.cli import main
from ganlab.models import build

CASE_FIELDS = {"name", "description", "batch_size", "precision", "channels_last",
               "steps_per_round", "rounds", "reference_img_per_s", "ganlab_img_per_s", "speedup",
               "gflop_per_step", "achieved_gflop_s", "share_fp32_peak", "share_bf16_peak",
               "reference_times", "ganlab_times"}


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
    conv = {c["name"][:5]: c["channels_last"] for c in report["cases"]}
    assert conv["vanil"] is False


def test_quick_bench_prints_a_table_naming_the_machine(quick_report: tuple[dict, str]) -> None:
    report, text = quick_report
    assert report["cpu"]["name"] in text
    assert "speed-up" in text and "fp32 peak" in text
    for c in report["cases"]:
        assert c["name"] in text
