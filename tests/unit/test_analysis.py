"""Exact summaries: percentiles equal numpy's on the raw values; warm-up; errors; timeseries."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.analysis import load_records, measured, percentile, summarize
from bench.analysis.compare import compare_runs
from bench.cli import main
from bench.collect import COLUMNS
from bench.report import write_run_json, write_tables


def _write_records(
    path: Path, latencies: list[float], *, errors: int = 0, start: float = 1000.0, step: float = 0.01
) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i, latency in enumerate(latencies):
            failed = i < errors
            row = dict.fromkeys(COLUMNS, "")
            row.update(
                timestamp_s=f"{start + i * step:.6f}",
                intended_start_s=f"{start + i * step:.6f}",
                worker="local",
                user_class="U",
                request_type="invoke",
                name="ep" if i % 2 else "ep2",
                endpoint="ep",
                variant="AllTraffic" if not failed else "",
                status="error" if failed else "ok",
                error_type="Throttling" if failed else "",
                error_stage="request" if failed else "",
                latency_ms=f"{latency:.3f}",
                users="4",
            )
            writer.writerow([row[c] for c in COLUMNS])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=0.001, max_value=60000, allow_nan=False), min_size=1, max_size=300))
def test_percentiles_equal_numpy(tmp_path_factory: pytest.TempPathFactory, latencies: list[float]) -> None:
    path = tmp_path_factory.mktemp("run") / "requests.csv"
    _write_records(path, latencies)
    summary = summarize(load_records(path))
    values = np.round(np.array(latencies), 3)
    all_row = summary[summary["request_type"] == "ALL"].iloc[0]
    for column, q in [
        ("latency_p50_ms", 50),
        ("latency_p95_ms", 95),
        ("latency_p99_ms", 99),
        ("latency_p999_ms", 99.9),
    ]:
        assert all_row[column] == pytest.approx(np.percentile(values, q), rel=1e-12, abs=1e-9)
    assert all_row["latency_max_ms"] == pytest.approx(values.max())
    assert all_row["count"] == len(latencies)


def test_summary_groups_errors_rps_and_warmup(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    _write_records(path, [10.0] * 100, errors=10, step=0.1)
    frame = load_records(path)
    summary = summarize(frame)
    all_row = summary[summary["name"] == "ALL"].iloc[0]
    assert (all_row["count"], all_row["errors"]) == (100, 10)
    assert all_row["error_rate"] == pytest.approx(0.1)
    window = (1000.0 + 99 * 0.1 + 0.010) - 1000.0
    assert all_row["rps"] == pytest.approx(100 / window)
    groups = summary[summary["name"] != "ALL"]
    assert groups["count"].sum() == 100
    assert groups["rps"].sum() == pytest.approx(all_row["rps"])
    assert len(measured(frame, 5.0)) == 50
    assert percentile(pd.Series([], dtype=float), 50) != percentile(pd.Series([], dtype=float), 50)  # NaN


def test_write_tables_regenerates_reports(tmp_path: Path) -> None:
    _write_records(tmp_path / "requests.csv", [5.0, 6.0, 7.0, 100.0], errors=1)
    (tmp_path / "error_samples.json").write_text(
        '[{"error_type": "Throttling", "error_stage": "request", "message": "Rate exceeded"}]'
    )
    tables = write_tables(tmp_path, warmup_s=0.0)
    errors = pd.read_csv(tmp_path / "errors.csv")
    assert errors.loc[0, "error_type"] == "Throttling"
    assert errors.loc[0, "count"] == 1
    assert errors.loc[0, "sample_message"] == "Rate exceeded"
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert list(summary.columns)[:4] == ["request_type", "name", "variant", "count"]
    assert summary.iloc[-1]["latency_p50_ms"] == pytest.approx(7.0)  # over the 3 successful requests
    timeseries = pd.read_csv(tmp_path / "timeseries.csv")
    assert timeseries["rps"].sum() == tables.records == 4


def test_output_tokens_per_second_of_streams() -> None:
    from bench.analysis.summary import output_tokens_per_s

    frame = pd.DataFrame(
        {
            "latency_ms": [1100.0, 500.0, 300.0],
            "ttft_ms": [100.0, 500.0, float("nan")],
            "tokens": [51.0, 1.0, 10.0],
        }
    )
    rates = output_tokens_per_s(frame)
    assert rates.iloc[0] == pytest.approx(50.0)  # 50 tokens after the first, in 1 s
    assert rates.iloc[1:].isna().all()  # one token, or no first token: no rate


def test_the_measured_window_starts_at_the_runs_cut(tmp_path: Path) -> None:
    """run.json's measured_from_s (the run's one warm-up cut) wins over "warmup_s after the first request"."""
    _write_records(tmp_path / "requests.csv", [10.0] * 100, step=0.1)  # starts 1000.0 ... 1009.9
    assert write_tables(tmp_path, warmup_s=2.0).measured_records == 80  # no run.json: the first request + 2 s
    write_run_json(tmp_path, {"config": {"warmup_s": 2.0}, "measured_from_s": 1005.0})
    tables = write_tables(tmp_path, warmup_s=2.0)
    assert (tables.measured_records, tables.records) == (50, 100)
    assert pd.read_csv(tmp_path / "summary.csv").iloc[-1]["count"] == 50
    assert write_tables(tmp_path, measured_from_s=1008.0).measured_records == 20  # given: it wins
    assert len(pd.read_csv(tmp_path / "timeseries.csv")) == 10  # every record, warm-up included
    write_run_json(tmp_path, {"config": {"warmup_s": 2.0}, "measured_from_s": None})  # no usable cut
    assert write_tables(tmp_path, warmup_s=2.0).measured_records == 80


def test_bench_report_warmup_moves_the_runs_cut(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_records(tmp_path / "requests.csv", [10.0] * 100, step=0.1)
    # the run started at 999.5 (before its first request) with a 2 s warm-up
    write_run_json(tmp_path, {"config": {"warmup_s": 2.0}, "measured_from_s": 1001.5})
    assert main(["report", str(tmp_path)]) == 0
    assert pd.read_csv(tmp_path / "summary.csv").iloc[-1]["count"] == 85
    assert main(["report", str(tmp_path), "--warmup", "4s"]) == 0  # from the same start: 1003.5
    assert pd.read_csv(tmp_path / "summary.csv").iloc[-1]["count"] == 65
    assert "from 100 requests" in capsys.readouterr().out


def test_compare_reads_each_run_after_its_own_cut(tmp_path: Path) -> None:
    for label, cut in (("base", 1002.0), ("cand", None)):
        (tmp_path / label).mkdir()
        _write_records(tmp_path / label / "requests.csv", [10.0] * 100, step=0.1)
        write_run_json(tmp_path / label, {"config": {"warmup_s": 1.0}, "measured_from_s": cut})
    comparison = compare_runs(tmp_path / "base", tmp_path / "cand")
    row = next(r for r in comparison.rows if r.name == "ALL" and r.metric == "error_rate")
    assert (row.baseline_count, row.candidate_count) == (80, 90)  # the cut; the first request + 1 s
    assert {(r.request_type, r.name) for r in comparison.rows} == {
        ("invoke", "ep"),
        ("invoke", "ep2"),
        ("ALL", "ALL"),
    }
