"""The session: the configuration parsed once per set of option values, the emulator's URL, max users."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

from plugin_support import TRITON_INPUTS, new_environment, parse_options

from bench.options import option_values, run_config_from_options
from bench.plugin.session import EMULATOR_URL, LOCAL, MASTER, WORKER, Session

URL = "http://127.0.0.1:8181"


def _session(*args: str, runner: object | None = None, role: str = "", **locust: object) -> Session:
    options = parse_options(*args, **locust)  # type: ignore[arg-type]
    return Session(new_environment(options), runner or SimpleNamespace(), role=role)  # type: ignore[arg-type]


def test_the_config_is_parsed_once_while_the_values_hold() -> None:
    session = _session("--endpoint-url", URL, "--endpoint", "demo-triton", *TRITON_INPUTS)
    first = session.config()
    assert session.config() is first  # the same object, not an equal one parsed again
    assert first.endpoint.name == "demo-triton"
    assert first.endpoint.endpoint_url == URL
    assert not first.endpoint.emulated


def test_a_changed_value_gives_a_new_config(tmp_path: Path) -> None:
    session = _session("--endpoint-url", URL, "--endpoint", "demo-triton", *TRITON_INPUTS)
    first = session.config()
    options = session.environment.parsed_options
    options.report_dir = str(tmp_path)  # as the web UI's start form changes a value between runs
    second = session.config()
    assert second is not first
    assert second.report_dir == tmp_path
    assert first.report_dir == Path("reports")
    assert session.config() is second
    options.report_dir = "reports"  # back to the first values: parsed again, equal to the first
    third = session.config()
    assert third == first
    assert third is not second


def test_the_emulator_url_is_put_in_with_replace() -> None:
    session = _session()  # no endpoint: the emulator's demo endpoints
    before = session.config()
    assert before.endpoint.emulated
    assert before.endpoint.endpoint_url is None  # validated before the emulator listens
    assert before.stream is not None
    assert before.stream.endpoint.endpoint_url is None

    setattr(session.environment.parsed_options, EMULATOR_URL, URL)
    after = session.config()
    expected = run_config_from_options(option_values(session.environment.parsed_options))
    stream = expected.stream
    assert stream is not None
    assert after == replace(
        expected,
        endpoint=replace(expected.endpoint, endpoint_url=URL),
        stream=replace(stream, endpoint=replace(stream.endpoint, endpoint_url=URL)),
    )
    assert session.emulator_url == URL
    assert session.config() is after  # kept: not replaced again on each call

    setattr(session.environment.parsed_options, EMULATOR_URL, "http://127.0.0.1:8282")
    moved = session.config()
    assert moved.endpoint.endpoint_url == "http://127.0.0.1:8282"
    assert moved.stream is not None
    assert moved.stream.endpoint.endpoint_url == "http://127.0.0.1:8282"


def test_an_explicit_endpoint_url_is_not_replaced_by_the_emulators() -> None:
    session = _session("--endpoint-url", URL, "--endpoint", "demo-triton", *TRITON_INPUTS)
    setattr(session.environment.parsed_options, EMULATOR_URL, "http://127.0.0.1:8282")
    assert session.config().endpoint.endpoint_url == URL


def test_max_users_from_u_and_from_the_top_step() -> None:
    assert _session(num_users=5).max_users() == 5
    assert _session(num_users=None).max_users() == 0

    stepped = _session("--steps", "1,16", num_users=None)
    stepped.config()
    assert stepped.max_users() == 16
    more = _session("--steps", "1,16", num_users=20)
    more.config()
    assert more.max_users() == 20  # -u above the top step

    web_ui = _session(num_users=2, runner=SimpleNamespace(target_user_count=30))  # the start form's count
    assert web_ui.max_users() == 30


def test_the_role_comes_from_the_runner_or_is_given() -> None:
    assert _session().role == LOCAL  # not a Locust runner at all: neither master nor worker
    worker = _session(role=WORKER)
    assert worker.is_worker
    assert not worker.is_master
    master = _session(role=MASTER)
    assert master.is_master
    assert not master.is_worker
