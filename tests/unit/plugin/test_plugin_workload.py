"""The set-up and workload parts: options checked before any load, transports sized for the run's users."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from plugin_support import (
    STREAM_ENDPOINT,
    LocalFactory,
    StreamUser,
    TritonUser,
    emulator_args,
    new_environment,
    parse_options,
)

from bench.emulator.process import EmulatorProcess
from bench.errors import ConfigError
from bench.plugin.session import Session
from bench.plugin.workload import WorkloadPart
from bench.transport.boto import Boto3Transport
from bench.transport.fast import FastTransport
from bench.users import stream_workload_of, workload_of


def _boto3_pool(transport: object) -> int:
    assert isinstance(transport, Boto3Transport)
    return int(transport._client.meta.config.max_pool_connections)


def _fast_pool(transport: object) -> int:
    assert isinstance(transport, FastTransport)
    return int(transport._http._connection_pool.size)


@pytest.mark.parametrize(
    "args",
    [
        ("--gate", "p95(latency)<<250ms"),
        ("--transport", "carrier-pigeon"),
        ("--steps", "1,x"),
        ("--input", "INPUT0:FP33:1,16"),
    ],
    ids=["gate", "transport", "steps", "input"],
)
def test_a_bad_option_raises_config_error_before_anything_starts(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path, args: tuple[str, ...]
) -> None:
    process = local(parse_options(*emulator_args(emulator, tmp_path), *args))
    with pytest.raises(ConfigError):
        process.register()
    events = process.environment.events
    assert not events.test_start._handlers
    assert not events.test_stop._handlers
    assert not events.request._handlers[1:]  # only Locust's own statistics listen
    assert getattr(process.environment, "bench_workload", None) is None  # no transport opened
    assert process.environment.shape_class is None
    assert process.runner.state == "ready"
    assert not list(tmp_path.iterdir())  # no run directory


class _FakeEmulator:
    url = "http://127.0.0.1:1"
    endpoints = ("demo-triton", "demo-llm")
    pid = 0

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


def test_bad_options_fail_before_the_emulator_starts(
    local: LocalFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Any] = []
    monkeypatch.setattr("bench.emulator.process.start_emulator", lambda config: started.append(config))
    process = local(parse_options("--input", "INPUT0:FP33:1,16", "--report-dir", str(tmp_path)))
    with pytest.raises(ConfigError, match="FP33"):
        process.register()
    assert started == []


def test_an_emulator_started_before_a_failure_is_stopped(
    local: LocalFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulators: list[_FakeEmulator] = []

    def start(config: Path | None) -> _FakeEmulator:
        emulators.append(_FakeEmulator())
        return emulators[-1]

    monkeypatch.setattr("bench.emulator.process.start_emulator", start)
    # valid options; the transport, opened after the emulator started, finds no such AWS profile
    options = parse_options("--aws-profile", "no-such-bench-test-profile", "--report-dir", str(tmp_path))
    process = local(options)
    with pytest.raises(ConfigError, match="no-such-bench-test-profile"):
        process.register()
    assert len(emulators) == 1
    assert emulators[0].stopped
    assert options.bench_emulator_url == _FakeEmulator.url


def test_register_parts_opens_the_transports_sized_for_the_top_step(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    options = parse_options(*emulator_args(emulator, tmp_path, "--steps", "1,16"), num_users=None)
    process = local(options, (TritonUser, StreamUser))
    session = process.register()
    assert session.max_users() == 16
    tensor, stream = workload_of(process.environment), stream_workload_of(process.environment)
    assert _boto3_pool(tensor.transport) == 16
    assert _boto3_pool(stream.transport) == 16
    assert stream.spec.endpoint.name == STREAM_ENDPOINT
    assert len(tensor.requests) >= 1
    assert len(stream.bodies) >= 1


def _workload(emulator: EmulatorProcess, tmp_path: Path, *args: str, **locust: Any) -> WorkloadPart:
    options = parse_options(*emulator_args(emulator, tmp_path, *args), **locust)
    environment = new_environment(options, (TritonUser, StreamUser))
    runner = environment.create_local_runner()
    session = Session(environment, runner)
    return WorkloadPart(session)


@pytest.fixture
def parts() -> Iterator[list[WorkloadPart]]:
    made: list[WorkloadPart] = []
    yield made
    for part in made:
        part.close()
        part.session.runner.quit()


def test_the_fast_transports_pool_is_sized_too(
    emulator: EmulatorProcess, tmp_path: Path, parts: list[WorkloadPart]
) -> None:
    part = _workload(emulator, tmp_path, "--transport", "fast", "--steps", "2,4,32", num_users=None)
    parts.append(part)
    part.build()
    assert part.tensor is not None
    assert part.stream is not None
    assert _fast_pool(part.tensor.transport) == 32
    assert _fast_pool(part.stream.transport) == 32


def test_small_runs_get_the_default_pool(
    emulator: EmulatorProcess, tmp_path: Path, parts: list[WorkloadPart]
) -> None:
    part = _workload(emulator, tmp_path, num_users=2)
    parts.append(part)
    part.build()
    assert part.tensor is not None
    assert _boto3_pool(part.tensor.transport) == 10  # urllib3's default: at least that many


def test_the_transports_are_reused_while_config_and_pool_hold(
    emulator: EmulatorProcess, tmp_path: Path, parts: list[WorkloadPart]
) -> None:
    part = _workload(emulator, tmp_path, num_users=16)
    parts.append(part)
    options = part.session.environment.parsed_options
    part.build()
    assert part.tensor is not None
    assert part.stream is not None
    tensor, stream = part.tensor.transport, part.stream.transport
    assert _boto3_pool(tensor) == 16

    part.build()  # the next run, nothing changed
    assert part.tensor.transport is tensor
    assert part.stream.transport is stream

    options.num_users = 4  # fewer users: the pool still holds
    part.build()
    assert part.tensor.transport is tensor

    options.num_users = 40  # more users than the pool holds: new transports, a larger pool
    part.build()
    assert part.tensor.transport is not tensor
    assert _boto3_pool(part.tensor.transport) == 40
    bigger = part.tensor.transport

    options.read_timeout = "30s"  # another configuration: new transports
    part.build()
    assert part.tensor.transport is not bigger
    assert part.tensor.config.transport.read_timeout_s == 30.0
    assert workload_of(part.session.environment) is part.tensor  # the users find the new one


def test_bodies_are_encoded_once_per_config(
    emulator: EmulatorProcess, tmp_path: Path, parts: list[WorkloadPart]
) -> None:
    part = _workload(emulator, tmp_path, num_users=1)
    parts.append(part)
    config = part.session.config()
    requests, bodies = part.encode(config)
    again = part.encode(config)
    assert again[0] is requests
    assert again[1] is bodies
    assert part.kinds() == (True, True)
    assert requests
    assert all(r.body for r in requests)
    assert bodies
    assert all(bodies)
