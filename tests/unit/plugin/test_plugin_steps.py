"""The steps part: a stepped capacity load on a real LocalRunner, and each step's line from the CSV."""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from plugin_support import (
    LocalFactory,
    csv_rows,
    emulator_args,
    new_environment,
    parse_options,
    record,
    wait_until,
)

from bench.analysis.capacity import RateStep, StepStats, step_stats
from bench.analysis.rateplan import read_rate_steps
from bench.analysis.records import load_records
from bench.collect import RequestRecord
from bench.emulator.process import EmulatorProcess
from bench.plugin.run import Run, RunPart
from bench.plugin.session import Session
from bench.plugin.steps import StepsPart
from bench.shapes import RateLoadShape, StepLoadShape


def test_a_stepped_run_on_a_local_runner(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = parse_options(
        *emulator_args(emulator, tmp_path, "--steps", "1,2", "--step-duration", "2s"),
        num_users=None,
        headless=False,  # the web UI's way: the shape stops the runner (headless quits it)
    )
    process = local(options)
    session = process.register()
    shape = session.shape
    assert isinstance(shape, StepLoadShape)
    assert process.environment.shape_class is shape
    assert shape.plan == (1, 2)
    process.runner.start_shape()
    wait_until(lambda: session.run is not None and session.run.ended, 15.0, what="the stepped run's end")
    run = session.run
    assert run is not None
    assert run.finished.is_set()
    assert process.runner.state == "stopped"  # the shape stopped after its plan

    out = capsys.readouterr().out
    assert (
        "bench: capacity run: users per step 1,2; 2 s a step, the first 0.4 s of each left out, 4 s in all"
        in out
    )
    lines = re.findall(r"bench: step (\d)/2: (\d+) users?, ([\d.]+) req/s", out)
    assert [(step, users) for step, users, _ in lines] == [("1", "1"), ("2", "2")], out
    assert all(float(rps) > 0 for _, _, rps in lines)

    rows = csv_rows(run.run_dir / "requests.csv")
    assert len(rows) == process.environment.stats.total.num_requests
    assert {r["step"] for r in rows} == {"1", "2"}
    assert run.started_s == shape.started_at_s  # the run's clock is the shape's
    assert (run.run_dir / "capacity.csv").is_file()


# ---- step_end on known rows ---------------------------------------------------------------


def _stepped_run(tmp_path: Path, *args: str) -> tuple[StepsPart, RunPart, Run]:
    options = parse_options(
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--endpoint",
        "demo-triton",
        "--input",
        "INPUT0:FP32:1,16",
        "--report-dir",
        str(tmp_path),
        "--steps",
        "3,5",
        "--step-duration",
        "2s",
        "--step-ramp",
        "0s",
        *args,
    )
    session = Session(new_environment(options), SimpleNamespace(user_count=0))  # type: ignore[arg-type]
    run_part = RunPart(session)
    run_part.on_test_start()
    assert session.run is not None
    return StepsPart(session), run_part, session.run


Stepped = Callable[..., tuple[StepsPart, Run]]


@pytest.fixture
def stepped(tmp_path: Path) -> Iterator[Stepped]:
    made: list[tuple[RunPart, Run]] = []

    def make(*args: str) -> tuple[StepsPart, Run]:
        steps, run_part, run = _stepped_run(tmp_path, *args)
        made.append((run_part, run))
        return steps, run

    yield make
    for run_part, run in made:
        run_part.close(run)
        if run.health is not None:
            run.health.stop()
        run.ended_s = run.ended_s or 1.0


def _write_step_1(run: Run) -> None:
    """Step 1: 3 users, 10 requests started 0.1 s apart, each 100 ms: 10 requests in 1 s."""
    t0 = run.started_s
    for k in range(10):
        run.writer.write(record(t0 + 0.1 * k, latency_ms=100.0, users=3, step=1))


def _write_step_2(run: Run, ks: range = range(20)) -> None:
    """Step 2: 5 users, 20 requests started 0.05 s apart from 2 s on, each 50 ms: 20 requests in 1 s."""
    t0 = run.started_s + 2.0
    for k in ks:
        run.writer.write(record(t0 + 0.05 * k, latency_ms=50.0, users=5, step=2))


def test_step_end_gives_the_steps_users_and_rate(
    stepped: Stepped, capsys: pytest.CaptureFixture[str]
) -> None:
    steps, run = stepped()
    _write_step_1(run)
    first = steps.step_end(1)
    assert first is not None
    assert (first.step, first.users) == (1, 3)
    assert first.rps == pytest.approx(10.0, rel=1e-3)
    assert first.latency_p95_ms == pytest.approx(100.0)
    assert first.error_rate == 0.0

    _write_step_2(run)
    run.writer.write(record(run.started_s + 1.95, latency_ms=300.0, users=3, step=1))  # step 1's, late
    second = steps.step_end(2)
    assert second is not None
    assert (second.step, second.users) == (2, 5)
    assert second.rps == pytest.approx(20.0, rel=1e-3)

    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith("bench: step 1/2: 3 users, 10.0 req/s, p95 100.0 ms, errors 0.0%")
    assert out[1].startswith("bench: step 2/2: 5 users, 20.0 req/s, p95 50.0 ms, errors 0.0%")


def test_step_end_with_an_slo_says_whether_it_held(
    stepped: Stepped, capsys: pytest.CaptureFixture[str]
) -> None:
    steps, run = stepped("--slo", "p95(latency)<80ms")
    _write_step_1(run)
    first = steps.step_end(1)
    assert first is not None
    assert not first.slo_ok
    _write_step_2(run)
    second = steps.step_end(2)
    assert second is not None
    assert second.slo_ok
    out = capsys.readouterr().out
    assert "bench: step 1/2: 3 users, 10.0 req/s, p95 100.0 ms, errors 0.0%, SLO broken: " in out
    assert "bench: step 2/2: 5 users, 20.0 req/s, p95 50.0 ms, errors 0.0%, SLO ok" in out


def test_a_step_without_requests_says_so(stepped: Stepped, capsys: pytest.CaptureFixture[str]) -> None:
    steps, _run = stepped()
    assert steps.step_end(1) is None
    assert capsys.readouterr().out == "bench: step 1/2: no requests completed\n"


def test_no_step_line_once_the_run_ended(stepped: Stepped, capsys: pytest.CaptureFixture[str]) -> None:
    steps, run = stepped()
    _write_step_1(run)
    run.ended_s = run.started_s + 10.0
    assert steps.step_end(1) is None
    assert capsys.readouterr().out == ""


def test_the_next_steps_early_rows_count_in_its_line(stepped: Stepped) -> None:
    steps, run = stepped()
    _write_step_1(run)
    _write_step_2(run, range(8))  # step 2 began 0.4 s before the shape's tick ended step 1
    steps.step_end(1)
    _write_step_2(run, range(8, 20))
    second = steps.step_end(2)

    run.writer.flush()
    expected = {s.step: s for s in step_stats(load_records(run.writer.path), (), 0.0)}[2]
    assert expected.count == 20
    assert second is not None
    assert second.count == expected.count  # 12 before: the rows written after step 1's line
    assert second.start_s == pytest.approx(expected.start_s)


# ---- the rate-stepped (open-loop) shape ----------------------------------------------------------------


def _rate_step(step: int, passed: bool) -> StepStats:
    nan = float("nan")
    return StepStats(step, 7, 0, 1, 10, 0, 0.0, 1.0, *[nan] * 8, 1.0, 1.0, passed, (), target_rate_per_s=1.0)


def _run_shape(shape: RateLoadShape) -> list[tuple[int, float]]:
    shape.reset_time()
    ticks = []
    while (tick := shape.tick()) is not None:
        ticks.append(tick)
        assert len(ticks) < 100
    return ticks


def test_the_rate_shape_holds_the_users_and_sets_each_rate_at_its_step() -> None:
    rates_set: list[float] = []
    begun: list[RateStep] = []
    ended: list[int] = []

    def end(step: int) -> StepStats:
        ended.append(step)
        assert time.time() >= begun[-1].started_s + 0.05  # judged once the step's time is up
        return _rate_step(step, passed=step != 2)  # a fixed plan goes on whatever the verdict

    shape = RateLoadShape(
        (100, 200, 400), 0.05, users=7, on_rate=rates_set.append, on_step_start=begun.append, on_step_end=end
    )
    ticks = _run_shape(shape)
    assert set(ticks) == {(7, 7.0)}  # the users constant, all started within a second
    assert rates_set == [200, 400]  # the first step's rate is the run's own
    assert [(s.step, s.target_rate_per_s) for s in begun] == [(1, 100), (2, 200), (3, 400)]
    assert begun[0].started_s == shape.started_at_s
    assert ended == [1, 2, 3]
    for before, after in itertools.pairwise(begun):  # a step lasts its duration, then a moment to judge it
        assert 0.05 <= after.started_s - before.started_s < 0.09
    assert shape.steps_begun == begun
    assert shape.step_at(begun[1].started_s + 0.001) == 2
    assert shape.step_at(begun[2].started_s + 5.0) == 3
    assert shape.step_at(begun[0].started_s - 1.0) is None
    assert shape.tick() is None  # stopped for good, until the next run
    shape.reset_time()
    assert shape.steps_begun == []
    assert shape.tick() == (7, 7.0)


def test_the_rate_shape_bisects_in_auto_mode_by_the_step_verdicts() -> None:
    rates_set: list[float] = []
    shape = RateLoadShape(
        (100, 200, 400, 800),
        0.02,
        users=120,
        auto=True,
        on_rate=rates_set.append,
        on_step_end=lambda step: _rate_step(step, passed=shape.steps_begun[-1].target_rate_per_s <= 500),
    )
    ticks = _run_shape(shape)
    assert set(ticks) == {(120, 120.0)}  # all at once: the load is the rate, not how fast users start
    assert [s.target_rate_per_s for s in shape.steps_begun] == [100, 200, 400, 800, 600, 500, 550, 525]
    assert rates_set == [200, 400, 800, 600, 500, 550, 525]
    no_data = RateLoadShape((100, 200), 0.02, users=1, auto=True)  # no statistics: a failed step
    _run_shape(no_data)
    assert [s.target_rate_per_s for s in no_data.steps_begun] == [100]


def _rate_run(tmp_path: Path, *args: str) -> tuple[StepsPart, RunPart, Run, Session]:
    options = parse_options(
        "--endpoint-url", "http://127.0.0.1:9", "--endpoint", "demo-triton", "--input", "INPUT0:FP32:1,16",
        "--report-dir", str(tmp_path), "--rates", "100,200", "--step-duration", "2s", "--step-ramp", "0s",
        *args, num_users=None,
    )  # fmt: skip
    session = Session(new_environment(options), SimpleNamespace(user_count=0))  # type: ignore[arg-type]
    steps = StepsPart(session)
    shape = steps.install()
    assert isinstance(shape, RateLoadShape)
    shape.reset_time()
    run_part = RunPart(session)
    run_part.on_test_start()
    assert session.run is not None
    return steps, run_part, session.run, session


def _open_record(
    run: Run, intended_s: float, *, lag_ms: float = 0.0, latency_ms: float = 10.0
) -> RequestRecord:
    base = record(intended_s + lag_ms / 1000, latency_ms=latency_ms, users=100, step=1)
    return dataclasses.replace(
        base, intended_start_s=intended_s, schedule_lag_ms=lag_ms, effective_latency_ms=latency_ms + lag_ms
    )


def test_a_rate_step_ends_in_its_line_and_rate_steps_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps, run_part, run, session = _rate_run(tmp_path, "--slo", "p95(latency)<12ms")
    try:
        shape = session.shape
        assert isinstance(shape, RateLoadShape)
        assert shape.users == 100  # -u not given: 100 users available to send
        out = capsys.readouterr().out
        assert out.startswith(
            "bench: capacity run by arrival rate: 100,200 req/s, poisson arrivals, 100 users"
        )
        assert "A step fails when an SLO breaks (latency: the effective latency" in out
        shape.tick()  # step 1 begins at the run's start
        t0 = shape.steps_begun[0].started_s
        assert run.started_s == t0
        for k in range(200):  # 100 req/s for 2 s, every 4th 5 ms late: effective p95 15 ms
            run.writer.write(_open_record(run, t0 + k / 100, lag_ms=5.0 if k % 4 == 1 else 0.0))
        stats = steps.step_end(1)
        assert stats is not None
        assert stats.target_rate_per_s == 100
        assert stats.count == 200
        assert stats.latency_p95_ms == pytest.approx(10.0)
        assert stats.effective_latency_p95_ms == pytest.approx(15.0)
        assert not stats.slo_ok  # an SLO on latency: judged on the effective latency
        line = capsys.readouterr().out
        assert line.startswith(
            "bench: step 1/2: 100 req/s target, achieved 100.0 req/s, p95 effective 15.0 ms (service 10.0 ms), "
            "late 25.0%, errors 0.0%, SLO broken: p95(latency)<12ms (15.00 ms)"
        )
        (written,) = read_rate_steps(run.run_dir)  # to the microsecond
        assert (written.step, written.target_rate_per_s) == (1, 100.0)
        assert written.started_s == pytest.approx(t0, abs=1e-6)
    finally:
        run_part.close(run)
        run.ended_s = 1.0
