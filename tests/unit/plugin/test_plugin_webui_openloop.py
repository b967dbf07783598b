"""The web UI part in the open loop on a master: the workers' live exports, merged by the master part, give
the tabs the same open-loop figures as one process observing every record; and the tab state's target,
users and start of the "run" figures."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import msgpack
import pytest
from locust.runners import STATE_RUNNING
from plugin_support import (
    FakeMasterRunner,
    FakeWorkerNode,
    emulator_args,
    new_environment,
    parse_options,
    record,
)

from bench.analysis.capacity import RateStep
from bench.collect.record import RequestRecord
from bench.collect.shipping import RECORDS_MESSAGE
from bench.emulator.process import EmulatorProcess
from bench.live import LiveStats, open_loop_figures
from bench.live.webtab import OPEN_LOOP, inference_rows
from bench.plugin.arrivals import ArrivalsPart
from bench.plugin.master import MasterPart
from bench.plugin.run import RunPart
from bench.plugin.session import MASTER, Session
from bench.plugin.webui import WebUIPart
from bench.plugin.workload import WorkloadPart

RATE = 60.0


def sent(intended_s: float, lag_ms: float, latency_ms: float) -> RequestRecord:
    """An open-loop record: meant for ``intended_s``, sent ``lag_ms`` later."""
    return replace(
        record(intended_s + lag_ms / 1000.0, latency_ms=latency_ms),
        intended_start_s=intended_s,
        schedule_lag_ms=lag_ms,
        effective_latency_ms=latency_ms + lag_ms,
    )


@pytest.fixture
def master(tmp_path: Path, emulator: EmulatorProcess) -> Iterator[tuple[Session, FakeMasterRunner]]:
    """A master (fake message bus, two workers) of an open-loop run at 60 req/s, warm-up 2 s."""
    options = parse_options(*emulator_args(emulator, tmp_path, "--arrival-rate", "60", "--warmup", "2s"))
    environment = new_environment(options)
    clients = {w: FakeWorkerNode(w, STATE_RUNNING) for w in ("w1", "w2")}
    runner = FakeMasterRunner(user_count=20, target_user_count=20, clients=clients)
    session = Session(environment, runner, role=MASTER)  # type: ignore[arg-type]
    run_part = RunPart(session)
    run_part.register(environment)
    arrivals = ArrivalsPart(session, WorkloadPart(session))
    arrivals.register(environment)
    MasterPart(session, run_part, extras_listeners=[arrivals.worker_report]).register(environment)
    environment.events.test_start.fire(environment=environment)
    yield session, runner
    run = session.run
    if run is not None and not run.ended:
        run_part.close(run)


def test_the_masters_merged_live_stats_give_the_open_loop_figures_of_one_process(
    master: tuple[Session, FakeMasterRunner],
) -> None:
    session, runner = master
    run = session.run
    assert run is not None
    assert run.arrival is not None
    assert run.arrival["rate_per_s"] == RATE
    # 12 s of a constant 60 req/s schedule from the warm-up end, split over two workers, every 4th
    # send 3 ms late; the tabs read at its end
    start = run.measured_from_s + 0.001
    now = start + 12.5
    records = [sent(start + i / RATE, 3.0 if i % 4 == 0 else 0.3, 8.0) for i in range(int(12 * RATE))]
    everything = LiveStats()
    everything.add_cut(run.measured_from_s)
    workers = {"w1": LiveStats(for_export=True), "w2": LiveStats(for_export=True)}
    for i, one in enumerate(records):
        everything.observe(one)
        workers["w1" if i % 2 else "w2"].observe(one)
        if i % 50 == 49 or i == len(records) - 1:  # a batch now and then, as the worker part ships them
            for node, live in workers.items():
                batch = {"rows": [], "final": False, "errors": [], "live": live.export()}
                runner.deliver(
                    session.environment, RECORDS_MESSAGE, node, msgpack.unpackb(msgpack.packb(batch))
                )

    state = WebUIPart(session).tab_state()
    arrival = state.arrival
    assert arrival is not None
    assert (arrival.target_rate_per_s, arrival.distribution, arrival.users) == (RATE, "poisson", 20)
    assert (arrival.since_s, arrival.since_label) == (run.measured_from_s, "measured run")
    assert arrival.warning is None  # the master sends nothing: its timers do not matter

    merged = open_loop_figures(run.live, arrival, now_s=now)
    assert merged == open_loop_figures(everything, arrival, now_s=now)
    assert merged.target_rate_per_s == RATE
    assert merged.sent_rate_per_s == pytest.approx(RATE, rel=0.02)
    assert merged.recent_rate_per_s == pytest.approx(RATE, rel=0.02)
    assert merged.late_rate == pytest.approx(0.25, abs=0.01)
    # since the warm-up end to the second (the cut is its next whole second, as the live gates')
    assert merged.sent == sum(r.timestamp_s >= math.ceil(run.measured_from_s) for r in records)
    assert run.live.window_total(now) == everything.window_total(now)

    first = inference_rows(replace(state, now_s=now))[0]
    assert (first["type"], first["target_rps"]) == (OPEN_LOOP, RATE)
    assert first["sent_rps"] == pytest.approx(RATE, rel=0.02)
    late_percent = float(first["late"].rsplit("(", 1)[1].rstrip("%)"))
    assert late_percent == pytest.approx(25.0, abs=0.5)  # of the last 10 s, as they fell in the window


def test_a_closed_loop_run_has_no_arrival_state(tmp_path: Path, emulator: EmulatorProcess) -> None:
    environment = new_environment(parse_options(*emulator_args(emulator, tmp_path)))
    session = Session(environment, FakeMasterRunner(), role=MASTER)  # type: ignore[arg-type]
    part = WebUIPart(session)
    assert part.arrival_state() is None  # before a run
    run_part = RunPart(session)
    run_part.register(environment)
    environment.events.test_start.fire(environment=environment)
    try:
        assert part.tab_state().arrival is None
    finally:
        assert session.run is not None
        run_part.close(session.run)


def test_a_rate_stepped_run_shows_the_current_steps_target_since_its_start(
    master: tuple[Session, FakeMasterRunner],
) -> None:
    session, _ = master
    run = session.run
    assert run is not None
    assert run.arrival is not None
    run.arrival = {**run.arrival, "rate_per_s": None}  # as a --rates run has it: a rate per step
    part = WebUIPart(session)
    session.shape = SimpleNamespace(steps_begun=[])  # type: ignore[assignment]
    before = part.arrival_state()
    assert before is not None
    assert (before.target_rate_per_s, before.since_label) == (None, "measured run")
    step_2_at = run.measured_from_s + 30.0
    session.shape.steps_begun = [  # type: ignore[union-attr]
        RateStep(1, 100.0, run.started_s),
        RateStep(2, 200.0, step_2_at),
    ]
    state = part.arrival_state()
    assert state is not None
    assert (state.target_rate_per_s, state.since_s, state.since_label) == (200.0, step_2_at, "step 2")
