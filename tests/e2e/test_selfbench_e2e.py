"""``bench selfbench --quick``: the benchmark's output format (not its speed)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from support import run_bench


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
        "target_per_cpu_s",
    ]
    variants = [r["variant"] for r in rows]
    assert variants[:4] == ["ceiling", "bare-boto3", "bare-boto3-id", "ours-boto3"]
    assert "stream-boto3" in variants
    assert variants[-1] == "master-ingest"
    for row in rows:
        assert int(row["requests"]) > 0, row
        assert float(row["cpu_s"]) > 0, row
        assert float(row["per_cpu_s"]) > 0
    for row in rows[:-1]:  # the in-process window of one gevent process: at most about a core
        assert float(row["cpu_s"]) <= 1.2 * float(row["wall_s"]), row
    streams = next(r for r in rows if r["variant"] == "stream-boto3")
    assert int(streams["parts"]) >= 64 * int(streams["requests"])  # 64 tokens a stream, one part or more each
    ingest = rows[-1]
    assert float(ingest["target_per_cpu_s"]) == 50_000
    assert int(ingest["requests"]) == int(ingest["parts"]) == 20_000
    assert all(r["target_per_cpu_s"] == "" for r in rows[:-1])
    assert "per CPU-s" in result.stdout
    assert "ours boto3 / bare boto3" in result.stdout
    assert "ours boto3 / bare boto3+id" in result.stdout
    line = next(line for line in result.stdout.splitlines() if line.startswith("master ingest"))
    figure = float(re.search(r"([\d,]+) records per CPU-s", line).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert figure == pytest.approx(float(ingest["per_cpu_s"]), rel=1e-3, abs=1)
    assert re.search(r"target >= 50,000: (met|NOT met)\)", line)
