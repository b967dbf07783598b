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
from bench.collect import COLUMNS
from bench.report import write_tables


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
