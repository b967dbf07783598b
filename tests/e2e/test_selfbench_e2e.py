"""``bench selfbench --quick``: the benchmark's output format (not its speed)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from support import run_bench

pytestmark = pytest.mark.e2e


def test_selfbench_quick_writes_its_table_and_csv(tmp_path: Path) -> None:
    result = run_bench("selfbench", "--quick", "--out", str(tmp_path), timeout_s=240)
    assert result.code == 0, result.stderr[-3000:]
    with (tmp_path / "selfbench.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "variant",
        "requests",
        "parts",
        "wall_s",
        "cpu_s",
        "per_cpu_s",
        "per_cpu_s_min",
        "per_cpu_s_max",
        "p50_ms",
        "p99_ms",
    ]
    variants = [r["variant"] for r in rows]
    assert variants[:3] == ["ceiling", "bare-boto3", "ours-boto3"]
    assert "stream-boto3" in variants
    for row in rows:
        assert int(row["requests"]) > 0, row
        assert float(row["cpu_s"]) > 0
        assert float(row["per_cpu_s"]) > 0
    streams = next(r for r in rows if r["variant"] == "stream-boto3")
    assert int(streams["parts"]) >= 64 * int(
        streams["requests"]
    )  # 64 tokens a stream, at least one part each
    assert "per CPU-s" in result.stdout
    assert "ours boto3 / bare boto3" in result.stdout
