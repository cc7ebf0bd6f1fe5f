"""Tests for ganlab.profiling and scripts/profile_step.py: every operator lands in the category
its name says, the categories add up to the step, and the document has the rows it promises."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

from ganlab import hardware, profiling

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("name", "in_optimizer", "category"),
    [
        ("aten::mkldnn_convolution", False, "conv fwd"),
        ("aten::convolution", False, "conv fwd"),
        ("aten::convolution_backward", False, "conv bwd"),
        ("aten::addmm", False, "matmul"),
        ("aten::mm", False, "matmul"),
        ("aten::native_batch_norm", False, "batch norm"),
        ("aten::native_batch_norm_backward", False, "batch norm"),
        ("aten::leaky_relu_backward", False, "elementwise"),
        ("aten::mean", False, "elementwise"),
        ("aten::sqrt", True, "optimizer"),
        ("aten::copy_", False, "copies"),
        ("aten::_to_copy", False, "copies"),
        ("aten::randn", False, "random & data"),
        ("aten::index", False, "random & data"),
        ("autograd::engine::evaluate_function: ConvolutionBackward0", False, "autograd engine"),
        ("torch::autograd::AccumulateGrad", False, "autograd engine"),
        ("graph_1_cpp_fused_leaky_relu_mul_2", False, "compiled kernels"),
        ("## Call CompiledFxGraph fabc ##", False, "compiled kernels"),
        ("LeakyReluBackward0", False, "other ops"),
    ],
)
def test_operators_land_in_their_category(name: str, in_optimizer: bool, category: str) -> None:
    assert profiling.categorise(name, in_optimizer) == category


class Small(nn.Module):
    """A conv, batch norm, activation and linear layer: one of each category."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 8 * 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))  # (B, 1)


def test_a_profiled_step_is_split_into_categories_that_add_up() -> None:
    torch.manual_seed(0)
    model = Small()
    opt = torch.optim.Adam(model.parameters(), foreach=True)
    x = torch.randn(4, 3, 8, 8)

    def run(n: int) -> None:
        for _ in range(n):
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()

    result = profiling.profile_calls(run, steps=3, label="small", warmup=1)
    for category in ("conv fwd", "conv bwd", "matmul", "batch norm", "elementwise",
                     "optimizer"):
        assert result.ms[category] > 0, category
    assert result.ms["python & overhead"] >= 0
    assert sum(result.ms.values()) == pytest.approx(result.wall_ms, rel=1e-6)
    assert result.unprofiled_ms > 0 and result.steps == 3
    assert result.top_ops["conv bwd"][0][0] == "aten::convolution_backward"

    table = profiling.format_markdown([result])
    rows = [line.split("|")[1].strip() for line in table.splitlines()[2:]]
    assert rows[:6] == ["conv fwd", "conv bwd", "matmul", "batch norm", "elementwise",
                        "optimizer"]
    assert rows[-3:] == ["python & overhead", "**step, profiled**", "step, not profiled"]
    assert "small" in profiling.reading(result) and "matrix products" in profiling.reading(result)


def test_profile_script_writes_the_document(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("profile_step", ROOT / "scripts/profile_step.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "profile.md"
    assert script.main(["--quick", "--cases", "vanilla2d", "--precisions", "fp32",
                        "--out", str(out)]) == 0
    text = out.read_text()
    assert "python scripts/profile_step.py --quick --cases vanilla2d" in text
    assert hardware.cpu_name() in text and torch.__version__ in text
    assert "## vanilla2d:" in text
    assert "| category | seed-001 loop, fp32 | ganlab, fp32 |" in text
    for row in ("| matmul |", "| optimizer |", "| python & overhead |",
                "| step, not profiled |"):
        assert row in text, row
