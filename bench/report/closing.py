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
    require_valid: bool = False,
) -> Closing:
    """``invalid_reasons`` (empty for a valid run) come from the load generator's health verdict."""
    lines = [format_summary(tables.summary)]
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
        lines.append(
            f"bench: INVALID run: {'; '.join(invalid_reasons)}: the load generator limited the load; "
            f"run with about {processes_needed} worker processes (locust --processes {processes_needed})"
        )
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
