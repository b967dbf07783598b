"""The steps part: a stepped capacity load on a real LocalRunner, and each step's line from the CSV."""

from __future__ import annotations

import re
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

from bench.analysis.capacity import step_stats
from bench.analysis.records import load_records
from bench.emulator.process import EmulatorProcess
from bench.plugin.run import Run, RunPart
from bench.plugin.session import Session
from bench.plugin.steps import StepsPart
from bench.shapes import StepLoadShape


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
