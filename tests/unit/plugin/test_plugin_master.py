"""The master part on a fake message bus: the workers' rows into the one CSV, with the master's users and step."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from locust.env import Environment
from locust.runners import STATE_MISSING, STATE_RUNNING
from plugin_support import (
    FakeMasterRunner,
    FakeWorkerNode,
    csv_rows,
    emulator_args,
    new_environment,
    parse_options,
    record,
    wait_until,
)

from bench.collect.health import HealthReport
from bench.collect.shipping import RECORDS_MESSAGE
from bench.emulator.process import EmulatorProcess
from bench.plugin.finish import FinishPart
from bench.plugin.master import MasterPart
from bench.plugin.run import Run, RunPart
from bench.plugin.session import MASTER, Session
from bench.plugin.steps import StepsPart

HEALTHY = HealthReport(4, 0.2, 0.3, 0.4, 1.0, 2.0, True).__dict__


@dataclass
class Master:
    environment: Environment
    runner: FakeMasterRunner
    session: Session
    part: MasterPart

    def send(
        self, node_id: str, rows: list[tuple[object, ...]], *, final: bool = False, **extra: object
    ) -> None:
        self.runner.deliver(
            self.environment, RECORDS_MESSAGE, node_id, {"rows": rows, "final": final, "errors": [], **extra}
        )

    def run(self) -> Run:
        assert self.session.run is not None
        return self.session.run


def _master(
    tmp_path: Path, emulator: EmulatorProcess, *args: str, clients: dict[str, FakeWorkerNode]
) -> Master:
    environment = new_environment(parse_options(*emulator_args(emulator, tmp_path, *args)))
    runner = FakeMasterRunner(user_count=7, clients=clients)
    session = Session(environment, runner, role=MASTER)  # type: ignore[arg-type]
    StepsPart(session).install()  # a stepped run's shape, as the set-up part installs it
    run_part = RunPart(session)
    run_part.register(environment)
    part = MasterPart(session, run_part)
    part.register(environment)
    FinishPart(
        session, run_part, before_close=[part.wait_for_workers], after_close=[part.files_closed]
    ).register(environment)
    return Master(environment, runner, session, part)


@pytest.fixture
def masters() -> Iterator[list[Master]]:
    made: list[Master] = []
    yield made
    for master in made:
        run = master.session.run
        if run is not None and not run.ended:
            master.environment.events.test_stop.fire(environment=master.environment)
            run.finished.wait(timeout=10)


def _values(timestamp_s: float, worker: str, **fields: object) -> tuple[object, ...]:
    """A row as a worker ships it (``RequestRecord.values``): its own users, no step."""
    return record(timestamp_s, worker=worker, users=1, step=None, **fields).values()  # type: ignore[arg-type]


def test_the_workers_rows_are_written_once_with_the_masters_users(
    tmp_path: Path, emulator: EmulatorProcess, masters: list[Master]
) -> None:
    clients = {"w1": FakeWorkerNode("w1", STATE_RUNNING), "w2": FakeWorkerNode("w2", STATE_RUNNING)}
    master = _master(tmp_path, emulator, clients=clients)
    masters.append(master)
    master.environment.events.test_start.fire(environment=master.environment)
    run = master.run()
    assert run.health is None  # the master sends no load: its workers watch themselves
    now = time.time()
    master.send("w1", [_values(now + 0.01 * k, "w1") for k in range(3)])
    master.send("w2", [_values(now + 0.01 * k, "w2", status="error") for k in range(2)])
    master.send("w1", [_values(now + 0.1, "w1")])

    stopped = time.monotonic()
    master.environment.events.test_stop.fire(environment=master.environment)
    assert not run.finished.is_set()  # it waits for the workers' last batches
    master.send("w1", [_values(now + 0.2, "w1")], final=True, health=HEALTHY)
    master.send("w2", [], final=True, health={**HEALTHY, "valid": False, "reasons": ["too busy"]})
    assert run.finished.wait(timeout=5.0)
    assert time.monotonic() - stopped < 4.0  # both final batches came: no wait to the 5 s limit

    rows = csv_rows(run.run_dir / "requests.csv")
    assert len(rows) == 7 == run.writer.rows
    assert sorted((r["worker"], r["status"]) for r in rows) == sorted(
        [("w1", "ok")] * 5 + [("w2", "error")] * 2
    )
    assert {r["users"] for r in rows} == {"7"}  # the master's count across workers, not the worker's 1
    assert {r["step"] for r in rows} == {""}  # no shape: no step
    assert run.health_report is not None
    assert not run.health_report.valid
    assert run.health_report.reasons == ("worker w2: too busy",)
    assert run.processes == 2

    master.send("w1", [_values(now + 0.3, "w1")])  # after the files closed: counted, not written
    assert master.part.receiver.late == 1
    assert len(csv_rows(run.run_dir / "requests.csv")) == 7


def test_the_step_comes_from_the_masters_shape(
    tmp_path: Path, emulator: EmulatorProcess, masters: list[Master]
) -> None:
    master = _master(tmp_path, emulator, "--steps", "1,2", "--step-duration", "2s", clients={})
    masters.append(master)
    shape = master.session.shape
    assert shape is not None
    shape.reset_time()  # what the runner's start_shape does
    master.environment.events.test_start.fire(environment=master.environment)
    run = master.run()
    assert run.started_s == shape.started_at_s
    t0 = run.started_s
    master.send("w1", [_values(t0 + 0.5, "w1"), _values(t0 + 1.9, "w1"), _values(t0 + 2.1, "w1")])
    master.send("w1", [_values(t0 + 3.5, "w1"), _values(t0 + 9.0, "w1"), _values(t0 - 1.0, "w1")], final=True)
    master.environment.events.test_stop.fire(environment=master.environment)
    assert run.finished.wait(timeout=5.0)
    rows = csv_rows(run.run_dir / "requests.csv")
    assert [r["step"] for r in rows] == ["1", "1", "2", "2", "2", ""]  # past the plan: the last; before: none
    assert {r["users"] for r in rows} == {"7"}


def test_a_missing_worker_is_not_waited_for(
    tmp_path: Path, emulator: EmulatorProcess, masters: list[Master]
) -> None:
    clients = {"w1": FakeWorkerNode("w1", STATE_RUNNING), "w2": FakeWorkerNode("w2", STATE_RUNNING)}
    master = _master(tmp_path, emulator, clients=clients)
    masters.append(master)
    master.environment.events.test_start.fire(environment=master.environment)
    run = master.run()
    master.send("w2", [_values(time.time(), "w2")])
    clients["w2"].state = STATE_MISSING  # Locust's heartbeats stopped
    wait_until(lambda: "w2" in run.lost_workers, 5.0, what="the lost worker noticed")
    assert run.lost_workers["w2"].records_received == 1
    info = json.loads((run.run_dir / "run.json").read_text())  # written at once, not only at the end
    assert [(w["worker"], w["records_received"]) for w in info["lost_workers"]] == [("w2", 1)]
    master.environment.events.test_stop.fire(environment=master.environment)
    master.send("w1", [], final=True, health=HEALTHY)
    stopped = time.monotonic()
    assert run.finished.wait(timeout=5.0)
    assert time.monotonic() - stopped < 4.0
    assert len(csv_rows(run.run_dir / "requests.csv")) == 1
