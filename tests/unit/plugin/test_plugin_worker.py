"""The worker part on a fake message bus: records shipped as typed values, the last batch with health."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import gevent
import pytest
from locust.env import Environment
from plugin_support import FakeWorkerRunner, emulator_args, fire_request, new_environment, parse_options

from bench.collect import COLUMNS
from bench.collect.health import HealthReport, report_from_dict
from bench.collect.shipping import RECORDS_MESSAGE, SHIP_INTERVAL_S
from bench.emulator.process import EmulatorProcess
from bench.plugin.session import QUIT_AFTER_STOP, WORKER, Session
from bench.plugin.worker import QUIT_DELAY_S, WorkerPart

COLUMN = {name: i for i, name in enumerate(COLUMNS)}


@pytest.fixture
def worker(emulator: EmulatorProcess, tmp_path: Path) -> Iterator[tuple[Environment, FakeWorkerRunner]]:
    environment = new_environment(parse_options(*emulator_args(emulator, tmp_path, "--warmup", "1s")))
    runner = FakeWorkerRunner(client_id="worker-7", user_count=3)
    session = Session(environment, runner, role=WORKER)  # type: ignore[arg-type]
    part = WorkerPart(session)
    part.register(environment)
    yield environment, runner
    part.on_test_stop()  # a test that failed half-way: stop the shipping and health greenlets


def test_records_are_shipped_typed_and_the_last_batch_is_final(
    worker: tuple[Environment, FakeWorkerRunner], tmp_path: Path
) -> None:
    environment, runner = worker
    environment.events.test_start.fire(environment=environment)
    for _ in range(3):
        fire_request(environment, response_time=5.0, variant="AllTraffic", http_status=200)
    time.sleep(SHIP_INTERVAL_S + 0.4)  # one ship interval, and slack
    assert runner.sent, "nothing shipped within a ship interval"
    for _ in range(2):
        fire_request(environment, response_time=7.5)
    environment.events.test_stop.fire(environment=environment)

    assert {msg_type for msg_type, _ in runner.sent} == {RECORDS_MESSAGE}
    batches = [data for _, data in runner.sent]
    assert [b["final"] for b in batches] == [False] * (len(batches) - 1) + [True]
    rows = [row for batch in batches for row in batch["rows"]]
    assert len(rows) == 5
    assert len(batches[0]["rows"]) == 3  # the first interval's three
    for row in rows:
        assert len(row) == len(COLUMNS)
        assert isinstance(row[COLUMN["timestamp_s"]], float)
        assert isinstance(row[COLUMN["latency_ms"]], float)
        assert row[COLUMN["users"]] == 3
        assert isinstance(row[COLUMN["users"]], int)
        assert row[COLUMN["response_bytes"]] == 10
        assert isinstance(row[COLUMN["response_bytes"]], int)
        assert row[COLUMN["request_bytes"]] == 128
        assert row[COLUMN["worker"]] == "worker-7"
        assert row[COLUMN["status"]] == "ok"
        assert row[COLUMN["error_type"]] is None
        assert row[COLUMN["ttfp_ms"]] is None
        assert row[COLUMN["step"]] is None  # the master knows the step, not the worker
    assert [row[COLUMN["latency_ms"]] for row in rows] == [5.0, 5.0, 5.0, 7.5, 7.5]
    assert rows[0][COLUMN["variant"]] == "AllTraffic"
    assert rows[0][COLUMN["http_status"]] == 200

    last = batches[-1]
    assert last["errors"] == []
    assert set(last["health"]) == set(HealthReport.__dataclass_fields__)
    assert report_from_dict(last["health"]).processes_needed >= 1
    assert "health" not in batches[0]
    assert any(b.get("live") for b in batches)  # the worker's live statistics travel with its records

    shipped = len(runner.sent)
    fire_request(environment)  # after the stop: not recorded, not shipped
    time.sleep(SHIP_INTERVAL_S + 0.2)
    assert len(runner.sent) == shipped


def test_an_error_sample_travels_with_the_last_batch(worker: tuple[Environment, FakeWorkerRunner]) -> None:
    environment, runner = worker
    environment.events.test_start.fire(environment=environment)
    environment.events.request.fire(
        request_type="invoke",
        name="x",
        response_time=3.0,
        response_length=0,
        exception=RuntimeError("connection reset"),
        context={},
        start_time=time.time(),
    )
    environment.events.test_stop.fire(environment=environment)
    rows = [row for _, data in runner.sent for row in data["rows"]]
    assert [(r[COLUMN["status"]], r[COLUMN["error_type"]], r[COLUMN["error_stage"]]) for r in rows] == [
        ("error", "RuntimeError", "request")
    ]
    final = runner.sent[-1][1]
    assert final["final"] is True
    assert final["errors"] == [
        {"error_type": "RuntimeError", "error_stage": "request", "message": "connection reset"}
    ]


def test_a_second_run_ships_afresh(worker: tuple[Environment, FakeWorkerRunner]) -> None:
    environment, runner = worker
    for count in (2, 4):
        runner.sent.clear()
        environment.events.test_start.fire(environment=environment)
        for _ in range(count):
            fire_request(environment)
        environment.events.test_stop.fire(environment=environment)
        assert sum(len(data["rows"]) for _, data in runner.sent) == count
        assert [data["final"] for _, data in runner.sent].count(True) == 1


def test_a_worker_told_the_master_quits_exits_after_its_last_batch(
    worker: tuple[Environment, FakeWorkerRunner],
) -> None:
    """SIGTERM to the master: its stop reaches the workers, Locust's quit no longer does (a stopped worker
    sleeps --stop-timeout before it registers again): so the master says first, and the worker ends its
    main loop once its last batch is on its way."""
    environment, runner = worker
    environment.events.test_start.fire(environment=environment)
    fire_request(environment)
    runner.handlers[QUIT_AFTER_STOP](environment, SimpleNamespace(data=None))
    environment.events.test_stop.fire(environment=environment)
    assert [data["final"] for _, data in runner.sent][-1] is True
    assert runner.greenlet.kills == 0  # not before the last messages leave
    gevent.sleep(QUIT_DELAY_S + 0.2)
    assert runner.greenlet.kills == 1


def test_a_worker_stopped_without_the_master_quitting_stays(
    worker: tuple[Environment, FakeWorkerRunner],
) -> None:
    environment, runner = worker
    environment.events.test_start.fire(environment=environment)
    environment.events.test_stop.fire(environment=environment)
    gevent.sleep(QUIT_DELAY_S + 0.2)
    assert runner.greenlet.kills == 0  # the web UI's Stop: the worker waits for the next run
