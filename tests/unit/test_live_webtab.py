"""The Inference tabs inside a real Locust web UI (its Flask app, called through Flask's test client)."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from locust import User, task
from locust.env import Environment
from test_live_openloop import SECONDS, START_S, arrival, observed, schedule
from test_live_stats import record

from bench.analysis.gates import parse_gates
from bench.live import ArrivalState, LiveStats
from bench.live.webtab import (
    INFERENCE_COLUMNS,
    INFERENCE_TAB,
    OPEN_LOOP,
    RUN_TAB,
    TabState,
    install_inference_tab,
)


class IdleUser(User):
    @task
    def nothing(self) -> None:
        pass


@pytest.fixture
def ui(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[object, dict[str, TabState]]]:
    monkeypatch.setattr(sys, "argv", ["locust"])  # the UI parses the command line for its options form
    environment = Environment(user_classes=[IdleUser])
    environment.create_local_runner()
    web_ui = environment.create_web_ui("127.0.0.1", 0, delayed_start=True)  # never listens
    assert web_ui is not None
    holder: dict[str, TabState] = {"state": TabState(live=None, now_s=0.0)}
    install_inference_tab(web_ui, lambda: holder["state"])
    yield web_ui, holder
    if environment.runner is not None:
        environment.runner.quit()


def _extended(client: object) -> dict[str, list[dict[str, Any]]]:
    response = client.get("/stats/requests")  # type: ignore[attr-defined]
    assert response.status_code == 200
    body = json.loads(response.get_data())
    assert "stats" in body
    assert "state" in body
    return {entry["key"]: entry["data"] for entry in body["extended_stats"]}


def test_tabs_are_declared_in_the_page_and_rows_come_with_stats_requests(
    ui: tuple[object, dict[str, TabState]], tmp_path: Path
) -> None:
    web_ui, holder = ui
    client = web_ui.app.test_client()  # type: ignore[attr-defined]
    page = client.get("/").get_data(as_text=True)
    assert '"extended_tabs"' in page
    assert '"Inference"' in page
    assert '"Inference run"' in page
    assert client.get("/").status_code == 200

    assert _extended(client) == {INFERENCE_TAB: [], RUN_TAB: []}  # before any run

    live = LiveStats()
    now = time.time()
    for i in range(40):
        live.observe(record(now - 5 + i / 10, 1500.0, stream=True, ttfp_ms=120.0 + i, gap_ms=21.0, tokens=64))
        live.observe(record(now - 5 + i / 10, 6.0))
    live.observe(record(now - 2, 30.0, error=("Throttling", "request")))
    (tmp_path / "summary.csv").write_text("request_type,name\n")
    holder["state"] = TabState(
        live=live, now_s=now, gates=parse_gates(["p95(ttfp)<1s", "errors<1"]), run_dir=tmp_path
    )
    data = _extended(client)
    rows = {row["name"]: row for row in data[INFERENCE_TAB]}
    stream, invoke = rows["demo-llm"], rows["demo-triton"]
    assert stream["type"] == "stream"
    assert stream["requests"] > 0
    assert 120.0 * 0.99 <= stream["ttfp_p50"] <= stream["ttfp_p95"] <= stream["ttfp_p99"] <= 160.0 * 1.01
    assert stream["latency_p50"] == pytest.approx(1500.0, rel=0.01)
    assert stream["gap_p50"] == pytest.approx(21.0, rel=0.01)
    assert stream["tokens_per_s"] > 0
    assert invoke["ttfp_p50"] == ""
    assert invoke["errors"] == "Throttling/request: 1"
    run = data[RUN_TAB]
    assert [(r["kind"], r["item"], r["status"]) for r in run[:2]] == [
        ("gate", "p95(ttfp)<1s", "passing"),
        ("gate", "errors<1", "failing"),
    ]
    assert ("errors", "Throttling / request", 1) in [(r["kind"], r["item"], r["status"]) for r in run]
    assert [r["status"] for r in run if r["kind"] == "run"] == ["running"]
    assert not [r for r in run if r["kind"] == "file"]  # links once the run ended

    holder["state"] = TabState(live=live, now_s=now, run_dir=tmp_path, ended=True)
    files = [r for r in _extended(client)[RUN_TAB] if r["kind"] == "file"]
    assert files == [
        {
            "kind": "file",
            "item": "summary.csv",
            "status": "written",
            "detail": "http://localhost/bench/run/summary.csv",
        }
    ]
    assert client.get("/bench/run/summary.csv").get_data() == b"request_type,name\n"
    index = client.get("/bench/run/").get_data(as_text=True)
    assert '<a href="summary.csv">summary.csv</a>' in index


def test_the_file_route_serves_only_the_run_directorys_own_files(
    ui: tuple[object, dict[str, TabState]], tmp_path: Path
) -> None:
    web_ui, holder = ui
    client = web_ui.app.test_client()  # type: ignore[attr-defined]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text("{}")
    (tmp_path / "secret.txt").write_text("no")
    (run_dir / "sub").mkdir()
    (run_dir / "sub" / "x.csv").write_text("no")
    assert client.get("/bench/run/run.json").status_code == 404  # no run yet
    holder["state"] = TabState(live=None, now_s=0.0, run_dir=run_dir, ended=True)
    assert client.get("/bench/run/run.json").status_code == 200
    for path in (
        "/bench/run/../secret.txt",
        "/bench/run/..%2Fsecret.txt",
        "/bench/run/sub%2Fx.csv",
        "/bench/run/sub",
    ):
        assert client.get(path).status_code == 404, path


def test_an_open_loop_run_shows_target_achieved_lag_late_and_effective_latency(
    ui: tuple[object, dict[str, TabState]],
) -> None:
    """Known records: 50 req/s for 20 s, every 10th sent 2.5 ms late; then what the tabs show of it."""
    web_ui, holder = ui
    client = web_ui.app.test_client()  # type: ignore[attr-defined]
    live = observed(schedule())
    now = START_S + SECONDS + 0.5
    state = TabState(live=live, now_s=now, gates_since_s=START_S, arrival=arrival())
    holder["state"] = state
    data = _extended(client)
    first, invoke = data[INFERENCE_TAB]
    assert (first["type"], first["name"], first["variant"]) == (OPEN_LOOP, "all", "")
    assert (first["target_rps"], first["sent_rps"], first["sent_rps_run"]) == (50.0, 50.0, 50.0)
    assert (first["requests"], first["rps"]) == (500, 50.0)  # completed in the last 10 s
    assert first["late"] == invoke["late"] == "50 (10.0%)"
    assert first["lag_p99"] == invoke["lag_p99"] == pytest.approx(2.5, rel=0.011)
    assert first["latency_p99"] == pytest.approx(10.0, rel=0.011)
    assert first["effective_p95"] == first["effective_p99"] == pytest.approx(12.5, rel=0.011)
    assert invoke["name"] == "demo-triton"
    assert (invoke["target_rps"], invoke["sent_rps"]) == ("", "")  # the rate is the run's, not a key's
    assert invoke["effective_p99"] == first["effective_p99"]
    assert {key for key, _ in INFERENCE_COLUMNS} == set(first) == set(invoke)

    rows = {r["item"]: r for r in _extended(client)[RUN_TAB] if r["kind"] == OPEN_LOOP}
    assert rows["target rate"]["status"] == "50 req/s"
    assert rows["target rate"]["detail"] == "constant arrivals"
    achieved = rows["achieved send rate"]
    assert achieved["status"] == "50.0 req/s"
    assert achieved["detail"] == (
        "100.0% of the target over the measured run (1000 sends completed); last 10 s: 50.0 req/s"
    )
    lag, unit = rows["schedule lag p99"]["status"].split()  # DDSketch: within 1%
    assert (float(lag), unit) == (pytest.approx(2.5, rel=0.011), "ms")
    assert rows["late"]["status"] == "100 (10.00%)"
    assert "the run did not offer the load asked for" in rows["late"]["detail"]
    effective = rows["effective latency p95 / p99"]
    p95, _, p99, unit = effective["status"].split()
    assert (float(p95), float(p99), unit) == (pytest.approx(12.5, rel=0.011),) * 2 + ("ms",)
    assert re.search(
        r"service latency p95 / p99 (9\.9|10\.0|10\.1) / (9\.9|10\.0|10\.1) ms", effective["detail"]
    )
    users = rows["users"]
    assert users["status"] == "8 available to send"
    assert users["detail"].startswith("the most requests in flight at once (-u; the start form's Number")
    assert (
        "50 req/s x 10.0 ms mean latency keeps about 0.5 in flight, 4 users send on time" in users["detail"]
    )
    assert "timers" not in rows

    # a --rates run before its first step's rate is known, with coarse timers
    stepped = ArrivalState(None, "poisson", 8, START_S, "step 1", warning="timers are coarse")
    holder["state"] = replace(state, arrival=stepped)
    data = _extended(client)
    assert data[INFERENCE_TAB][0]["target_rps"] == ""
    rows = {r["item"]: r for r in data[RUN_TAB] if r["kind"] == OPEN_LOOP}
    assert rows["target rate"] == {
        "kind": OPEN_LOOP,
        "item": "target rate",
        "status": "",
        "detail": "poisson arrivals: the next step sets it",
    }
    assert rows["achieved send rate"]["detail"].startswith("over the step 1 (1000 sends completed)")
    assert rows["timers"]["detail"] == "timers are coarse"


def test_a_closed_loop_run_leaves_the_open_loop_columns_empty(
    ui: tuple[object, dict[str, TabState]],
) -> None:
    """Records with lags (as every record has them today) but no open loop: nothing of it shows."""
    web_ui, holder = ui
    client = web_ui.app.test_client()  # type: ignore[attr-defined]
    holder["state"] = TabState(live=observed(schedule()), now_s=START_S + SECONDS + 0.5)
    data = _extended(client)
    (row,) = data[INFERENCE_TAB]
    assert row["name"] == "demo-triton"
    open_loop = (
        "target_rps",
        "sent_rps",
        "sent_rps_run",
        "effective_p95",
        "effective_p99",
        "lag_p99",
        "late",
    )
    assert [row[key] for key in open_loop] == [""] * len(open_loop)
    assert not [r for r in data[RUN_TAB] if r["kind"] == OPEN_LOOP]
