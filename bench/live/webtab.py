"""The Inference tabs in Locust's modern web UI, fed by ``LiveStats``; and the run directory's files.

Locust's UI (2.47) renders extra tabs from ``template_args["extended_tabs"]`` (title, key) with
tables described by ``template_args["extended_tables"]`` (columns: key, title); the rows come from
``extended_stats`` (key, data) added to the ``/stats/requests`` JSON it polls every 2 s while a run
is going. Cells render as plain text (no markdown or HTML), so file links in the tables are plain
URLs; the "Download Data" tab, which renders ``extended_csv_files`` as links, links the run
directory's index page (``/bench/run/``), whose links are clickable.

Two tabs:

- **Inference** (``?tab=inference``): one row per (type, name, variant) over the last 10 s. An
  open-loop run (``--arrival-rate``, ``--rates``) adds a first row, ``open loop / all``, with the
  target rate, the achieved send rate over the last 10 s and over the measured run, and every key's
  figures together; every row then also has effective latency p95/p99 (next to the service latency),
  schedule lag p99 and the late requests (lag over 1 ms) of the last 10 s. These columns stay empty in
  closed loop (the table's columns are fixed when the page loads, and the form may start either).
- **Inference run** (``?tab=inference-run``): gate verdicts (live; the exact ones once the run has
  ended), errors by type and stage since the run started, in the open loop its figures over the
  measured run (``open loop`` rows: target, achieved, lag, late, effective latency, the users available
  to send), and the run directory's files once it ended.

The start form: Locust's UI posts it to ``/swarm`` (view ``locust.swarm``), which copies custom
option values into the parsed options and starts the run without checking them.
``install_start_form_check`` puts a check in front of that view: a form it finds wrong is answered as
Locust answers a bad form of its own, ``{"success": false, "message": ...}`` with status 200 (the UI
shows ``message`` under the form only for a 2xx answer; for any other status it shows "An unknown
error occurred."), and Locust's view never runs: nothing starts and nothing of the form is kept.

This module uses Flask (Locust's web server) but not Locust; ``bench.plugin`` installs it.
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from flask import Flask, Response, abort, request, send_from_directory

from bench.analysis.gates import GateResult, GateSpec
from bench.config import LATE_LAG_MS, LATE_RATE_LIMIT
from bench.live.openloop import ArrivalState, OpenLoopFigures, open_loop_figures
from bench.live.stats import LiveStats, WindowRow
from bench.live.verdicts import live_verdicts

INFERENCE_TAB = "inference"
RUN_TAB = "inference-run"
FILES_PATH = "/bench/run/"
START_FORM_VIEW = "locust.swarm"  # Locust's view of POST /swarm, the start (and edit) form
REFUSED_STATUS = 200  # Locust's UI shows a refusal's message only in a 2xx answer

INFERENCE_COLUMNS = (
    ("type", "Type"),
    ("name", "Name"),
    ("variant", "Variant"),
    ("requests", "Requests (10 s)"),
    ("rps", "Req/s"),
    ("target_rps", "Target req/s"),
    ("sent_rps", "Sent/s (10 s)"),
    ("sent_rps_run", "Sent/s (run)"),
    ("ttfp_p50", "TTFP p50 ms"),
    ("ttfp_p95", "TTFP p95 ms"),
    ("ttfp_p99", "TTFP p99 ms"),
    ("latency_p50", "Latency p50 ms"),
    ("latency_p95", "Latency p95 ms"),
    ("latency_p99", "Latency p99 ms"),
    ("effective_p95", "Eff. latency p95 ms"),
    ("effective_p99", "Eff. latency p99 ms"),
    ("lag_p99", "Lag p99 ms"),
    ("late", "Late (10 s)"),
    ("gap_p50", "Mean gap p50 ms"),
    ("gap_p99", "Mean gap p99 ms"),
    ("tokens_per_s", "Tokens/s"),
    ("errors", "Errors (type/stage: count)"),
)
RUN_COLUMNS = (("kind", "Kind"), ("item", "Item"), ("status", "Status"), ("detail", "Detail / link"))
OPEN_LOOP = "open loop"  # the open-loop row's type, and the kind of its rows in the run tab


@dataclass(frozen=True)
class TabState:
    """What the tabs show, read from the harness on each poll."""

    live: LiveStats | None  # None before the first run
    now_s: float  # the end of the last-10-s window (the run's end once it ended)
    gates: tuple[GateSpec, ...] = ()
    gates_since_s: float | None = None  # the warm-up end
    aborted: str | None = None  # expression of the gate that stopped the run (--gate-abort)
    final_gates: tuple[GateResult, ...] = ()  # exact verdicts, once the run ended
    run_dir: Path | None = None
    ended: bool = False
    arrival: ArrivalState | None = None  # the open loop; None in closed loop


def _ms(value: float | None) -> float | str:
    return "" if value is None else round(value, 1)


def _lag_ms(value: float | None) -> float | str:
    return "" if value is None else round(value, 2)  # sub-millisecond: the late bound is 1 ms


def _rate(value: float | None) -> float | str:
    return "" if value is None else round(value, 1)


def _late(late: int, requests: int) -> str:
    return f"{late} ({late / requests:.1%})" if requests else ""


def inference_rows(state: TabState) -> list[dict[str, Any]]:
    """The Inference tab's rows (keys as in ``INFERENCE_COLUMNS``): in the open loop the ``open loop``
    row first."""
    live = state.live
    if live is None:
        return []
    rows = [_inference_row(row, open_loop=state.arrival is not None) for row in live.window(state.now_s)]
    if state.arrival is None:
        return rows
    figures = open_loop_figures(live, state.arrival, now_s=state.now_s)
    total = _inference_row(live.window_total(state.now_s), open_loop=True)
    total.update(
        type=OPEN_LOOP,
        name="all",
        target_rps=_rate(figures.target_rate_per_s),
        sent_rps=_rate(figures.recent_rate_per_s),
        sent_rps_run=_rate(figures.sent_rate_per_s),
    )
    return [total, *rows]


def _inference_row(row: WindowRow, *, open_loop: bool) -> dict[str, Any]:
    streams = row.request_type == "stream"
    blank = not open_loop
    return {
        "type": row.request_type,
        "name": row.name,
        "variant": row.variant,
        "requests": row.requests,
        "rps": round(row.rps, 1),
        "ttfp_p50": _ms(row.ttfp_ms[0]),
        "ttfp_p95": _ms(row.ttfp_ms[1]),
        "ttfp_p99": _ms(row.ttfp_ms[2]),
        "latency_p50": _ms(row.latency_ms[0]),
        "latency_p95": _ms(row.latency_ms[1]),
        "latency_p99": _ms(row.latency_ms[2]),
        "target_rps": "",
        "sent_rps": "",
        "sent_rps_run": "",
        "effective_p95": "" if blank else _ms(row.effective_ms[0]),
        "effective_p99": "" if blank else _ms(row.effective_ms[1]),
        "lag_p99": "" if blank else _lag_ms(row.lag_p99_ms),
        "late": "" if blank else _late(row.late, row.requests),
        "gap_p50": _ms(row.gap_ms[0]),
        "gap_p99": _ms(row.gap_ms[1]),
        "tokens_per_s": round(row.tokens_per_s, 1) if streams or row.tokens_per_s else "",
        "errors": ", ".join(f"{t}/{s}: {n}" for t, s, n in row.error_kinds),
    }


def run_files(run_dir: Path | None) -> list[str]:
    """The files directly in the run directory (what ``/bench/run/`` serves)."""
    if run_dir is None or not run_dir.is_dir():
        return []
    return sorted(p.name for p in run_dir.iterdir() if p.is_file())


def run_rows(state: TabState, base_url: str) -> list[dict[str, Any]]:
    """The Inference run tab's rows: gates, errors by type and stage, files once the run ended."""
    rows: list[dict[str, Any]] = []
    for verdict in live_verdicts(
        state.live,
        state.gates,
        since_s=state.gates_since_s,
        aborted=state.aborted,
        final=state.final_gates if state.ended else (),
    ):
        rows.append(
            {"kind": "gate", "item": verdict.expression, "status": verdict.status, "detail": verdict.detail}
        )
    if state.live is not None and state.arrival is not None:
        rows.extend(
            _open_loop_rows(open_loop_figures(state.live, state.arrival, now_s=state.now_s), state.arrival)
        )
    if state.live is not None:
        query = state.live.query()
        kinds = sorted(query.error_kinds.items(), key=lambda item: (-item[1], item[0]))
        for (error_type, stage), count in kinds:
            rows.append(
                {
                    "kind": "errors",
                    "item": f"{error_type} / {stage}",
                    "status": count,
                    "detail": f"{count / query.count:.2%} of {query.count} requests so far",
                }
            )
    if state.run_dir is not None:
        index = f"{base_url}{FILES_PATH}" if state.ended else "files listed when the run ends"
        status = "ended" if state.ended else "running"
        rows.append({"kind": "run", "item": str(state.run_dir), "status": status, "detail": index})
    if state.ended and state.run_dir is not None:
        for name in run_files(state.run_dir):
            rows.append(
                {"kind": "file", "item": name, "status": "written", "detail": f"{base_url}{FILES_PATH}{name}"}
            )
    return rows


def _open_loop_rows(figures: OpenLoopFigures, arrival: ArrivalState) -> list[dict[str, Any]]:
    """The Inference run tab's ``open loop`` rows: the open loop since ``arrival.since_s``."""
    over = f"over the {arrival.since_label}"

    def row(item: str, status: object, detail: str) -> dict[str, Any]:
        return {"kind": OPEN_LOOP, "item": item, "status": status, "detail": detail}

    target = figures.target_rate_per_s
    rows = [
        row(
            "target rate",
            "" if target is None else f"{target:g} req/s",
            f"{arrival.distribution} arrivals" + ("" if target is not None else ": the next step sets it"),
        )
    ]
    achieved = figures.sent_rate_per_s
    fraction = figures.achieved_fraction
    recent = figures.recent_rate_per_s
    rows.append(
        row(
            "achieved send rate",
            "" if achieved is None else f"{achieved:.1f} req/s",
            (f"{fraction:.1%} of the target " if fraction is not None else "")
            + f"{over} ({figures.sent} sends completed); last 10 s: "
            + ("no sends" if recent is None else f"{recent:.1f} req/s"),
        )
    )
    lag = figures.lag_p99_ms
    rows.append(
        row(
            "schedule lag p99",
            "" if lag is None else f"{lag:.2f} ms",
            f"actual minus intended send, {over}",
        )
    )
    late_rate = figures.late_rate
    rows.append(
        row(
            "late",
            "" if late_rate is None else f"{figures.late} ({late_rate:.2%})",
            f"sent more than {LATE_LAG_MS:g} ms after their intended time, {over}; "
            + (
                f"over {LATE_RATE_LIMIT:.0%}: the run did not offer the load asked for (not valid)"
                if figures.too_late
                else f"over {LATE_RATE_LIMIT:.0%} makes the run not valid"
            ),
        )
    )
    e95, e99 = figures.effective_ms
    l95, l99 = figures.latency_ms
    rows.append(
        row(
            "effective latency p95 / p99",
            "" if e95 is None else f"{e95:.1f} / {_text_ms(e99)} ms",
            "from the intended send (coordinated-omission corrected); service latency p95 / p99 "
            + ("not measured yet" if l95 is None else f"{l95:.1f} / {_text_ms(l99)} ms")
            + f", {over}",
        )
    )
    rows.append(row("users", _users_status(arrival.users), _users_detail(figures)))
    if arrival.warning:
        rows.append(row("timers", "coarse", arrival.warning))
    return rows


def _text_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _users_status(users: int | None) -> str:
    return "" if users is None else f"{users} available to send"


def _users_detail(figures: OpenLoopFigures) -> str:
    """What the users are in the open loop, and what Little's law says the run needs."""
    text = "the most requests in flight at once (-u; the start form's Number of users)"
    mean, advised = figures.in_flight(), figures.users_advised()
    if mean is None or advised is None or figures.latency_mean_ms is None:
        return text
    rate = figures.target_rate_per_s or figures.sent_rate_per_s or 0.0
    return (
        f"{text}; Little's law: {rate:g} req/s x {figures.latency_mean_ms:.1f} ms mean latency keeps "
        f"about {mean:.1f} in flight, {advised} users send on time"
    )


def extended_stats(state: TabState, base_url: str) -> list[dict[str, Any]]:
    return [
        {"key": INFERENCE_TAB, "data": inference_rows(state)},
        {"key": RUN_TAB, "data": run_rows(state, base_url)},
    ]


def install_inference_tab(web_ui: Any, state: Callable[[], TabState]) -> None:
    """Add the tabs, the rows in ``/stats/requests`` and the ``/bench/run/`` file routes to Locust's UI."""
    args = web_ui.template_args
    args["extended_tabs"] = [
        *args.get("extended_tabs", []),
        {"title": "Inference", "key": INFERENCE_TAB},
        {"title": "Inference run", "key": RUN_TAB},
    ]
    args["extended_tables"] = [
        *args.get("extended_tables", []),
        {"key": INFERENCE_TAB, "structure": _structure(INFERENCE_COLUMNS)},
        {"key": RUN_TAB, "structure": _structure(RUN_COLUMNS)},
    ]
    args["extended_csv_files"] = [
        *args.get("extended_csv_files", []),
        {"href": FILES_PATH, "title": "Files of the bench run directory (exact reports, when the run ended)"},
    ]
    app: Flask = web_ui.app
    guard: Callable[[Callable[..., Any]], Callable[..., Any]] = web_ui.auth_required_if_enabled

    @app.after_request
    def add_extended_stats(response: Response) -> Response:
        if not request.path.endswith("/stats/requests") or not response.is_json:
            return response
        report = json.loads(response.get_data())
        report["extended_stats"] = [
            *report.get("extended_stats", []),
            *extended_stats(state(), request.host_url.rstrip("/")),
        ]
        # a new response: Locust caches the one it made for 2 s and hands it out again
        return app.response_class(json.dumps(report), mimetype="application/json")

    def files_index() -> Response:
        return app.response_class(_index_html(state().run_dir), mimetype="text/html")

    def file(name: str) -> Response:
        run_dir = state().run_dir
        if run_dir is None or name not in run_files(run_dir):
            abort(404)
        return send_from_directory(run_dir.resolve(), name)

    app.add_url_rule(FILES_PATH, "bench_run_index", guard(files_index))
    app.add_url_rule(f"{FILES_PATH}<name>", "bench_run_file", guard(file))


class Form(Protocol):
    """A posted form, as Flask's ``request.form`` has it (a werkzeug ``MultiDict``)."""

    def items(self) -> Iterable[tuple[str, str]]: ...

    def getlist(self, key: str) -> list[str]: ...


def install_start_form_check(web_ui: Any, check: Callable[[Form], str | None]) -> None:
    """Run ``check`` on every start form before Locust's ``/swarm`` view; when it returns a message,
    answer ``{"success": false, "message": message}`` instead of running the view."""
    app: Flask = web_ui.app
    original = app.view_functions[START_FORM_VIEW]

    @functools.wraps(original)
    def checked(*args: Any, **kwargs: Any) -> Any:
        message = check(request.form)
        if message is None:
            return original(*args, **kwargs)
        body = json.dumps({"success": False, "message": message})
        return app.response_class(body, status=REFUSED_STATUS, mimetype="application/json")

    # behind --web-login like the view itself: nobody is told about the options without logging in
    app.view_functions[START_FORM_VIEW] = web_ui.auth_required_if_enabled(checked)


def _structure(columns: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"key": key, "title": title} for key, title in columns]


def _index_html(run_dir: Path | None) -> str:
    if run_dir is None:
        body = "<p>No run yet.</p>"
    else:
        items = "".join(
            f'<li><a href="{html.escape(name)}">{html.escape(name)}</a></li>' for name in run_files(run_dir)
        )
        body = f"<p>{html.escape(str(run_dir))}</p><ul>{items}</ul>"
    return f"<!doctype html><title>bench run directory</title><h1>bench run directory</h1>{body}"
