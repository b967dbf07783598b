"""``bench selfbench --quick``: the benchmark's output format (not its speed), open-loop line included."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from support import run_bench

from bench.config import TRANSPORTS
from bench.selfbench_openloop import CSV_COLUMNS, OPEN_LOOP_CSV


def test_selfbench_quick_writes_its_table_and_csv(tmp_path: Path) -> None:
    result = run_bench("selfbench", "--quick", "--out", str(tmp_path), timeout_s=300)
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
    check_open_loop(tmp_path / OPEN_LOOP_CSV, {r["variant"]: r for r in rows}, result.stdout)


def check_open_loop(path: Path, closed: dict[str, dict[str, str]], stdout: str) -> None:
    """The open-loop search's rows: per transport, at most 3 trials (--quick) from half the closed
    loop's throughput, each verdict and ratio as its own figures give, the printed verdict as well."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    transports = [t for t in ("boto3", "fast") if t in TRANSPORTS]
    assert sorted({r["transport"] for r in rows}) == sorted(transports)
    assert "open loop (poisson, one process" in stdout
    for transport in transports:
        trials = [r for r in rows if r["transport"] == transport]
        ours = closed[f"ours-{transport}"]
        assert 1 <= len(trials) <= 3
        assert [int(r["step"]) for r in trials] == list(range(1, len(trials) + 1))
        start = float(ours["requests"]) / float(ours["wall_s"]) / 2
        assert float(trials[0]["rate_per_s"]) == max(1, round(start))
        for row in trials:
            scheduled, sent, requests = int(row["scheduled"]), int(row["sent"]), int(row["requests"])
            wall_s, cpu_s = float(row["wall_s"]), float(row["cpu_s"])
            lag_p50, lag_p99 = float(row["lag_p50_ms"]), float(row["lag_p99_ms"])
            assert min(scheduled, sent, requests) > 0, row
            assert 0.4 <= wall_s <= 1.5, row  # --quick: windows of 0.5 s
            assert 0 < cpu_s <= 1.2 * wall_s, row
            assert 0 <= lag_p50 <= lag_p99, row
            assert 0 <= int(row["late"]) <= requests, row
            held = abs(sent - scheduled) <= 0.01 * scheduled and lag_p99 < 1.0
            assert row["held"] == str(int(held)), row
            assert float(row["achieved_per_s"]) == pytest.approx(sent / wall_s, rel=1e-3)
            assert float(row["per_cpu_s"]) == pytest.approx(requests / cpu_s, rel=1e-3)
            assert float(row["closed_per_cpu_s"]) == pytest.approx(float(ours["per_cpu_s"]), rel=1e-3)
            closed_per_cpu_s = float(row["closed_per_cpu_s"])
            assert float(row["per_cpu_ratio"]) == pytest.approx(requests / cpu_s / closed_per_cpu_s, rel=1e-3)
            assert float(row["rate_ratio"]) == pytest.approx(
                float(row["rate_per_s"]) / closed_per_cpu_s, rel=1e-3
            )
        chosen = [r for r in trials if r["chosen"] == "1"]
        held_rates = [float(r["rate_per_s"]) for r in trials if r["held"] == "1"]
        assert len(chosen) == (1 if held_rates else 0)
        if chosen:
            assert chosen[0]["held"] == "1"
            assert float(chosen[0]["rate_per_s"]) == max(held_rates)
        line = next(line for line in stdout.splitlines() if line.startswith(f"open / closed {transport} "))
        if transport == "fast":
            assert {r["target_ratio"] for r in trials} == {"0.8"}
            met = bool(chosen) and all(float(chosen[0][k]) >= 0.8 for k in ("per_cpu_ratio", "rate_ratio"))
            assert line.endswith(f"(target >= 0.8: {'PASS' if met else 'MISS'})"), line
        else:
            assert {r["target_ratio"] for r in trials} == {""}
            assert "target" not in line
