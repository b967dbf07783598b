"""The web UI part: what the Inference tabs show before, during and after a run, and Reset Stats."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from plugin_support import Local, LocalFactory, emulator_args, fire_request, parse_options

from bench.emulator.process import EmulatorProcess
from bench.live.webtab import INFERENCE_TAB
from bench.plugin.session import Session
from bench.plugin.webui import WebUIPart

GATE = "p95(latency)<250ms"


def _process(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path
) -> tuple[Local, Session, WebUIPart]:
    process = local(parse_options(*emulator_args(emulator, tmp_path, "--gate", GATE, "--warmup", "1s")))
    session = process.register()
    return process, session, WebUIPart(session)


def test_the_tab_state_before_during_and_after_a_run(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    process, session, part = _process(local, emulator, tmp_path)
    environment = process.environment
    before = part.tab_state()
    assert before.live is None
    assert not before.ended
    assert before.gates == ()

    environment.events.test_start.fire(environment=environment)
    run = session.run
    assert run is not None
    for _ in range(4):
        fire_request(environment, response_time=12.0)
    during = part.tab_state()
    assert during.live is run.live
    assert [g.expression for g in during.gates] == [GATE]
    assert during.gates_since_s == run.measured_from_s == run.started_s + 1.0
    assert during.run_dir == run.run_dir
    assert not during.ended
    assert during.final_gates == ()
    assert during.aborted is None
    assert run.live.count() == 4

    environment.events.test_stop.fire(environment=environment)
    after = part.tab_state()
    assert after.ended
    assert after.final_gates == run.final_gates
    # every request was sent in the 1 s warm-up: the exact verdict has none to judge
    assert [(g.gate.expression, g.passed) for g in after.final_gates] == [(GATE, False)]
    assert after.final_gates[0].observed is None
    newest = run.live.newest_second
    assert newest is not None
    assert after.now_s <= newest + 1.0


def test_reset_stats_gives_new_live_statistics_that_get_the_new_records(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    process, session, part = _process(local, emulator, tmp_path)
    environment = process.environment
    environment.events.test_start.fire(environment=environment)
    run = session.run
    assert run is not None
    for _ in range(3):
        fire_request(environment)
    old = run.live
    assert old.count() == 3
    part.on_reset_stats()
    assert run.live is not old
    assert run.live.count() == 0
    assert part.tab_state().live is run.live
    for _ in range(2):
        fire_request(environment)
    assert run.live.count() == 2
    assert old.count() == 3
    environment.events.test_stop.fire(environment=environment)
    assert run.writer.rows == 5  # the run's files keep every record

    ended = run.live
    part.on_reset_stats()  # once the run ended, its figures stay
    assert run.live is ended


def test_registered_on_locusts_web_ui_reset_stats_reaches_the_part(
    local: LocalFactory, emulator: EmulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["locust"])  # the UI parses the command line for its options form
    process = local(parse_options(*emulator_args(emulator, tmp_path, "--gate", GATE)))
    environment = process.environment
    options, environment.parsed_options = environment.parsed_options, None  # Locust's form reads its own
    web_ui = environment.create_web_ui("127.0.0.1", 0, delayed_start=True)  # never listens
    environment.parsed_options = options
    assert web_ui is not None
    session = process.register()  # the web UI part finds the UI and installs the tabs
    client = web_ui.app.test_client()
    environment.events.test_start.fire(environment=environment)
    run = session.run
    assert run is not None
    for _ in range(3):
        fire_request(environment)
    old = run.live
    assert client.post("/stats/reset").status_code == 200
    assert run.live is not old
    fire_request(environment)
    assert run.live.count() == 1
    body = json.loads(client.get("/stats/requests").get_data())
    assert INFERENCE_TAB in {entry["key"] for entry in body["extended_stats"]}
    environment.events.test_stop.fire(environment=environment)
