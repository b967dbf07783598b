"""The run and finish parts on a real LocalRunner against the emulator: files, counts, verdict, exit code."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from locust import log
from plugin_support import (
    Local,
    LocalFactory,
    StreamUser,
    csv_rows,
    emulator_args,
    fire_request,
    parse_options,
    wait_until,
)

from bench.emulator.process import EmulatorProcess
from bench.plugin.run import Run
from bench.report.closing import exit_code

RUN_FOR_S = 2.0


def _run(process: Local, users: int = 2) -> Run:
    """Start ``users`` users, let them run ~2 s, quit: the finished run."""
    session = process.register()
    process.runner.start(users, spawn_rate=10)
    wait_until(lambda: session.run is not None, 5.0, what="the run started")
    time.sleep(RUN_FOR_S)
    process.runner.quit()
    run = session.run
    assert run is not None
    return run


def test_a_run_writes_every_request_locust_counted(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    process = local(parse_options(*emulator_args(emulator, tmp_path, "--warmup", "0.5s"), num_users=2))
    run = _run(process)

    assert run.ended
    assert run.finished.is_set()
    assert run.run_dir.parent == tmp_path
    rows = csv_rows(run.run_dir / "requests.csv")
    total = process.environment.stats.total
    assert len(rows) == total.num_requests > 20  # Locust's count includes its failures
    assert sum(r["status"] == "error" for r in rows) == total.num_failures == 0
    assert run.writer.rows == len(rows)
    assert {r["worker"] for r in rows} == {"local"}
    assert {r["users"] for r in rows} <= {"1", "2"}
    assert {(r["request_type"], r["name"], r["user_class"]) for r in rows} == {
        ("invoke", "demo-triton", "TritonUser")
    }

    info = json.loads((run.run_dir / "run.json").read_text())
    assert info["measured_from_s"] == run.started_s + 0.5 == run.measured_from_s
    assert info["records"] == len(rows)
    assert info["ended_at"] is not None
    assert info["locust"]["users"] == 2
    assert info["config"]["endpoint"]["endpoint_url"] == emulator.url
    for name in ("summary.csv", "errors.csv", "timeseries.csv", "locust_stats.csv", "error_samples.json"):
        assert (run.run_dir / name).is_file(), name
    assert run.passed is None  # no gates: nothing decides the exit code
    assert exit_code(run.passed) is None
    assert any(str(run.run_dir) in line for line in run.closing)


def test_streaming_users_write_their_parts_and_first_part_times(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    process = local(parse_options(*emulator_args(emulator, tmp_path), num_users=2), (StreamUser,))
    run = _run(process)
    rows = csv_rows(run.run_dir / "requests.csv")
    assert len(rows) == process.environment.stats.total.num_requests > 5
    assert {(r["request_type"], r["name"], r["status"]) for r in rows} == {("stream", "llm-tgi", "ok")}
    # llm-tgi sends an empty first chunk at once, then its first token after a fixed 30 ms
    assert all(0.0 <= float(r["ttfp_ms"]) <= float(r["ttft_ms"]) for r in rows)
    assert all(float(r["ttft_ms"]) >= 29.0 for r in rows)
    assert all(int(r["parts"]) >= 13 for r in rows)
    assert {r["tokens"] for r in rows} == {"12"}


def test_a_failed_gate_gives_exit_code_3(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    process = local(parse_options(*emulator_args(emulator, tmp_path, "--gate", "p95(latency)<0.001ms")))
    run = _run(process, users=1)
    assert run.passed is False
    assert [g.passed for g in run.final_gates] == [False]
    assert exit_code(run.passed) == 3
    assert process.environment.process_exit_code is None
    process.environment.events.quitting.fire(environment=process.environment)
    assert process.environment.process_exit_code == 3
    assert run.final_gates[0].gate.expression == "p95(latency)<0.001ms"


def test_a_passed_gate_gives_exit_code_0(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    process = local(parse_options(*emulator_args(emulator, tmp_path, "--gate", "p95(latency)<10s")))
    run = _run(process, users=1)
    assert run.passed is True
    process.environment.events.quitting.fire(environment=process.environment)
    assert process.environment.process_exit_code == 0


def test_quitting_during_a_run_stops_it_and_writes_the_reports(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """Ctrl-C or SIGTERM: Locust fires ``quitting`` while the users still run."""
    process = local(parse_options(*emulator_args(emulator, tmp_path, "--gate", "p95(latency)<0.001ms")))
    session = process.register()
    process.runner.start(2, spawn_rate=10)
    wait_until(lambda: process.environment.stats.total.num_requests > 10, 10.0, what="requests sent")
    process.environment.events.quitting.fire(environment=process.environment)
    run = session.run
    assert run is not None
    assert run.ended
    assert run.finished.is_set()
    assert process.runner.state == "stopped"
    assert process.environment.process_exit_code == 3
    assert len(csv_rows(run.run_dir / "requests.csv")) == process.environment.stats.total.num_requests
    assert (run.run_dir / "summary.csv").is_file()


def test_the_flush_timer_puts_a_burst_on_disk(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    process = local(parse_options(*emulator_args(emulator, tmp_path)))
    session = process.register()
    process.environment.events.test_start.fire(environment=process.environment)
    run = session.run
    assert run is not None
    burst_at = time.monotonic()
    for _ in range(20):  # fewer than the writer's batch: nothing makes it write but the timer
        fire_request(process.environment)
    path = run.run_dir / "requests.csv"
    wait_until(lambda: len(csv_rows(path)) == 20, 2.5, what="the burst on disk")
    assert time.monotonic() - burst_at <= 2.5  # the timer flushes every 1 s; slack for a busy machine
    process.environment.events.test_stop.fire(environment=process.environment)
    assert run.ended
    assert len(csv_rows(path)) == 20


def test_each_run_gets_its_own_directory(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """The web UI's second start: a new run, a new directory; the first run's files stay as they were."""
    process = local(parse_options(*emulator_args(emulator, tmp_path)))
    session = process.register()
    events, environment = process.environment.events, process.environment
    events.test_start.fire(environment=environment)
    first = session.run
    assert first is not None
    for _ in range(3):
        fire_request(environment)
    events.test_stop.fire(environment=environment)
    events.test_start.fire(environment=environment)
    second = session.run
    assert second is not None
    assert second is not first
    assert second.run_dir != first.run_dir
    for _ in range(5):
        fire_request(environment)
    events.test_stop.fire(environment=environment)
    assert len(csv_rows(first.run_dir / "requests.csv")) == 3
    assert len(csv_rows(second.run_dir / "requests.csv")) == 5


def test_an_invalid_value_from_the_web_ui_stops_the_run_with_one_line(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log, "unhandled_greenlet_exception", False)  # restored afterwards
    process = local(parse_options(*emulator_args(emulator, tmp_path)))
    session = process.register()
    process.environment.parsed_options.endpoint = "bad name!"  # --endpoint is in the web UI's form
    process.runner.start(1, spawn_rate=10)
    wait_until(lambda: process.runner.state == "stopped", 5.0, what="the run stopped")
    assert session.run is None
    assert not list(tmp_path.iterdir())
    assert log.unhandled_greenlet_exception is False
