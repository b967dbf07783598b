"""The closing lines a run prints after Locust's own tables: exact summary, gates, health, where it is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.analysis.gates import GateResult
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
) -> Closing:
    """``invalid_reasons`` (empty for a valid run) come from the load generator's health verdict;
    ``processes`` is how many load processes ran, ``cpu_mean`` their mean CPU (fraction of a core)."""
    lines = [format_summary(tables.summary)]
    unfinished = _unfinished(tables)
    if unfinished:
        lines.append(
            f"bench: {unfinished} unfinished: in flight when the run's drain ended (--drain), "
            "rows with status unfinished"
        )
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
        if require_valid:
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
