"""Open-loop figures (issue #14): summary.csv's lag, late and rate columns, the closing lines and
``bench report`` on a requests.csv whose lags and latencies are known exactly."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.analysis import SUMMARY_COLUMNS, records_frame, summarize
from bench.analysis.openloop import (
    ArrivalOutcome,
    MeasuredLoad,
    achieved_rate_per_s,
    from_run_info,
    in_flight,
    users_advised,
)
from bench.cli import main
from bench.collect import RequestRecord
from bench.collect.writer import CsvRecordWriter
from bench.report import write_run_json, write_tables
from bench.report.closing import closing_lines

# Ten requests scheduled every 0.1 s from 1000.0 (constant, 10 req/s), sent this many ms late; the
# last is an error. Latencies 105, 115, ... 195 ms (mean 150 ms); names alternate a, b.
LAGS_MS = (0.0, 0.5, 2.0, 0.0, 0.0, 3.0, 0.0, 0.25, 0.0, 5.0)
ARRIVAL = ArrivalOutcome(rate_per_s=10.0, distribution="constant", sent=10, not_sent=2)
RUN_INFO: dict[str, object] = {
    "arrival": {"rate_per_s": 10.0, "distribution": "constant", "seed": 0, "sent": 10, "not_sent": 2}
}
CLOSED_LOOP_LINE_START = "bench: run directory "


def _record(i: int, *, users: int = 2, lag_ms: float | None = None) -> RequestRecord:
    lag = LAGS_MS[i] if lag_ms is None else lag_ms
    latency = 105.0 + 10 * i
    failed = i == 9
    return RequestRecord(
        timestamp_s=1000.0 + i * 0.1 + lag / 1000,
        intended_start_s=1000.0 + i * 0.1,
        worker="local",
        user_class="U",
        request_type="invoke",
        name="a" if i % 2 == 0 else "b",
        endpoint="ep",
        variant="AllTraffic",
        target_model=None,
        inference_id=None,
        users=users,
        step=None,
        status="error" if failed else "ok",
        error_type="Throttling" if failed else None,
        error_stage="request" if failed else None,
        http_status=429 if failed else 200,
        latency_ms=latency,
        schedule_lag_ms=lag,
        effective_latency_ms=latency + lag,
    )


def _run(run_dir: Path, records: list[RequestRecord], info: dict[str, object] | None = None) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    writer = CsvRecordWriter(run_dir / "requests.csv")
    for record in records:
        writer.write(record)
    writer.close()
    write_run_json(run_dir, {"config": {"warmup_s": 0.0}, **(info if info is not None else RUN_INFO)})
    return run_dir


def _all(summary: pd.DataFrame) -> pd.Series:
    return summary[summary["request_type"] == "ALL"].iloc[0]


def test_summary_columns_keep_the_old_order_with_the_new_ones_in_place() -> None:
    old = [c for c in SUMMARY_COLUMNS if c not in NEW_COLUMNS]
    assert old[:8] == [
        "request_type",
        "name",
        "variant",
        "count",
        "errors",
        "unfinished",
        "error_rate",
        "rps",
    ]
    position = {c: i for i, c in enumerate(SUMMARY_COLUMNS)}
    assert position["error_rate"] < position["late"] < position["late_rate"] < position["schedule_lag_p99_ms"]
    assert (
        position["schedule_lag_p99_ms"] < position["rps"] < position["target_rps"] < position["achieved_rps"]
    )
    assert position["achieved_rps"] < position["latency_mean_ms"]
    assert position["latency_max_ms"] + 1 == position["effective_latency_p50_ms"]
    assert position["effective_latency_p99_ms"] + 1 == position["ttfp_p50_ms"]


NEW_COLUMNS = (
    "late",
    "late_rate",
    "schedule_lag_p99_ms",
    "target_rps",
    "achieved_rps",
    "effective_latency_p50_ms",
    "effective_latency_p95_ms",
    "effective_latency_p99_ms",
)


def test_known_lags_and_latencies_give_every_open_loop_figure(tmp_path: Path) -> None:
    run = _run(tmp_path / "run", [_record(i) for i in range(10)])
    tables = write_tables(run, arrival=ARRIVAL)
    written = pd.read_csv(run / "summary.csv")
    assert list(written.columns) == list(SUMMARY_COLUMNS)
    row = _all(written)
    assert (row["count"], row["errors"], row["late"]) == (10, 1, 3)  # lags of 2, 3 and 5 ms (the error's)
    assert row["late_rate"] == pytest.approx(0.3)
    # every request's lag, sorted 0 x5, 0.25, 0.5, 2, 3, 5: p99 at rank 8.91 = 3 + 0.91 x 2
    assert row["schedule_lag_p99_ms"] == pytest.approx(4.82)
    assert row["target_rps"] == 10.0
    # sends from 1000.000 to 1000.905 (the last is 5 ms late): 9 gaps in 0.905 s
    assert row["achieved_rps"] == pytest.approx(9 / 0.905, abs=1e-3)
    # successful requests' latency + lag: 105, 115.5, 127, 135, 145, 158, 165, 175.25, 185
    assert row["effective_latency_p50_ms"] == pytest.approx(145.0)
    assert row["effective_latency_p95_ms"] == pytest.approx(175.25 + 0.6 * 9.75)
    assert row["effective_latency_p99_ms"] == pytest.approx(175.25 + 0.92 * 9.75)
    assert row["latency_p50_ms"] == pytest.approx(145.0)  # the service latency, without the lag
    assert row["latency_max_ms"] == pytest.approx(185.0)
    groups = written[written["request_type"] != "ALL"].set_index("name")
    assert groups.loc["a", "late"] == 1  # 2 ms (i=2)
    assert groups.loc["b", "late"] == 2  # 3 and 5 ms
    assert groups.loc["b", "late_rate"] == pytest.approx(0.4)
    assert groups["achieved_rps"].sum() == pytest.approx(row["achieved_rps"], abs=2e-3)  # shares add up
    assert groups.loc["a", "achieved_rps"] == pytest.approx(row["achieved_rps"] / 2, abs=1e-3)
    assert groups["target_rps"].isna().all()  # the run's target is the ALL row's
    assert tables.arrival == ARRIVAL
    assert tables.load == MeasuredLoad(users_max=2.0, latency_mean_ms=150.0)  # the error counts too
    # offline, bench report reads the arrival from run.json: the same summary.csv, byte for byte
    first = (run / "summary.csv").read_bytes()
    assert write_tables(run).arrival == ARRIVAL
    assert (run / "summary.csv").read_bytes() == first
    assert main(["report", str(run)]) == 0
    assert (run / "summary.csv").read_bytes() == first


def test_a_closed_loop_run_has_effective_latency_equal_to_latency_and_nothing_late() -> None:
    records = [replace(_record(i, lag_ms=0.0), effective_latency_ms=None) for i in range(10)]
    summary = summarize(records_frame(records))
    for _, row in summary.iterrows():
        assert (row["late"], row["late_rate"], row["schedule_lag_p99_ms"]) == (0, 0.0, 0.0)
        for q in ("p50", "p95", "p99"):
            assert row[f"effective_latency_{q}_ms"] == row[f"latency_{q}_ms"]
        assert math.isnan(row["target_rps"])  # empty cells
        assert math.isnan(row["achieved_rps"])
    open_loop = summarize(records_frame(records), ARRIVAL)
    assert _all(open_loop)["achieved_rps"] == pytest.approx(10.0)  # on schedule: exactly the rate


def test_a_rate_stepped_run_has_no_single_target() -> None:
    stepped = replace(ARRIVAL, rate_per_s=None)
    row = _all(summarize(records_frame([_record(i) for i in range(10)]), stepped))
    assert math.isnan(row["target_rps"])
    assert row["achieved_rps"] == pytest.approx(9 / 0.905, abs=1e-3)


def test_achieved_rate_and_littles_law() -> None:
    sends = np.array([3.0, 1.0, 2.0, 1.5])
    assert achieved_rate_per_s(sends) == pytest.approx(1.5)  # 3 gaps in 2 s
    assert math.isnan(achieved_rate_per_s(np.array([1.0])))
    assert math.isnan(achieved_rate_per_s(np.array([1.0, 1.0, np.nan], dtype=np.float64)))  # no span
    assert in_flight(880.0, 46.5) == pytest.approx(40.92)
    assert users_advised(880.0, 46.5) == 82  # twice Little's L
    assert users_advised(10.0, 150.0) == 7  # L = 1.5: L + 3 sqrt(L) + 1 = 6.2 is more than 2 L
    assert users_advised(1.0, 0.1) == 2


def test_from_run_info_reads_the_arrival_object() -> None:
    assert from_run_info(RUN_INFO) == ARRIVAL
    assert from_run_info({}) is None  # closed loop
    assert from_run_info({"arrival": None}) is None
    stepped = {
        "arrival": {"rate_per_s": None, "distribution": "poisson", "seed": 3, "sent": 5, "not_sent": 0}
    }
    assert from_run_info(stepped) == ArrivalOutcome(None, "poisson", 5, 0)
    broken = {"arrival": {"rate_per_s": "fast", "distribution": 3, "sent": -1, "not_sent": True}}
    assert from_run_info(broken) == ArrivalOutcome(None, "", 0, 0)


def test_the_closing_lines_of_a_run_that_sent_late(tmp_path: Path) -> None:
    run = _run(tmp_path / "run", [_record(i) for i in range(10)])
    tables = write_tables(run)
    closing = closing_lines(tables, run_dir=run, warmup_s=0.0)
    assert (
        "bench: open loop (constant): target 10 req/s, achieved 9.9 req/s; "
        "effective latency (from the intended send) p95 181.10 ms, p99 184.22 ms; schedule lag p99 4.82 ms; "
        "3 late (30%); 2 scheduled sends not sent (the run ended first)"
    ) in closing.lines
    invalid = (
        "bench: INVALID open-loop run: 30% of requests were sent more than 1 ms late: all 2 users were busy; "
        "by Little's law 10 req/s x 150.0 ms mean latency keeps about 1.5 in flight: run with -u 7 or more"
    )
    assert invalid in closing.lines
    assert closing.passed is None  # no gates, no --require-valid: the verdict is not changed
    failing = closing_lines(tables, run_dir=run, warmup_s=0.0, require_valid=True)
    assert failing.passed is False
    assert failing.lines.count("bench: --require-valid: the run fails (exit code 3)") == 1
    both = closing_lines(
        tables, run_dir=run, warmup_s=0.0, require_valid=True, invalid_reasons=("event loop lag",)
    )
    assert both.passed is False
    assert both.lines.count("bench: --require-valid: the run fails (exit code 3)") == 1
    assert sum(line.startswith("bench: INVALID") for line in both.lines) == 2
    # the arrival given by the glue wins over the tables': here a run with no sends cut short
    given = closing_lines(tables, run_dir=run, warmup_s=0.0, arrival=replace(ARRIVAL, not_sent=0))
    assert any(line.endswith("3 late (30%)") for line in given.lines)


def test_enough_users_but_late_blames_the_load_generator(tmp_path: Path) -> None:
    run = _run(tmp_path / "run", [_record(i, users=8) for i in range(10)])
    lines = closing_lines(write_tables(run), run_dir=run, warmup_s=0.0).lines
    (invalid,) = [line for line in lines if line.startswith("bench: INVALID")]
    assert invalid == (
        "bench: INVALID open-loop run: 30% of requests were sent more than 1 ms late: 8 users were enough "
        "(by Little's law 10 req/s x 150.0 ms mean latency keeps about 1.5 in flight): the load generator "
        "itself fell behind; run more worker processes (locust --processes) or give it cores of its own"
    )


def test_a_run_on_time_is_valid_and_a_closed_loop_run_says_nothing_of_it(tmp_path: Path) -> None:
    on_time = _run(tmp_path / "on-time", [_record(i, lag_ms=0.5) for i in range(10)])
    closing = closing_lines(write_tables(on_time), run_dir=on_time, warmup_s=0.0, require_valid=True)
    assert (
        "bench: open loop (constant): target 10 req/s, achieved 10.0 req/s; "
        "effective latency (from the intended send) p95 181.50 ms, p99 184.70 ms; schedule lag p99 0.50 ms; "
        "0 late (0%); 2 scheduled sends not sent (the run ended first)"
    ) in closing.lines
    assert closing.passed is None
    assert not any("INVALID" in line for line in closing.lines)
    closed = _run(tmp_path / "closed", [_record(i, lag_ms=0.0) for i in range(10)], info={})
    lines = closing_lines(write_tables(closed), run_dir=closed, warmup_s=0.0).lines
    assert not any("open loop" in line or "open-loop" in line for line in lines)
    assert lines[-1].startswith(CLOSED_LOOP_LINE_START)


def test_a_rate_stepped_run_points_at_the_capacity_report(tmp_path: Path) -> None:
    info: dict[str, object] = {
        "arrival": {"rate_per_s": None, "distribution": "constant", "seed": 0, "sent": 10, "not_sent": 0}
    }
    run = _run(tmp_path / "run", [_record(i) for i in range(10)], info=info)
    lines = closing_lines(write_tables(run), run_dir=run, warmup_s=0.0).lines
    assert (
        "bench: open loop (constant): rate steps (--rates): the targets are per step in the capacity "
        "report, achieved 9.9 req/s; effective latency (from the intended send) p95 181.10 ms, "
        "p99 184.22 ms; schedule lag p99 4.82 ms; 3 late (30%)"
    ) in lines
    # 30% late, and no run-level INVALID line: a rate search ends on an overload step where most sends
    # are late by design; its steps are judged one by one in the capacity report.
    assert not [line for line in lines if line.startswith("bench: INVALID")]


def test_bench_report_and_gate_on_an_open_loop_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(tmp_path / "run", [_record(i) for i in range(10)])
    assert main(["report", str(run)]) == 0
    out = capsys.readouterr().out
    assert "bench: open loop (constant): target 10 req/s, achieved 9.9 req/s" in out
    assert "bench: INVALID open-loop run: 30% of requests were sent more than 1 ms late" in out
    assert main(["gate", str(run), "--gate", "late_rate<50%", "--gate", "p99(effective_latency)<200ms"]) == 0
    assert main(["gate", str(run), "--gate", "p99(schedule_lag)<1ms"]) == 3
    whatif = pd.read_csv(run / "whatif" / "summary.csv")
    assert _all(whatif)["target_rps"] == 10.0  # the what-if reads the arrival from run.json too
    assert "p99(schedule_lag)<1ms         4.82 ms         < 1.00 ms  ✗ FAIL" in capsys.readouterr().out
