"""bench.live: per-second live statistics, their merge across processes, windows, memory and accuracy."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import msgpack
import numpy as np
import pytest

from bench.analysis.gates import GateResult, parse_gate, parse_gates
from bench.collect.record import RequestRecord
from bench.live import RELATIVE_ACCURACY, Histogram, LiveStats, live_verdicts


def record(
    completed_s: float,
    latency_ms: float,
    *,
    stream: bool = False,
    ttfp_ms: float | None = None,
    gap_ms: float | None = None,
    tokens: int | None = None,
    error: tuple[str, str] | None = None,
    variant: str | None = "AllTraffic",
) -> RequestRecord:
    return RequestRecord(
        timestamp_s=completed_s - latency_ms / 1000.0,
        intended_start_s=completed_s - latency_ms / 1000.0,
        worker="local",
        user_class="U",
        request_type="stream" if stream else "invoke",
        name="demo-llm" if stream else "demo-triton",
        endpoint="e",
        variant=variant,
        target_model=None,
        inference_id=None,
        users=4,
        step=None,
        status="ok" if error is None else "error",
        error_type=None if error is None else error[0],
        error_stage=None if error is None else error[1],
        http_status=200 if error is None else 424,
        latency_ms=latency_ms,
        ttfp_ms=ttfp_ms,
        tokens=tokens,
        itl_mean_ms=gap_ms,
    )


def mixed_records(
    n: int, start_s: float = 1000.0, seconds: float = 40.0, seed: int = 7
) -> list[RequestRecord]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        done = start_s + seconds * i / n
        if rng.random() < 0.4:
            records.append(
                record(
                    done,
                    rng.lognormvariate(7, 0.3),
                    stream=True,
                    ttfp_ms=rng.lognormvariate(4.5, 0.4),
                    gap_ms=rng.lognormvariate(3, 0.2),
                    tokens=rng.randint(10, 64),
                    error=("ModelStreamError", "mid_stream") if rng.random() < 0.05 else None,
                )
            )
        else:
            error = ("Throttling", "request") if rng.random() < 0.03 else None
            records.append(record(done, rng.lognormvariate(2, 0.5), error=error))
    return records


def test_merging_two_workers_exports_equals_observing_everything_in_one_process() -> None:
    records = mixed_records(6000)
    local = LiveStats()
    workers = [LiveStats(for_export=True), LiveStats(for_export=True)]
    master = LiveStats()
    for i, r in enumerate(records):
        local.observe(r)
        workers[i % 2].observe(r)
        if i % 500 == 499:  # shipped now and then, as the workers' RecordShipper does
            for worker in workers:
                master.merge(msgpack.unpackb(msgpack.packb(worker.export())))
    for worker in workers:
        master.merge(msgpack.unpackb(msgpack.packb(worker.export())))
    assert workers[0].export() == {}  # nothing left after the last export
    assert (
        master.keys()
        == local.keys()
        == [("invoke", "demo-triton", "AllTraffic"), ("stream", "demo-llm", "AllTraffic")]
    )
    for scope in ({}, {"request_type": "stream"}, {"name": "demo-triton"}):
        ours, theirs = master.query(**scope), local.query(**scope)
        assert (ours.count, ours.errors, ours.tokens, ours.seconds) == (
            theirs.count,
            theirs.errors,
            theirs.tokens,
            theirs.seconds,
        )
        assert ours.error_kinds == theirs.error_kinds
        for metric in ("latency", "ttfp", "gap"):
            assert ours.values(metric) == theirs.values(metric)
            assert ours.mean(metric) == pytest.approx(theirs.mean(metric))
            assert ours.max(metric) == theirs.max(metric)
            for q in (0.5, 0.95, 0.99):
                assert ours.quantile(metric, q) == theirs.quantile(metric, q)  # bins add up exactly
    assert master.window(1041.5) == local.window(1041.5)
    assert master.query().count == len(records)


def test_export_is_builtins_only_and_empty_when_nothing_was_observed() -> None:
    live = LiveStats(for_export=True)
    assert live.export() == {}
    live.observe(record(1000.5, 12.0, stream=True, ttfp_ms=3.0, gap_ms=1.0, tokens=5))
    live.observe(record(1000.7, 15.0, error=("ModelError", "request")))
    data = live.export()

    def check(value: object) -> None:
        if isinstance(value, dict):
            assert all(isinstance(k, str) for k in value)
            for v in value.values():
                check(v)
        elif isinstance(value, list):
            for v in value:
                check(v)
        else:
            assert value is None or isinstance(value, str | int | float | bytes), type(value)

    check(data)
    assert msgpack.unpackb(msgpack.packb(data)) == data
    assert live.query().count == 0  # a worker keeps nothing itself: it all went out


def test_the_window_covers_the_last_ten_whole_seconds_by_completion_time() -> None:
    live = LiveStats(window_s=10)
    per_second = {s: (s % 7) + 1 for s in range(1000, 1031)}
    for second, n in per_second.items():
        for i in range(n):
            live.observe(record(second + (i + 0.5) / (n + 1), 5.0 + i))
    (row,) = live.window(now_s=1031.4)  # the second 1031 is still filling: seconds 1021..1030
    expected = sum(per_second[s] for s in range(1021, 1031))
    assert (row.requests, row.seconds) == (expected, 10)
    assert row.rps == pytest.approx(expected / 10)
    (row,) = live.window(now_s=1028.9)  # seconds 1018..1027 (still held: the window plus lateness_s)
    assert row.requests == sum(per_second[s] for s in range(1018, 1028))
    starting = LiveStats(window_s=10)
    for second in (1000, 1001, 1002, 1003):
        starting.observe(record(second + 0.5, 5.0))
    (row,) = starting.window(now_s=1003.2)  # the first seconds of a run: over what it has run
    assert (row.requests, row.seconds, row.rps) == (3, 3, 1.0)
    (row,) = live.window(now_s=1060.0)  # nothing completed lately: empty, not stale
    assert (row.requests, row.latency_ms) == (0, (None, None, None))


def test_window_row_figures() -> None:
    live = LiveStats()
    for i in range(100):
        live.observe(record(1000.0 + i / 20, 100.0 + i, stream=True, ttfp_ms=10.0 + i, gap_ms=2.0, tokens=50))
    live.observe(record(1002.0, 50.0, stream=True, error=("ModelStreamError", "mid_stream"), tokens=7))
    live.observe(record(1002.0, 50.0, stream=True, error=("ModelStreamError", "mid_stream")))
    live.observe(record(1003.0, 50.0, stream=True, error=("InternalFailure", "request")))
    (row,) = live.window(now_s=1010.0)
    assert (row.requests, row.errors, row.seconds) == (103, 3, 10)
    assert row.tokens_per_s == pytest.approx((100 * 50 + 7) / 10)
    exact = np.arange(100.0, 200.0)  # latency of the successful ones only
    for got, q in zip(row.latency_ms, (50, 95, 99), strict=True):
        assert got is not None
        assert got == pytest.approx(np.percentile(exact, q), rel=RELATIVE_ACCURACY + 0.01)
    assert row.ttfp_ms[0] == pytest.approx(59.5, rel=0.02)
    assert row.gap_ms == (
        pytest.approx(2.0, rel=RELATIVE_ACCURACY),
        pytest.approx(2.0, rel=RELATIVE_ACCURACY),
    )
    assert row.error_kinds == (("ModelStreamError", "mid_stream", 2), ("InternalFailure", "request", 1))


@pytest.mark.parametrize(
    "sample",
    [
        lambda rng: rng.lognormal(3.0, 1.0, 20_000),  # ms, long tail
        lambda rng: rng.uniform(0.05, 5.0, 20_000),  # sub-millisecond to a few ms
        lambda rng: np.concatenate([rng.normal(20, 2, 19_000), rng.uniform(1_000, 30_000, 1_000)]),  # stalls
    ],
)
def test_quantiles_are_within_the_sketchs_relative_accuracy(sample: object) -> None:
    values = np.abs(sample(np.random.default_rng(3)))  # type: ignore[operator]
    histogram = Histogram()
    for v in values:
        histogram.add(float(v))
    ordered = np.sort(values)
    for q in (0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999):
        rank = q * (len(values) - 1)
        low, high = ordered[math.floor(rank)], ordered[math.ceil(rank)]  # numpy's percentile lies between
        assert low <= np.percentile(values, q * 100) <= high
        got = histogram.quantile(q)
        assert got is not None
        assert low * (1 - RELATIVE_ACCURACY) <= got <= high * (1 + RELATIVE_ACCURACY), (q, got, low, high)
    assert histogram.quantile(1.0) == ordered[-1]
    assert histogram.quantile(0.0) == ordered[0]
    assert histogram.mean() == pytest.approx(values.mean())
    assert Histogram.from_wire(histogram.to_wire()).quantile(0.99) == histogram.quantile(0.99)


def test_memory_stays_bounded_over_an_hour_and_cumulative_figures_stay_exact() -> None:
    live = LiveStats(window_s=10, lateness_s=3)
    rng = random.Random(1)
    seen, held = 0, []
    for second in range(3600):
        for i in range(10):
            stream = i % 2 == 0
            live.observe(
                record(
                    10_000 + second + i / 10,
                    rng.lognormvariate(3, 1) * (50 if stream else 1),
                    stream=stream,
                    ttfp_ms=rng.lognormvariate(4, 0.5) if stream else None,
                    gap_ms=rng.lognormvariate(3, 0.3) if stream else None,
                    tokens=10 if stream else None,
                )
            )
            seen += 1
        if second % 600 == 599:
            held.append(live.held())
    tallies = [t for t, _ in held]
    bins = [b for _, b in held]
    assert max(tallies) <= 2 * (10 + 3 + 2 + 1)  # per key: recent seconds plus one folded block
    assert max(bins) <= 2 * bins[0]  # does not grow with the run's length
    everything = live.query()
    assert everything.count == seen
    assert everything.tokens == 10 * seen // 2
    assert everything.seconds == 3600


def test_since_is_exact_to_the_second_when_the_cut_came_first() -> None:
    live = LiveStats(window_s=10, lateness_s=3)
    assert live.add_cut(1030.0)  # the warm-up end, registered at the start of the run
    for second in range(1000, 1100):
        for i in range(3):
            live.observe(record(second + i / 3, 10.0 + second - 1000))
    after = live.query(since_s=1030.0)
    assert after.count == 3 * 70
    assert after.seconds == 70
    assert after.min("latency") == 40.0
    assert after.max("latency") == 109.0
    assert live.query(request_type="invoke", since_s=1030.0).count == 210
    assert live.query(request_type="stream", since_s=1030.0).count == 0
    assert live.count(since_s=1030) == 210
    assert live.count() == 300
    assert live.mean("latency", since_s=1030.0) == pytest.approx(np.mean(np.arange(40.0, 110.0)))
    assert not live.add_cut(1050.0)  # already folded past: later queries since it cannot be exact


def test_late_records_from_workers_land_in_their_second_or_the_folded_block() -> None:
    live = LiveStats(window_s=10, lateness_s=3)
    for second in range(1000, 1040):
        live.observe(record(second + 0.5, 10.0))
    live.observe(record(1035.5, 10.0))  # late but within the window
    live.observe(record(1001.5, 10.0))  # very late: folded already
    assert live.query().count == 42
    (row,) = live.window(now_s=1040.0)
    assert row.requests == 11


def test_live_gate_verdicts() -> None:
    live = LiveStats()
    for i in range(200):
        live.observe(
            record(1000.0 + i / 10, 10.0 + i % 10, error=("Throttling", "request") if i % 50 == 0 else None)
        )
    gates = parse_gates(
        [
            "p95(latency)<100ms",
            "max(latency)<15ms",
            "error_rate<1%",
            "rps>=5",
            "p99(ttfp)<1s",
            "p95(ttft)<1s",
            "count>10",
        ]
    )
    verdicts = {v.expression: v for v in live_verdicts(live, gates, since_s=None)}
    assert verdicts["p95(latency)<100ms"].status == "passing"
    assert verdicts["max(latency)<15ms"].status == "failing"
    assert "19.00 ms" in verdicts["max(latency)<15ms"].detail
    assert verdicts["error_rate<1%"].status == "failing"  # 4 of 200
    assert verdicts["rps>=5"].status == "passing"  # 200 in 20 s
    assert verdicts["p99(ttfp)<1s"].status == "no data"
    assert verdicts["p95(ttft)<1s"].status == "no data"
    assert verdicts["count>10"].status == "passing"
    aborted = live_verdicts(live, gates, since_s=None, aborted="max(latency)<15ms")
    assert [v.status for v in aborted][1] == "aborted"
    final = [GateResult(parse_gate("p95(latency)<100ms"), 18.0, True, "passed: observed 18.00 ms")]
    assert [(v.status, v.detail) for v in live_verdicts(live, gates, since_s=None, final=final)] == [
        ("final: passed", "passed: observed 18.00 ms")
    ]


def test_records_without_a_variant_and_negative_times() -> None:
    live = LiveStats()
    live.observe(replace(record(1000.5, 10.0, variant=None), ttfp_ms=-0.5))
    query = live.query(variant="")
    assert query.count == 1
    assert query.min("ttfp") == 0.0
