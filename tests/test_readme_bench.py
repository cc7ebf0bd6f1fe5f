"""The README's speed tables are rendered from committed `ganlab bench` reports, not typed."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from ganlab.bench import format_markdown

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("readme_bench", ROOT / "scripts/readme_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report(**case) -> dict:
    row = dict(name="dcgan64", description="DCGAN 64px", batch_size=128, precision="fp32",
               channels_last=True, steps_per_round=3, rounds=5, reference_img_per_s=50.0,
               ganlab_img_per_s=65.0, speedup=1.3, gflop_per_step=291.0,
               achieved_gflop_s=147.9, share_fp32_peak=0.75, share_bf16_peak=0.37)
    row.update(case)
    return {"device": "cpu", "device_name": "Test CPU", "torch": "2.14.1",
            "cpu": {"name": "Test CPU", "architecture": "x86_64", "capability": "AVX512",
                    "bf16_units": ["avx512_bf16"], "threads": 2},
            "matmul_gflop_s": {"fp32": 197.2, "bf16": 400.0}, "cases": [row]}


def test_markdown_table_names_the_machine_the_command_and_every_number() -> None:
    text = format_markdown(_report(), "ganlab bench --json x.json")
    assert text.startswith("`ganlab bench --json x.json` on Test CPU (x86_64, AVX512, "
                           "avx512_bf16, 2 threads)")
    assert "fp32 197 GFLOP/s, bf16 400 GFLOP/s" in text
    row = text.splitlines()[-1]
    # ceiling: the speed-up at 100% of the fp32 peak, 1.3 / 0.75 (older reports lack the field)
    assert row == ("| DCGAN 64px | fp32 | 50 img/s | 65 img/s | 1.30x | 1.73x | 148 | 75% | 37% |")


def test_readme_speed_tables_match_their_reports() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = list(_script().BLOCK.finditer(readme))
    assert blocks, "README.md has no <!-- bench: FILE | COMMAND --> table"
    for m in blocks:
        report = json.loads((ROOT / m["file"]).read_text())
        assert report["quick"] is False, f"{m['file']} is a --quick report"
        assert f"--json {m['file']}" in m["command"], "the command must write the file it names"
        assert m["body"].strip() == format_markdown(report, m["command"]), (
            "README.md's speed table is out of date: run python scripts/readme_bench.py")
    assert "PERF_TABLE" not in readme


def test_a_stale_table_is_detected(tmp_path: Path) -> None:
    report = _report()
    (tmp_path / "r.json").write_text(json.dumps(report))
    stale = "<!-- bench: r.json | ganlab bench --json r.json -->\n| old |\n<!-- /bench -->\n"
    fresh = _script().render(stale, root=tmp_path)
    assert "| old |" not in fresh and "65 img/s" in fresh
    assert _script().render(fresh, root=tmp_path) == fresh  # idempotent
    with pytest.raises(FileNotFoundError):
        _script().render(stale.replace("r.json", "missing.json"), root=tmp_path)
    assert re.search(r"1\.30x", fresh)
