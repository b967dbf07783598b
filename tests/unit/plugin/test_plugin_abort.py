"""The abort part (``--gate-abort``) on a real LocalRunner against the emulator: the run stops by itself."""

from __future__ import annotations

import time
from pathlib import Path

from plugin_support import LocalFactory, csv_rows, emulator_args, fire_request, parse_options, wait_until

from bench.emulator.process import EmulatorProcess
from bench.report.closing import exit_code

ABORT_BOUND_S = 15.0  # checks every 0.5 s; the bound is for a busy 2-core machine


def test_a_gate_that_cannot_pass_stops_the_run(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    gate = "max(latency)<0.001ms"
    process = local(
        parse_options(*emulator_args(emulator, tmp_path, "--gate-abort", "--gate", gate), num_users=2)
    )
    session = process.register()
    started = time.monotonic()
    process.runner.start(2, spawn_rate=10)
    wait_until(lambda: session.run is not None and session.run.ended, ABORT_BOUND_S, what="the run's abort")
    assert time.monotonic() - started < ABORT_BOUND_S
    run = session.run
    assert run is not None
    assert run.finished.is_set()
    assert run.aborted_by is not None
    assert run.aborted_by.gate.expression == gate
    assert not run.aborted_by.passed
    assert process.runner.state == "stopped"
    assert run.passed is False
    assert exit_code(run.passed) == 3
    assert len(csv_rows(run.run_dir / "requests.csv")) == process.environment.stats.total.num_requests > 0
    assert any(f"stopped early (--gate-abort): {gate} can no longer pass" in line for line in run.closing), (
        run.closing
    )
    process.environment.events.quitting.fire(environment=process.environment)
    assert process.environment.process_exit_code == 3


def test_without_gate_abort_the_same_gate_lets_the_run_go_on(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    process = local(parse_options(*emulator_args(emulator, tmp_path, "--gate", "max(latency)<0.001ms")))
    session = process.register()
    process.environment.events.test_start.fire(environment=process.environment)
    for _ in range(5):
        fire_request(process.environment)
    time.sleep(1.5)  # three checks' worth
    run = session.run
    assert run is not None
    assert not run.ended
    assert run.aborted_by is None
    process.environment.events.test_stop.fire(environment=process.environment)
    assert run.passed is False  # it fails at the end instead


def test_a_gate_that_holds_does_not_stop_the_run(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    process = local(
        parse_options(*emulator_args(emulator, tmp_path, "--gate-abort", "--gate", "max(latency)<10s"))
    )
    session = process.register()
    process.environment.events.test_start.fire(environment=process.environment)
    for _ in range(5):
        fire_request(process.environment, response_time=5.0)
    time.sleep(1.5)
    run = session.run
    assert run is not None
    assert not run.ended
    assert run.aborted_by is None
    process.environment.events.test_stop.fire(environment=process.environment)
    assert run.passed is True
