"""The closing lines a run prints after Locust's own tables: exact summary, open loop, gates, health,
where it is."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bench.analysis.gates import GateResult
from bench.analysis.openloop import ArrivalOutcome, in_flight, too_late, users_advised
from bench.config import LATE_LAG_MS
from bench.report.gatefiles import format_gates
from bench.report.tables import REQUESTS_CSV, RunTables, format_summary


@dataclass(frozen=True)
class Closing:
    lines: list[str]
    passed: bool | None  # the run's verdict for the exit code (None: no gates, no --require-valid failure)


def closing_lines(
    tables: RunTables,
    *,
    run_dir: Path,
    warmup_s: float,
    aborted_by: GateResult | None = None,
    invalid_reasons: Sequence[str] = (),
    processes_needed: int = 1,
    processes: int = 1,
    cpu_mean: float = 0.0,
    require_valid: bool = False,
    arrival: ArrivalOutcome | None = None,
) -> Closing:
    """``invalid_reasons`` (empty for a valid run) come from the load generator's health verdict;
    ``processes`` is how many load processes ran, ``cpu_mean`` their mean CPU (fraction of a core).

    ``arrival``: an open-loop run's (default: the tables', which ``write_tables`` read from
    ``run.json``); it adds a line of the schedule kept, and an INVALID line when more than 1% of the
    requests were sent late (``--require-valid`` then fails the run, as for the health verdict)."""
    if arrival is not None:
        tables = replace(tables, arrival=arrival)
    lines = [format_summary(tables.summary)]
    unfinished = _unfinished(tables)
    if unfinished:
        lines.append(
            f"bench: {unfinished} unfinished: in flight when the run's drain ended (--drain), "
            "rows with status unfinished"
        )
    if tables.arrival is not None:
        lines.append(open_loop_line(tables))
    passed: bool | None = None
    if tables.gates:
        passed = tables.gates_passed
        lines += ["", format_gates(tables.gates)]
        if aborted_by is not None:
            lines.append(
                f"bench: stopped early (--gate-abort): {aborted_by.gate.expression} {aborted_by.reason}"
            )
        verdict = "all gates passed" if tables.gates_passed else "GATES FAILED (exit code 3)"
        lines.append(f"bench: {verdict}; see gates.json, junit.xml, summary.md")
    if warmup_s > 0:
        lines.append(
            f"bench: the summary leaves out the first {warmup_s:g} s (warm-up): "
            f"{tables.measured_records} of {tables.records} requests"
        )
    if invalid_reasons:
        if processes_needed > processes:
            advice = (
                f"the load generator limited the load; run with about {processes_needed} worker "
                f"processes (locust --processes {processes_needed})"
            )
        else:  # lag without a busy generator: something else had the CPU
            advice = (
                f"the load generator's own CPU was not the bound (mean {cpu_mean:.0%} of a core), its event "
                "loop waited for other work on this machine (the emulator, other processes): give the "
                "load generator cores of its own"
            )
        lines.append(f"bench: INVALID run: {'; '.join(invalid_reasons)}: {advice}")
    late = late_line(tables)
    if late:
        lines.append(late)
    if require_valid and (invalid_reasons or late):
        passed = False
        lines.append("bench: --require-valid: the run fails (exit code 3)")
    if tables.capacity is not None:
        lines += [
            "",
            "bench: " + tables.capacity.recommendation.text,
            f"bench: capacity report {tables.report_html}",
        ]
    lines.append(f"bench: run directory {run_dir} ({tables.records} requests in {REQUESTS_CSV})")
    return Closing(lines, passed)


def open_loop_line(tables: RunTables) -> str:
    """``bench: open loop (poisson): target 880 req/s, achieved 879.2 req/s; effective latency (from the
    intended send) p95 46.50 ms, p99 80.12 ms; schedule lag p99 0.41 ms; 3 late (0.01%)``, and the
    scheduled sends never sent when there were any."""
    arrival = tables.arrival
    row = _all_row(tables)
    kind = (
        f"open loop ({arrival.distribution})" if arrival is not None and arrival.distribution else "open loop"
    )
    if arrival is not None and arrival.rate_per_s is not None:
        target = f"target {_rate(arrival.rate_per_s)} req/s"
    else:
        target = "rate steps (--rates): the targets are per step in the capacity report"
    parts = [
        f"{target}, achieved {_figure(row.get('achieved_rps'), 1)} req/s",
        f"effective latency (from the intended send) p95 {_figure(row.get('effective_latency_p95_ms'), 2)} ms, "
        f"p99 {_figure(row.get('effective_latency_p99_ms'), 2)} ms",
        f"schedule lag p99 {_figure(row.get('schedule_lag_p99_ms'), 2)} ms",
        f"{_figure(row.get('late'), 0)} late ({_percent(row.get('late_rate'))})",
    ]
    if arrival is not None and arrival.not_sent:
        parts.append(f"{arrival.not_sent} scheduled sends not sent (the run ended first)")
    return f"bench: {kind}: {'; '.join(parts)}"


def late_line(tables: RunTables) -> str:
    """The INVALID line of an open-loop run that sent more than 1% of its requests late (measured
    window, every request); "" otherwise. The advice comes from Little's law (``bench.analysis.openloop``).

    A rate-stepped run (``--rates``: no single target) is judged step by step in its capacity report
    instead: its search ends on an overload step where every user is busy and most sends are late by
    design, which says the endpoint's limit, not the run's."""
    if tables.arrival is not None and tables.arrival.rate_per_s is None:
        return ""
    row = _all_row(tables)
    late_rate = _float(row.get("late_rate"))
    if not too_late(late_rate):
        return ""
    head = (
        f"bench: INVALID open-loop run: {_percent(late_rate)} of requests were sent more than "
        f"{LATE_LAG_MS:g} ms late"
    )
    load = tables.load
    users = math.nan if load is None else load.users_max
    latency_ms = math.nan if load is None else load.latency_mean_ms
    arrival = tables.arrival
    target = arrival.rate_per_s if arrival is not None else None
    rate = target if target is not None else _float(row.get("achieved_rps"))
    if math.isnan(rate) or math.isnan(latency_ms):
        return f"{head}: the users were busy or the load generator fell behind; run with more users (-u)"
    mean = in_flight(rate, latency_ms)
    advised = users_advised(rate, latency_ms)
    rate_text = f"{_rate(rate)} req/s" if target is not None else f"{rate:,.1f} req/s (achieved)"
    little = (
        f"by Little's law {rate_text} x {latency_ms:.1f} ms mean latency keeps about {_about(mean)} in flight"
    )
    if math.isnan(users) or users < advised:
        who = "all users were busy" if math.isnan(users) else f"all {users:.0f} users were busy"
        return f"{head}: {who}; {little}: run with -u {advised} or more"
    return (
        f"{head}: {users:.0f} users were enough ({little}): the load generator itself fell behind; "
        "run more worker processes (locust --processes) or give it cores of its own"
    )


def _all_row(tables: RunTables) -> dict[str, object]:
    summary = tables.summary
    everything = summary[summary["request_type"] == "ALL"] if "request_type" in summary.columns else summary
    return {str(k): v for k, v in everything.iloc[-1].items()} if not everything.empty else {}


def _float(value: object) -> float:
    """A summary cell as a float (numpy's numbers too); NaN for anything else."""
    return float(value) if isinstance(value, numbers.Real) else math.nan


def _figure(value: object, digits: int) -> str:
    number = _float(value)
    return "-" if math.isnan(number) else f"{number:,.{digits}f}"


def _percent(value: object) -> str:
    number = _float(value)
    return "-" if math.isnan(number) else f"{number * 100:.3g}%"


def _rate(value: float) -> str:
    """A target rate as given: ``880``, ``1,500``, ``12.5``."""
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.6g}"


def _about(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _unfinished(tables: RunTables) -> int:
    summary = tables.summary
    if summary.empty or "unfinished" not in summary.columns:
        return 0
    everything = summary[summary["request_type"] == "ALL"]
    return int((everything if not everything.empty else summary)["unfinished"].sum())


def exit_code(passed: bool | None) -> int | None:
    """The process's exit code from the run's verdict: 3 when a gate (or ``--require-valid``) failed,
    0 when the gates passed, None to leave Locust's own code (no gates: request failures alone)."""
    if passed is None:
        return None
    return 0 if passed else 3
