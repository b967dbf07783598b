"""The web UI part on Locust's real WebUI: the start form's check, where the UI listens, its Host.

Locust's Flask app is driven with its test client (it never listens); the runner is a real
``LocalRunner`` against the test emulator.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import locust
import pytest
from locust.web import WebUI
from plugin_support import Local, LocalFactory, emulator_args, parse_options, wait_until
from werkzeug.datastructures import MultiDict

from bench.config import RunConfig
from bench.emulator.process import EmulatorProcess
from bench.errors import ConfigError
from bench.live.webtab import INFERENCE_TAB, OPEN_LOOP, RUN_TAB
from bench.options import option_values, run_config_from_options
from bench.plugin.session import Session
from bench.plugin.setup import add_harness_options
from bench.plugin.webui import (
    FORM_HELP,
    LOCAL_WEB_HOST,
    WebUIPart,
    form_extra_options,
    form_options,
    host_label,
    listen_locally_by_default,
    listening_line,
    web_host_given,
)

BAD_ENDPOINT = "bad name!"


def _form(**fields: str) -> dict[str, str]:
    """What Locust's UI posts: its own fields, then every custom parameter (empty when not set)."""
    return {"user_count": "2", "spawn_rate": "2", "host": "", "run_time": "", **fields}


@pytest.fixture
def ui(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Local, Session, WebUI]:
    """A local process with Locust's WebUI made as ``locust`` makes it (before ``init``), then the parts."""
    monkeypatch.setattr(sys, "argv", ["locust"])  # the UI parses the command line for its options form
    process = local(parse_options(*emulator_args(emulator, tmp_path, "--gate", "p95(latency)<5s")))
    environment = process.environment
    options, environment.parsed_options = environment.parsed_options, None  # Locust's form reads its own
    web_ui = environment.create_web_ui("127.0.0.1", 0, delayed_start=True)  # never listens
    environment.parsed_options = options
    assert web_ui is not None
    session = process.register()
    return process, session, web_ui


def test_a_bad_endpoint_in_the_form_is_refused_with_its_one_line_and_nothing_starts(
    ui: tuple[Local, Session, WebUI], caplog: pytest.LogCaptureFixture
) -> None:
    process, session, web_ui = ui
    environment = process.environment
    before = dict(vars(environment.parsed_options))
    client = web_ui.app.test_client()

    response = client.post("/swarm", data=_form(endpoint=BAD_ENDPOINT, max_tokens="7"))

    assert response.status_code == 200  # Locust's UI shows the message of a 2xx answer only
    body = response.get_json()
    assert body["success"] is False
    assert body["message"].startswith(f"--endpoint {BAD_ENDPOINT!r}: SageMaker endpoint names are")
    assert "\n" not in body["message"]
    assert vars(environment.parsed_options) == before  # nothing of the form stuck (max_tokens neither)
    assert environment.parsed_options.endpoint == "demo-triton"
    assert process.runner.state == "ready"
    assert session.run is None  # no test started
    assert body["message"] in caplog.text  # and the console says it, once

    # the next form, a good one, starts with the good values
    response = client.post("/swarm", data=_form(endpoint="demo-triton", max_tokens="7"))
    assert response.get_json()["success"] is True
    assert environment.parsed_options.max_tokens == "7"
    run = wait_until(lambda: session.run, 10.0, what="the run started by the form")
    assert run.config.endpoint.name == "demo-triton"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"stream_format": "xml"}, "--stream-format: 'xml' is not one of auto"),
        ({"gate": "p95(latency)<<1ms"}, "--gate 'p95(latency)<<1ms'"),  # a list option, split as Locust does
        ({"tensor_format": "csv"}, "--tensor-format"),
    ],
)
def test_other_bad_values_are_refused_too(
    ui: tuple[Local, Session, WebUI], fields: dict[str, str], message: str
) -> None:
    process, session, web_ui = ui
    before = dict(vars(process.environment.parsed_options))
    body = web_ui.app.test_client().post("/swarm", data=_form(**fields)).get_json()
    assert body["success"] is False
    assert body["message"].startswith(message), body
    assert vars(process.environment.parsed_options) == before
    assert session.run is None


def test_the_extra_check_sees_the_forms_configuration(ui: tuple[Local, Session, WebUI]) -> None:
    """``check`` (the workload's ``encode`` in the harness) runs on the configuration the form makes."""
    _, session, _ = ui
    seen: list[RunConfig] = []

    def refuse(config: RunConfig) -> None:
        seen.append(config)
        raise ConfigError("--payload nope.json: no such file")

    part = WebUIPart(session, check=refuse)
    form = MultiDict(_form(endpoint="demo-triton", stream_format="tgi"))
    assert part.check_start_form(form) == "--payload nope.json: no such file"
    assert seen[0].stream is not None
    assert seen[0].stream.stream_format == "tgi"
    assert seen[0].endpoint.endpoint_url == session.config().endpoint.endpoint_url  # the emulator's URL


def test_form_options_convert_as_locust_does_on_a_copy() -> None:
    options = parse_options("--gate", "count>1", "--endpoint", "a")
    options.web_host = ""
    options.require_valid = False  # a flag as Locust's parser has it (a bool), not None
    form = MultiDict(
        [("endpoint", "b"), ("gate", "count>2,rps>1"), ("require_valid", "true"), ("web_host", "x")]
    )
    copy = form_options(options, form)
    assert (copy.endpoint, copy.gate, copy.require_valid) == ("b", ["count>2", "rps>1"], True)
    assert copy.web_host == ""  # only the harness's options: Locust's own are Locust's business
    assert (options.endpoint, options.gate, options.require_valid) == ("a", ["count>1"], False)
    listed = form_options(options, MultiDict([("gate", "count>3"), ("gate", "rps>2")]))
    assert listed.gate == ["count>3", "rps>2"]


def test_the_host_names_the_target_so_locust_does_not_warn(ui: tuple[Local, Session, WebUI]) -> None:
    process, session, web_ui = ui
    environment = process.environment
    assert environment.host == "sagemaker://demo-triton,llm-tgi"
    environment.parsed_options.stats_history_enabled = False  # read by Locust's template
    web_ui.update_template_args()
    assert web_ui.template_args["missing_host_warning"] is False
    assert web_ui.template_args["host"] == environment.host
    # the form changes the endpoint (the Host field still shows the old label): the label follows
    client = web_ui.app.test_client()
    response = client.post("/swarm", data=_form(host=environment.host, stream_endpoint="llm-openai"))
    assert response.get_json()["success"] is True
    label = "sagemaker://demo-triton,llm-openai"
    wait_until(lambda: session.run and environment.host == label, 10.0, what="the new Host at test start")


def test_a_host_given_by_the_user_is_kept(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    process = local(parse_options(*emulator_args(emulator, tmp_path)))
    process.environment.host = "https://my-proxy.example"
    session = process.register()
    part = WebUIPart(session)
    part.name_the_host()
    assert process.environment.host == "https://my-proxy.example"
    config = session.config()
    assert host_label(config) == "sagemaker://demo-triton,llm-tgi"


class _FakeWebUI:
    """The attributes of Locust's WebUI the listening rule reads and sets."""

    def __init__(self, host: str, port: int = 8089) -> None:
        self.host, self.port = host, port
        self.tls_cert = self.tls_key = None
        self.web_login = False


@pytest.mark.parametrize(
    ("web_host", "argv", "environ", "bound"),
    [
        ("", [], {}, LOCAL_WEB_HOST),  # Locust's default: moved to loopback
        ("", ["--web-host", ""], {}, ""),  # said explicitly: all interfaces
        ("", ["--web-host="], {}, ""),
        ("", [], {"LOCUST_WEB_HOST": ""}, ""),
        ("*", ["--web-host", "*"], {}, ""),  # "*": Locust passes "" to the server
        ("0.0.0.0", ["--web-host", "0.0.0.0"], {}, "0.0.0.0"),
        ("10.1.2.3", [], {}, "10.1.2.3"),  # from a config file: never the default
    ],
)
def test_the_web_ui_listens_on_loopback_unless_a_host_is_given(
    web_host: str, argv: list[str], environ: dict[str, str], bound: str
) -> None:
    options: Any = parse_options()
    options.web_host = web_host
    web_ui = _FakeWebUI("" if web_host == "*" else web_host)
    moved = listen_locally_by_default(web_ui, options, argv, environ)
    assert web_ui.host == bound
    assert moved == (bound == LOCAL_WEB_HOST)
    assert options.web_host == (LOCAL_WEB_HOST if moved else web_host)
    line = listening_line(web_ui, options)
    if bound == LOCAL_WEB_HOST:
        assert line == (
            "the web UI listens on http://127.0.0.1:8089 only; --web-host 0.0.0.0 exposes it to the "
            "network (without authentication unless --web-login)"
        )
    elif bound in ("", "0.0.0.0"):
        assert line.startswith("the web UI listens on all interfaces, port 8089, without authentication")


def test_web_host_given() -> None:
    assert not web_host_given(["-f", "x.py", "--web-host-display-name", "n"], {})
    assert web_host_given(["--web-host=::1"], {})
    assert web_host_given([], {"LOCUST_WEB_HOST": "0.0.0.0"})


@pytest.fixture
def harness_options() -> Iterator[None]:
    """The harness's options on Locust's own parser, as ``install()`` adds them (the form is made of it)."""
    locust.events.init_command_line_parser.add_listener(add_harness_options)
    yield
    locust.events.init_command_line_parser.remove_listener(add_harness_options)


def test_the_form_has_the_arrival_rate_and_process_with_the_open_loops_help(
    ui: tuple[Local, Session, WebUI], harness_options: None
) -> None:
    process, _, web_ui = ui
    process.environment.parsed_options.stats_history_enabled = False  # read by Locust's template
    page = web_ui.app.test_client().get("/").get_data(as_text=True)  # Locust remakes the form's options
    extra = web_ui.template_args["extra_options"]
    rate, spacing = extra["arrival_rate"], extra["arrival"]
    assert rate["default_value"] is None  # empty: closed loop
    assert rate["choices"] is None
    assert rate["help_text"] == FORM_HELP["arrival_rate"]
    assert (
        "Number of users is then the users available to send: the most requests in flight"
        in rate["help_text"]
    )
    assert (spacing["default_value"], spacing["choices"]) == (
        "poisson",
        ["poisson", "constant"],
    )  # a drop-down
    assert extra["stream_format"]["choices"][:2] == ["auto", "ndjson"]
    assert '"arrival_rate"' in page
    assert FORM_HELP["arrival_rate"] in page
    assert '"constant"' in page


def test_form_extra_options_keep_a_value_that_is_none_of_the_choices_editable() -> None:
    shown = form_extra_options(
        {
            "arrival": {"default_value": "bursty", "choices": None, "help_text": "h"},
            "endpoint": {"default_value": "x", "choices": None, "help_text": "e"},
        }
    )
    assert shown["arrival"]["choices"] is None  # a text field showing the odd value, refused at Start
    assert shown["endpoint"] == {"default_value": "x", "choices": None, "help_text": "e"}


@pytest.mark.parametrize("rate", ["fast", "0", "-5", "inf", "nan", "1e999"])
def test_a_bad_arrival_rate_in_the_form_is_refused_with_its_one_line(
    ui: tuple[Local, Session, WebUI], rate: str
) -> None:
    process, session, web_ui = ui
    before = dict(vars(process.environment.parsed_options))
    response = web_ui.app.test_client().post("/swarm", data=_form(arrival_rate=rate, arrival="poisson"))
    body = response.get_json()
    assert response.status_code == 200
    assert body == {
        "success": False,
        "message": f"--arrival-rate {rate!r}: give requests per second as a positive number, e.g. 200",
    }
    assert vars(process.environment.parsed_options) == before
    assert process.runner.state == "ready"
    assert session.run is None


def test_a_bad_arrival_process_in_the_form_is_refused(ui: tuple[Local, Session, WebUI]) -> None:
    _, session, web_ui = ui
    body = web_ui.app.test_client().post("/swarm", data=_form(arrival_rate="20", arrival="bursty")).get_json()
    assert body["success"] is False
    assert body["message"].startswith("--arrival: 'bursty' is not one of poisson, constant"), body
    assert session.run is None


def test_an_arrival_rate_typed_in_the_form_runs_the_open_loop_and_the_tab_shows_it(
    ui: tuple[Local, Session, WebUI], capsys: pytest.CaptureFixture[str]
) -> None:
    process, session, web_ui = ui
    client = web_ui.app.test_client()
    form = _form(arrival_rate="40", arrival="constant", user_count="4", spawn_rate="4")
    assert client.post("/swarm", data=form).get_json()["success"] is True
    # the parts' test_start handlers yield (run.json's git sha): the arrivals part's comes after the run's
    run = wait_until(lambda: session.run if session.run and session.run.arrival else None, 10.0, what="a run")
    assert run.config.arrival is not None
    assert (run.config.arrival.rate_per_s, run.config.arrival.distribution) == (40.0, "constant")
    assert run.arrival is not None
    assert (run.arrival["rate_per_s"], run.arrival["distribution"]) == (40.0, "constant")
    line = "bench: open loop from the start form: 40 req/s, constant arrivals (seed 0); 4 users available "
    assert (
        line + "to send (the form's Number of users: the most requests in flight)" in capsys.readouterr().out
    )
    # 40 req/s on a schedule (1 user in flight at a time is plenty for the emulator's few ms)
    wait_until(lambda: run.live.sends().count >= 100, 15.0, what="100 sends")
    state = WebUIPart(session).tab_state()
    assert state.arrival is not None
    assert (state.arrival.target_rate_per_s, state.arrival.users) == (40.0, 4)
    assert state.arrival.since_s == run.measured_from_s
    body = client.get("/stats/requests").get_json()
    rows = next(e["data"] for e in body["extended_stats"] if e["key"] == INFERENCE_TAB)
    first = rows[0]
    assert (first["type"], first["name"], first["target_rps"]) == (OPEN_LOOP, "all", 40.0)
    assert first["sent_rps"] == pytest.approx(40.0, rel=0.05)
    assert first["sent_rps_run"] == pytest.approx(40.0, rel=0.05)
    assert first["lag_p99"] != ""
    run_rows = next(e["data"] for e in body["extended_stats"] if e["key"] == RUN_TAB)
    users = next(r for r in run_rows if r["kind"] == OPEN_LOOP and r["item"] == "users")
    assert users["status"] == "4 available to send"
    process.runner.stop()
    wait_until(lambda: run.ended, 20.0, what="the run's end")
    assert run.arrival["sent"] >= 100


def test_an_emptied_arrival_rate_is_the_closed_loop_again() -> None:
    """Locust keeps a typed rate in the options (a string once set): the form's empty field clears it."""
    options = parse_options("--arrival-rate", "80", "--arrival", "constant")
    typed = run_config_from_options(option_values(form_options(options, MultiDict([("arrival_rate", "25")]))))
    assert typed.arrival is not None
    assert (typed.arrival.rate_per_s, typed.arrival.distribution) == (25.0, "constant")
    emptied = form_options(options, MultiDict([("arrival_rate", ""), ("arrival", "poisson")]))
    assert emptied.arrival_rate == ""
    assert run_config_from_options(option_values(emptied)).arrival is None
