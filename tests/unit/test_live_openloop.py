"""bench.live in the open loop: send rates by send second, lag, late and effective latency, on known records;
the same figures from workers' exports merged on a master; closed-loop records cost and change nothing."""

from __future__ import annotations

import math
from dataclasses import replace

import msgpack
import pytest

from bench.analysis.gates import parse_gate, parse_gates
from bench.collect.record import RequestRecord
from bench.live import RELATIVE_ACCURACY, ArrivalState, LiveStats, SendTally, open_loop_figures
from bench.live.verdicts import abort_verdict, live_verdicts

RATE = 50.0  # req/s, a constant schedule from START_S
START_S = 1000.0
SECONDS = 20
LATE_EVERY = 10  # every 10th request is sent 2.5 ms late, the others 0.2 ms
ON_TIME_MS, LATE_MS = 0.2, 2.5
LATENCY_MS = 10.0
ACCURACY = RELATIVE_ACCURACY * 1.01


def sent(
    intended_s: float,
    lag_ms: float,
    latency_ms: float = LATENCY_MS,
    *,
    status: str = "ok",
    stream: bool = False,
) -> RequestRecord:
    """An open-loop record: meant for ``intended_s``, sent ``lag_ms`` later, served in ``latency_ms``."""
    error = status != "ok"
    return RequestRecord(
        timestamp_s=intended_s + lag_ms / 1000.0,
        intended_start_s=intended_s,
        worker="local",
        user_class="U",
        request_type="stream" if stream else "invoke",
        name="demo-llm" if stream else "demo-triton",
        endpoint="e",
        variant="AllTraffic",
        target_model=None,
        inference_id=None,
        users=8,
        step=None,
        status=status,
        error_type="Throttling" if error else None,
        error_stage="request" if error else None,
        http_status=429 if error else 200,
        latency_ms=latency_ms,
        schedule_lag_ms=lag_ms,
        effective_latency_ms=latency_ms + lag_ms,
    )


def schedule(seconds: int = SECONDS, rate: float = RATE) -> list[RequestRecord]:
    """A constant schedule: every ``LATE_EVERY``-th request late (the first and the last on time)."""
    n = int(seconds * rate)
    return [sent(START_S + i / rate, LATE_MS if i % LATE_EVERY == 5 else ON_TIME_MS) for i in range(n)]


def observed(records: list[RequestRecord]) -> LiveStats:
    live = LiveStats()
    live.add_cut(START_S)
    for record in sorted(records, key=lambda r: r.timestamp_s + r.latency_ms / 1000.0):
        live.observe(record)
    return live


def arrival(target: float | None = RATE, since_s: float | None = START_S) -> ArrivalState:
    return ArrivalState(target_rate_per_s=target, distribution="constant", users=8, since_s=since_s)


def test_achieved_rate_lag_late_and_effective_latency_of_a_known_schedule() -> None:
    live = observed(schedule())
    figures = open_loop_figures(live, arrival(), now_s=START_S + SECONDS + 0.5)

    assert figures.target_rate_per_s == RATE
    assert figures.sent == figures.requests == SECONDS * RATE
    # 1000 sends 20 ms apart, the first and the last both 0.2 ms late: exactly 999 gaps over 19.98 s
    assert figures.sent_rate_per_s == pytest.approx(RATE, rel=1e-9)
    assert figures.achieved_fraction == pytest.approx(1.0, rel=1e-9)
    # the last window: the sends of seconds 1010..1019 (the current second, 1020, is left out)
    assert figures.recent_sent == 10 * RATE
    assert figures.recent_rate_per_s == pytest.approx(RATE, rel=1e-6)
    assert figures.late == SECONDS * RATE / LATE_EVERY  # exact: 2.5 ms > 1 ms, 0.2 ms is on time
    assert figures.late_rate == pytest.approx(0.1)
    assert figures.too_late
    assert figures.lag_p99_ms == pytest.approx(LATE_MS, rel=ACCURACY)
    # effective latency: 10.2 ms for 90%, 12.5 ms for 10% of the requests; service latency 10 ms
    assert figures.effective_ms[0] == pytest.approx(LATENCY_MS + LATE_MS, rel=ACCURACY)
    assert figures.effective_ms[1] == pytest.approx(LATENCY_MS + LATE_MS, rel=ACCURACY)
    assert figures.latency_ms == (pytest.approx(LATENCY_MS, rel=ACCURACY),) * 2
    assert figures.in_flight() == pytest.approx(RATE * LATENCY_MS / 1000.0, rel=ACCURACY)
    assert figures.users_advised() == 4  # L = 0.5: L + 3 sqrt(L) + 1 = 3.6 -> 4

    # the window's rows: one per key, and every key together
    (row,) = live.window(START_S + SECONDS + 0.5)
    total = live.window_total(START_S + SECONDS + 0.5)
    for window in (row, total):
        assert window.late == 10 * RATE / LATE_EVERY
        assert window.late_rate == pytest.approx(0.1)
        assert window.lag_p99_ms == pytest.approx(LATE_MS, rel=ACCURACY)
        assert window.effective_ms[1] == pytest.approx(LATENCY_MS + LATE_MS, rel=ACCURACY)
    assert (total.request_type, total.name, total.variant) == ("", "", "")


def test_a_half_late_run_and_the_median_of_effective_latency() -> None:
    records = [sent(START_S + i / 10, 0.5 if i % 2 else 30.0, 20.0) for i in range(100)]
    figures = open_loop_figures(observed(records), arrival(10.0), now_s=START_S + 11)
    assert (figures.late, figures.requests) == (50, 100)
    assert figures.lag_p99_ms == pytest.approx(30.0, rel=ACCURACY)
    # half at 20.5 ms, half at 50 ms: p95 and p99 are 50 ms, the service latency is 20 ms throughout
    assert figures.effective_ms == (pytest.approx(50.0, rel=ACCURACY),) * 2
    assert figures.latency_ms == (pytest.approx(20.0, rel=ACCURACY),) * 2
    assert figures.late_rate == 0.5


def test_errors_are_late_and_lagging_but_have_no_latency() -> None:
    records = [sent(START_S + i / 10, 5.0, status="error") for i in range(10)]
    live = observed(records)
    figures = open_loop_figures(live, arrival(10.0), now_s=START_S + 3)
    assert (figures.requests, figures.late, figures.sent) == (10, 10, 10)
    assert figures.lag_p99_ms == pytest.approx(5.0, rel=ACCURACY)
    assert figures.effective_ms == (None, None)  # effective latency is of successful requests, as latency
    assert figures.latency_ms == (None, None)
    assert figures.users_advised() is None


def test_sends_still_in_flight_do_not_pull_the_rate_down() -> None:
    """The last 0.3 s of sends have not completed yet (records arrive at completion): the rate holds."""
    records = [r for r in schedule() if r.timestamp_s < START_S + SECONDS - 0.3]
    live = observed(records)
    figures = open_loop_figures(live, arrival(), now_s=START_S + SECONDS + 0.2)
    assert figures.recent_sent == 10 * RATE - 15
    assert figures.recent_rate_per_s == pytest.approx(RATE, rel=1e-6)
    assert figures.sent_rate_per_s == pytest.approx(RATE, rel=1e-6)


def test_the_run_figures_start_at_the_cut_and_stay_exact_once_folded() -> None:
    """An hour at 20 req/s: the sends since the warm-up end are exact, memory stays bounded."""
    live = LiveStats()
    warmup_end = START_S + 30
    live.add_cut(warmup_end)
    held = []
    for i in range(3600 * 20):
        live.observe(sent(START_S + i / 20, ON_TIME_MS))
        if i % 20_000 == 0:
            held.append(live.held()[0])
    since = live.sends(since_s=warmup_end)
    assert since.count == (3600 - 30) * 20
    assert since.rate_per_s == pytest.approx(20.0, rel=1e-6)
    assert live.sends().count == 3600 * 20
    assert max(held) < 40  # a dozen seconds of tallies and send tallies, and the folded blocks
    query = live.query(since_s=warmup_end)
    assert query.count == (3600 - 30) * 20
    assert query.late == 0


def test_workers_exports_merged_on_a_master_give_the_same_figures() -> None:
    records = schedule()
    records += [sent(START_S + 0.013 + i / 7, 3.0, 800.0, stream=True) for i in range(SECONDS * 7)]
    records.sort(key=lambda r: r.timestamp_s + r.latency_ms / 1000.0)
    local = observed(records)
    master = LiveStats()
    master.add_cut(START_S)
    workers = [LiveStats(for_export=True) for _ in range(3)]
    for i, record in enumerate(records):
        workers[i % 3].observe(record)
        if i % 97 == 0:  # batches now and then, as the worker part ships them (msgpack on the wire)
            for worker in workers:
                master.merge(msgpack.unpackb(msgpack.packb(worker.export())))
    for worker in workers:
        master.merge(msgpack.unpackb(msgpack.packb(worker.export())))

    now = START_S + SECONDS + 1.5
    mine, theirs = (open_loop_figures(s, arrival(RATE + 7), now_s=now) for s in (local, master))
    assert theirs == mine
    assert theirs.sent == SECONDS * (RATE + 7)
    assert theirs.sent_rate_per_s == pytest.approx(RATE + 7, rel=0.01)
    assert theirs.late == SECONDS * RATE / LATE_EVERY + SECONDS * 7  # the streams are all 3 ms late
    assert master.window(now) == local.window(now)
    assert master.window_total(now) == local.window_total(now)


def test_closed_loop_records_have_no_open_loop_figures_and_gates_read_lag_0() -> None:
    closed = [replace(r, schedule_lag_ms=0.0, effective_latency_ms=None) for r in schedule(5)]
    live = observed(closed)
    assert live.sends().count == 0
    (row,) = live.window(START_S + 5.5)
    assert (row.effective_ms, row.lag_p99_ms, row.late) == ((None, None), None, 0)
    assert live.query().values("lag") == 0
    verdicts = live_verdicts(
        live,
        parse_gates(["max(schedule_lag)==0", "p99(effective_latency)<10.5ms", "late==0", "late_rate<1%"]),
        since_s=START_S,
    )
    assert [v.status for v in verdicts] == ["passing"] * 4, verdicts  # lag 0, effective = service latency


def test_open_loop_live_gates_and_the_late_abort() -> None:
    live = observed(schedule())
    gates = parse_gates(
        [
            "p99(schedule_lag)<1ms",
            "p50(schedule_lag)<1ms",
            "p99(effective_latency)<12ms",
            "late_rate<20%",
            "late<=99",
        ]
    )
    verdicts = {v.expression: v for v in live_verdicts(live, gates, since_s=START_S)}
    assert verdicts["p99(schedule_lag)<1ms"].status == "failing"
    assert verdicts["p50(schedule_lag)<1ms"].status == "passing"
    assert verdicts["p99(effective_latency)<12ms"].status == "failing"
    assert verdicts["late_rate<20%"].status == "passing"
    assert verdicts["late_rate<20%"].detail.startswith("now 10%")
    assert verdicts["late<=99"].detail.startswith("now 100 ")
    aborted = abort_verdict(live, [parse_gate("late<=99")], since_s=START_S)
    assert aborted is not None
    assert aborted.observed == 100.0  # exact: a count
    assert abort_verdict(live, [parse_gate("late<=100")], since_s=START_S) is None


def test_send_tallies() -> None:
    tally = SendTally()
    assert tally.rate_per_s is None
    assert tally.span_s == 0.0
    tally.add(10.5)
    assert tally.rate_per_s is None  # one send: no gap
    tally.add(10.5)
    assert tally.rate_per_s is None  # no span
    tally.add(11.5)
    other = SendTally()
    other.add(9.5)
    tally.merge(other)
    assert (tally.count, tally.first_s, tally.last_s) == (4, 9.5, 11.5)
    assert tally.rate_per_s == 1.5
    assert tally.to_wire(9) == [9, 4, 9.5, 11.5]
    assert math.isinf(SendTally().first_s)


def test_exports_of_version_1_are_refused() -> None:
    live = LiveStats()
    with pytest.raises(ValueError, match="wire version 1"):
        live.merge({"v": 1, "slots": []})
