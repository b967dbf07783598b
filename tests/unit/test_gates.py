"""Gate grammar, evaluation against numpy, the live abort watch, and the CI files."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.analysis.gates import (
    RUN_METRICS,
    SAMPLE_METRICS,
    confirm_abort,
    evaluate_gates,
    parse_gate,
    parse_gates,
)
from bench.analysis.records import records_frame
from bench.collect import RequestRecord
from bench.errors import ConfigError
from bench.live import LiveStats
from bench.live.verdicts import abort_verdict
from bench.report.gatefiles import format_gates, junit_xml, summary_markdown

SCOPES = st.sampled_from(
    ["", "name:ep ", "type:invoke ", "type:stream ", "variant:canary ", "invoke:ep ", "stream:llm variant:a "]
)
OPS = st.sampled_from(["<", "<=", ">", ">=", "=="])


@settings(max_examples=300, deadline=None)
@given(
    scope=SCOPES,
    metric=st.sampled_from(list(SAMPLE_METRICS)),
    stat=st.sampled_from(["mean", "min", "max", "p50", "p95", "p99", "p99.9", "avg", "med"]),
    op=OPS,
    value=st.decimals(min_value=0, max_value=100000, places=2),
    unit=st.sampled_from(["", "ms", "s"]),
)
def test_sample_gates_round_trip(
    scope: str, metric: str, stat: str, op: str, value: object, unit: str
) -> None:
    text = f"{scope}{stat}({metric}){op}{value}{unit}"
    gate = parse_gate(text)
    assert gate.metric == metric
    assert gate.op == op
    assert gate.stat == {"avg": "mean", "med": "p50"}.get(stat, stat)
    assert gate.threshold == pytest.approx(float(str(value)) * (1000 if unit == "s" else 1))
    assert parse_gate(gate.expression) == gate  # the stored expression parses to the same gate
    if scope.startswith(("invoke:", "stream:")):
        assert (gate.request_type, gate.name) == (scope.split(":")[0], scope.split(":")[1].split()[0])


@settings(max_examples=200, deadline=None)
@given(
    scope=SCOPES,
    metric=st.sampled_from(list(RUN_METRICS)),
    op=OPS,
    value=st.integers(min_value=0, max_value=10**6),
)
def test_run_gates_round_trip(scope: str, metric: str, op: str, value: int) -> None:
    unit = "%" if metric == "error_rate" else ""
    gate = parse_gate(f"{scope}{metric} {op} {value}{unit}")
    assert (gate.metric, gate.stat, gate.op) == (metric, None, op)
    assert gate.threshold == pytest.approx(value / 100 if unit else value)


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("p95(latncy)<250ms", "'latncy' at column 5"),
        ("latency<250ms", "'latency' at column 1"),
        ("p95(latency)<250%", "'%'"),
        ("p95(latency)", "'(end)'"),
        ("p95(latency)<", "'(end)'"),
        ("mean(rps)>1", "'mean(rps)' at column 1"),
        ("rps>1ms", "'ms'"),
        ("error_rate<1s", "'s'"),
        ("type:grpc p95(latency)<1", "'grpc' at column 6"),
        ("p95(latency)=1", "'=1'"),
        ("p95(latency)<fast", "'fast'"),
        ("", "expected a metric"),
    ],
)
def test_malformed_gates_point_at_the_bad_token(text: str, token: str) -> None:
    with pytest.raises(ConfigError, match=r"^--gate ") as caught:
        parse_gate(text)
    assert token in str(caught.value)
    assert "\n" not in str(caught.value)


def _frame(latencies: np.ndarray, *, errors: int = 0, ttfp: np.ndarray | None = None) -> pd.DataFrame:
    n = len(latencies)
    status = ["error"] * errors + ["ok"] * (n - errors)
    return pd.DataFrame(
        {
            "timestamp_s": np.arange(n) * 0.01,
            "end_s": np.arange(n) * 0.01 + latencies / 1000,
            "request_type": ["invoke"] * n,
            "name": ["ep"] * n,
            "variant": ["AllTraffic"] * n,
            "status": status,
            "latency_ms": latencies,
            "ttfp_ms": ttfp if ttfp is not None else np.full(n, np.nan),
            "ttft_ms": np.full(n, np.nan),
            "itl_mean_ms": np.full(n, np.nan),
            "tokens": np.full(n, np.nan),
        }
    )


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(min_value=0.1, max_value=5000), min_size=1, max_size=200),
    st.sampled_from([50, 90, 95, 99, 99.9]),
)
def test_percentile_gates_equal_numpy(values: list[float], q: float) -> None:
    array = np.array(values)
    expected = float(np.percentile(array, q))
    (result,) = evaluate_gates(_frame(array), parse_gates([f"p{q:g}(latency)<={expected}"]))
    assert result.observed == pytest.approx(expected)
    assert result.passed


def test_run_metrics_scopes_and_missing_data() -> None:
    frame = _frame(np.full(100, 10.0), errors=5)
    results = evaluate_gates(
        frame,
        parse_gates(
            [
                "error_rate<=5%",
                "errors<5",
                "count==100",
                "rps>=99",
                "name:other count==0",
                "p99(ttfp)<1s",
                "tokens_per_s>0",
                "variant:none error_rate<1%",
            ]
        ),
    )
    observed = {r.gate.expression: (r.passed, r.observed) for r in results}
    assert observed["error_rate<=5%"] == (True, pytest.approx(0.05))
    assert observed["errors<5"] == (False, 5.0)
    assert observed["count==100"] == (True, 100.0)
    window = 99 * 0.01 + 0.01  # first start to last completion
    assert observed["rps>=99"] == (True, pytest.approx(100 / window))
    assert observed["name:other count==0"] == (True, 0.0)
    assert observed["p99(ttfp)<1s"] == (False, None)  # no streams: fails, with a reason
    assert observed["tokens_per_s>0"] == (False, None)
    assert observed["variant:none error_rate<1%"] == (False, None)
    assert "no ttfp values" in results[5].reason


def _record(ts: float, latency: float, status: str = "ok", request_type: str = "invoke") -> RequestRecord:
    return RequestRecord(
        ts,
        ts,
        "local",
        "U",
        request_type,
        "ep",
        "ep",
        None,
        None,
        None,
        1,
        None,
        status,
        None,
        None,
        200,
        latency,
    )


def _live(*records: RequestRecord) -> LiveStats:
    stats = LiveStats()
    for record in records:
        stats.observe(record)
    return stats


def test_gate_abort_stops_only_on_gates_that_can_no_longer_pass() -> None:
    gates = parse_gates(["max(latency)<100ms", "p99(latency)<1ms", "errors<=1"])
    since = 1000.0  # the warm-up ends here: what completed before is left out
    calm = [_record(999.0, 500.0), _record(1001.5, 50.0), _record(1001.6, 900.0, status="error")]
    # p99 is far over 1 ms, but a percentile can still recover: no abort; one error is within budget
    assert abort_verdict(_live(*calm), gates, since_s=since) is None
    tripped = abort_verdict(_live(*calm, _record(1001.7, 120.0)), gates, since_s=since)
    assert tripped is not None
    assert tripped.gate.expression == "max(latency)<100ms"
    assert tripped.observed == 120.0  # the exact maximum, not a histogram estimate
    assert tripped.reason == "can no longer pass: observed 120.00 ms, threshold < 100.00 ms"
    errors = parse_gates(["type:invoke errors<=1"])
    two = [_record(1001.0, 1, "error"), _record(1001.0, 1, "error", request_type="stream")]
    assert abort_verdict(_live(*two), errors, since_s=since) is None  # one is out of scope
    verdict = abort_verdict(_live(*two, _record(1002.0, 1, "error")), errors, since_s=since)
    assert verdict is not None
    assert verdict.observed == 2


def test_ci_files(tmp_path: Path) -> None:
    results = evaluate_gates(_frame(np.full(10, 10.0)), parse_gates(["p95(latency)<5ms", "count>=1"]))
    root = ET.fromstring(junit_xml(results))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert "observed 10.00 ms, threshold < 5.00 ms" in (failure.get("message") or "")
    summary = pd.DataFrame(
        [
            {
                "request_type": "ALL",
                "name": "ALL",
                "variant": "",
                "count": 10,
                "errors": 0,
                "rps": 1.0,
                "latency_p50_ms": 10.0,
                "latency_p95_ms": 10.0,
                "latency_p99_ms": 10.0,
                "ttfp_p95_ms": float("nan"),
            }
        ]
    )
    markdown = summary_markdown(results, summary, tmp_path)
    assert "❌ 1 of 2 gates failed" in markdown
    assert "| ❌ | `p95(latency)<5ms` | 10.00 ms | < 5.00 ms |" in markdown
    assert "✗ FAIL" in format_gates(results)


def test_an_abort_is_confirmed_on_the_raw_records_with_the_final_warmup_rule() -> None:
    gate = parse_gates(["max(latency)<1000ms"])[0]
    # warm-up 5 s from the first start (1000.0): a cold request started at 1004.9 and took 3 s
    straddler = _record(1004.9, 3000.0)
    records = [_record(1000.0, 10.0), straddler, _record(1006.0, 20.0)]
    # the live statistics file it by completion (1007.9, after the warm-up): a candidate ...
    assert abort_verdict(_live(*records), [gate], since_s=1005.0) is not None
    # ... that the raw records do not confirm: it started in the warm-up, as the final gates see it
    assert confirm_abort(records_frame(records), gate, warmup_s=5.0) is None
    confirmed = confirm_abort(records_frame([*records, _record(1007.0, 1500.0)]), gate, warmup_s=5.0)
    assert confirmed is not None
    assert confirmed.observed == 1500.0
    assert confirmed.reason == "can no longer pass: observed 1500.00 ms, threshold < 1000.00 ms"


def test_unfinished_counts_the_rows_the_drain_cut() -> None:
    records = [_record(1000.0 + i, 5.0) for i in range(4)]
    cut = [
        replace(r, status="unfinished", error_type="Unfinished", error_stage="request") for r in records[:2]
    ]
    frame = records_frame([*records[2:], *cut])
    gate = parse_gate("unfinished==0")
    (result,) = evaluate_gates(frame, [gate])
    assert (result.observed, result.passed) == (2.0, False)
    assert evaluate_gates(records_frame(records), [gate])[0].passed
    assert not gate.can_abort  # known only once the run's drain ended


def _sent(ts: float, latency: float, lag: float, status: str = "ok") -> RequestRecord:
    """An open-loop record sent ``lag`` ms after its intended time ``ts``."""
    return replace(
        _record(ts + lag / 1000, latency, status),
        intended_start_s=ts,
        schedule_lag_ms=lag,
        effective_latency_ms=latency + lag,
    )


def test_open_loop_gates_on_known_lags_and_latencies() -> None:
    lags = [0.0, 0.5, 2.0, 0.0, 0.0, 3.0, 0.0, 0.25, 0.0, 5.0]
    records = [
        _sent(1000.0 + i * 0.1, 10.0 * (i + 1), lag, "error" if i == 9 else "ok")
        for i, lag in enumerate(lags)
    ]
    gates = parse_gates(
        [
            "p99(schedule_lag)<1ms",
            "max(schedule_lag)<=5ms",
            "p50(effective_latency)<50ms",
            "max(effective_latency)<100ms",
            "late<=2",
            "late_rate<1%",
            "name:none late_rate<1%",
            "name:none late==0",
        ]
    )
    results = evaluate_gates(records_frame(records), gates)
    observed = {r.gate.expression: (r.passed, r.observed) for r in results}
    # every request's lag, the error's 5 ms included: sorted 0 x5, 0.25, 0.5, 2, 3, 5; p99 = 3 + 0.91 x 2
    assert observed["p99(schedule_lag)<1ms"] == (False, pytest.approx(4.82))
    assert observed["max(schedule_lag)<=5ms"] == (True, 5.0)
    # the successful requests' latency + lag: 10, 20.5, 32, 40, 50, 63, 70, 80.25, 90
    assert observed["p50(effective_latency)<50ms"] == (False, 50.0)
    assert observed["max(effective_latency)<100ms"] == (True, 90.0)  # the error's 105 ms is not a latency
    assert observed["late<=2"] == (False, 3.0)  # 2, 3 and 5 ms: more than 1 ms, any status
    assert observed["late_rate<1%"] == (False, pytest.approx(0.3))
    assert observed["name:none late_rate<1%"] == (False, None)  # no requests: undefined, fails
    assert observed["name:none late==0"] == (True, 0.0)
    assert results[5].reason == "failed: observed 30%, threshold < 1%"
    closed = records_frame([_record(1000.0 + i, 7.0) for i in range(3)])  # closed loop: lag 0
    (lag, effective, late) = evaluate_gates(
        closed, parse_gates(["max(schedule_lag)==0", "p99(effective_latency)==7ms", "late==0"])
    )
    assert (lag.passed, effective.passed, late.passed) == (True, True, True)


def test_an_abort_on_late_requests_is_confirmed_on_the_raw_records() -> None:
    gate = parse_gate("late<=1")
    assert gate.can_abort
    # the warm-up (5 s from the first start) leaves out the first late request
    records = [_sent(1000.0, 5.0, 8.0), _sent(1006.0, 5.0, 2.0), _sent(1007.0, 5.0, 0.5)]
    assert confirm_abort(records_frame(records), gate, warmup_s=5.0) is None  # one late: within budget
    confirmed = confirm_abort(records_frame([*records, _sent(1008.0, 5.0, 1.5)]), gate, warmup_s=5.0)
    assert confirmed is not None
    assert confirmed.observed == 2.0
    assert confirmed.reason == "can no longer pass: observed 2, threshold <= 1"
    late_rate = parse_gate("late_rate<10%")
    assert not late_rate.can_abort  # a rate can recover: never an abort
