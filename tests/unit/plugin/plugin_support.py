"""Helpers for the in-process tests of the Locust glue (``bench.plugin``): options, users, fake runners.

Each part is tested inside a real Locust ``Environment(events=Events())``: with a real ``LocalRunner``
for the local process, and with small fakes of Locust's message bus for the worker and the master.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from locust import constant
from locust.env import Environment
from locust.event import Events
from locust.runners import LocalRunner, WorkerNodes
from support import wait_until as wait_until

from bench.collect import COLUMNS, RequestRecord
from bench.emulator.process import EmulatorProcess
from bench.options import add_options
from bench.plugin import Session, register_parts
from bench.users import SageMakerStreamingUser, SageMakerTritonUser, StreamWorkload, TensorWorkload

T = TypeVar("T")
# What the test emulator's demo-triton endpoint accepts (tests/data/emulator.toml).
TRITON_INPUTS = ("--input", "INPUT0:FP32:1,16", "--input", "INPUT1:FP32:1,16")
STREAM_ENDPOINT = "llm-tgi"  # 30 ms to the first token, 12 tokens 2 ms apart


class TritonUser(SageMakerTritonUser):
    wait_time = constant(0.01)


class StreamUser(SageMakerStreamingUser):
    wait_time = constant(0.01)


def parse_options(
    *args: str,
    num_users: int | None = 1,
    spawn_rate: float = 1.0,
    run_time: int | None = None,
    headless: bool = True,
) -> argparse.Namespace:
    """The harness's options parsed from ``args``, with the attributes of Locust's own that the glue reads."""
    parser = argparse.ArgumentParser()
    add_options(parser, locust=False)
    options = parser.parse_args(list(args))
    options.num_users = num_users
    options.spawn_rate = spawn_rate
    options.run_time = run_time
    options.headless = headless
    options.locustfile = "tests/unit/plugin"
    return options


def emulator_args(emulator: EmulatorProcess, report_dir: Path, *extra: str) -> tuple[str, ...]:
    """Options aiming the tensor user at the test emulator's ``demo-triton`` (and streams at ``llm-tgi``)."""
    return (
        "--endpoint-url",
        emulator.url,
        "--endpoint",
        "demo-triton",
        "--stream-endpoint",
        STREAM_ENDPOINT,
        *TRITON_INPUTS,
        "--report-dir",
        str(report_dir),
        *extra,
    )


def new_environment(options: argparse.Namespace, user_classes: Sequence[type] = (TritonUser,)) -> Environment:
    environment = Environment(events=Events(), user_classes=list(user_classes))
    environment.parsed_options = options
    return environment


def csv_rows(path: Path) -> list[dict[str, str]]:
    """The data rows on disk now (whole lines only: a run still going may have a partial last line)."""
    data = path.read_text(encoding="utf-8")
    lines = data.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines.pop()
    reader = csv.reader(lines)
    assert tuple(next(reader, ())) == COLUMNS, f"{path}: not our header"
    return [dict(zip(COLUMNS, row, strict=True)) for row in reader]


def record(
    timestamp_s: float,
    *,
    latency_ms: float = 10.0,
    users: int | None = 1,
    step: int | None = None,
    status: str = "ok",
    worker: str = "local",
    name: str = "demo-triton",
) -> RequestRecord:
    """A tensor request's record, with the fields the tests vary."""
    error = status == "error"
    return RequestRecord(
        timestamp_s,
        timestamp_s,
        worker,
        "TritonUser",
        "invoke",
        name,
        "demo-triton",
        "AllTraffic",
        None,
        "0" * 32,
        users,
        step,
        status,
        "ModelError" if error else None,
        "request" if error else None,
        424 if error else 200,
        latency_ms,
        None,
        None,
        None,
        None,
        None,
        None,
        128,
        64,
    )


def fire_request(environment: Environment, *, response_time: float = 5.0, **context: Any) -> None:
    """One request event as a tensor user fires it."""
    environment.events.request.fire(
        request_type="invoke",
        name="x",
        response_time=response_time,
        response_length=10,
        exception=None,
        context={"user_class": "TritonUser", "endpoint": "demo-triton", "request_bytes": 128, **context},
        start_time=time.time(),
        url=None,
    )


@dataclass
class Message:
    """What Locust hands a custom message's listener: the sender and the data."""

    node_id: str
    data: dict[str, Any]


@dataclass
class FakeWorkerRunner:
    """The part of Locust's ``WorkerRunner`` the worker part uses: ``send_message`` to the master."""

    client_id: str = "worker-1"
    user_count: int = 3
    sent: list[tuple[str, Any]] = field(default_factory=list)
    handlers: dict[str, Callable[..., None]] = field(default_factory=dict)
    greenlet: FakeGroup = field(default_factory=lambda: FakeGroup())

    def send_message(self, msg_type: str, data: Any = None, client_id: str | None = None) -> None:
        self.sent.append((msg_type, data))

    def register_message(
        self, msg_type: str, listener: Callable[..., None], concurrent: bool = False
    ) -> None:
        self.handlers[msg_type] = listener


@dataclass
class FakeGroup:
    """The runner's greenlet group: killing it ends a worker process's main loop."""

    kills: int = 0

    def kill(self, block: bool = True) -> None:
        self.kills += 1


@dataclass
class FakeWorkerNode:
    id: str
    state: str


@dataclass
class FakeMasterRunner:
    """The part of Locust's ``MasterRunner`` the master part uses: custom messages, users, workers."""

    user_count: int = 7
    target_user_count: int = 7
    clients: Any = field(default_factory=dict)  # given as a dict; Locust's own WorkerNodes from then on
    handlers: dict[str, Callable[..., None]] = field(default_factory=dict)
    state: str = "running"

    def __post_init__(self) -> None:
        nodes = WorkerNodes()
        for node_id, node in dict(self.clients).items():
            nodes[node_id] = node  # the same node objects: a test may change their state later
        self.clients = nodes

    def register_message(
        self, msg_type: str, listener: Callable[..., None], concurrent: bool = False
    ) -> None:
        self.handlers[msg_type] = listener

    def deliver(self, environment: Environment, msg_type: str, node_id: str, data: dict[str, Any]) -> None:
        """A message from a worker, as Locust's master hands it to the registered listener."""
        self.handlers[msg_type](environment=environment, msg=Message(node_id, data))

    def stop(self) -> None:
        self.state = "stopped"


@dataclass
class Local:
    """One local Locust process in this one: its environment, its real ``LocalRunner``, its session."""

    environment: Environment
    runner: LocalRunner
    session: Session | None = None

    def register(self) -> Session:
        self.session = register_parts(self.environment, self.runner)
        return self.session

    def close(self) -> None:
        """Stop what a test left running: the users, the run's greenlets and files, the transports."""
        self.runner.quit()
        session = self.session
        if session is not None and session.run is not None and not session.run.ended:
            self.environment.events.test_stop.fire(environment=self.environment)
        for name in ("bench_workload", "bench_stream_workload"):
            workload = getattr(self.environment, name, None)
            if isinstance(workload, TensorWorkload | StreamWorkload):
                workload.transport.close()


@dataclass
class LocalFactory:
    made: list[Local] = field(default_factory=list)

    def __call__(self, options: argparse.Namespace, user_classes: Sequence[type] = (TritonUser,)) -> Local:
        environment = new_environment(options, user_classes)
        local = Local(environment, environment.create_local_runner())
        self.made.append(local)
        return local
