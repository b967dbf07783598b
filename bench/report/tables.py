"""The CSV reports of a run, regenerated from its ``requests.csv`` alone (plus error samples)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from bench.analysis import error_table, load_records, measured, summarize, timeseries
from bench.analysis.capacity import CapacityReport, PlanningInputs, capacity_report
from bench.analysis.gates import GateResult, evaluate_gates, parse_gates
from bench.report.capacityfiles import write_capacity_files
from bench.report.gatefiles import format_number, write_gate_files

REQUESTS_CSV = "requests.csv"
ERROR_SAMPLES_JSON = "error_samples.json"


@dataclass(frozen=True)
class RunTables:
    summary: pd.DataFrame
    errors: pd.DataFrame
    timeseries: pd.DataFrame
    records: int
    measured_records: int
    gates: tuple[GateResult, ...] = ()
    capacity: CapacityReport | None = None
    report_html: Path | None = None

    @property
    def gates_passed(self) -> bool:
        return all(g.passed for g in self.gates)


def read_error_samples(run_dir: Path) -> dict[tuple[str, str], str]:
    path = run_dir / ERROR_SAMPLES_JSON
    if not path.exists():
        return {}
    items = json.loads(path.read_text(encoding="utf-8"))
    return {(str(i["error_type"]), str(i["error_stage"])): str(i["message"]) for i in items}


def write_tables(
    run_dir: Path,
    *,
    warmup_s: float = 0.0,
    gates: tuple[str, ...] = (),
    step_summary: Path | None = None,
    planning: PlanningInputs | None = None,
    endpoint: str = "",
) -> RunTables:
    """Write summary.csv, errors.csv, timeseries.csv and, with gates, gates.json, junit.xml and summary.md.

    Everything comes from ``requests.csv`` (and ``error_samples.json``) alone, so a finished run can
    be re-reported or re-gated offline. ``step_summary`` ($GITHUB_STEP_SUMMARY) receives summary.md too.
    With ``planning`` (a stepped run) also capacity.csv, capacity.json and report.html.
    """
    records = load_records(run_dir / REQUESTS_CSV)
    window = measured(records, warmup_s)
    results = tuple(evaluate_gates(window, parse_gates(gates))) if gates else ()
    capacity = capacity_report(records, planning, title=endpoint) if planning is not None else None
    tables = RunTables(
        summary=summarize(window),
        errors=error_table(window, read_error_samples(run_dir)),
        timeseries=timeseries(records),
        records=len(records),
        measured_records=len(window),
        gates=results,
        capacity=capacity,
    )
    tables.summary.to_csv(run_dir / "summary.csv", index=False, float_format="%.3f")
    tables.errors.to_csv(run_dir / "errors.csv", index=False, float_format="%.6f")
    tables.timeseries.to_csv(run_dir / "timeseries.csv", index=False, float_format="%.3f")
    if results:
        write_gate_files(run_dir, results, tables.summary, step_summary=step_summary)
    if capacity is not None:
        return replace(tables, report_html=write_capacity_files(run_dir, capacity, endpoint=endpoint))
    return tables


def format_summary(summary: pd.DataFrame) -> str:
    """A compact console table of the summary (one line per row)."""
    header = (
        f"{'type':<7} {'name':<28} {'variant':<12} {'count':>8} {'errors':>7} {'rps':>9} {'p50 ms':>9} {'p95 ms':>9} "
        f"{'p99 ms':>9} {'max ms':>9} {'ttfp p50':>9} {'ttfp p99':>9} {'tok/s':>8}"
    )
    lines = [header]
    for row in summary.itertuples(index=False):
        lines.append(
            f"{row.request_type:<7} {str(row.name)[:28]:<28} {str(row.variant)[:12]:<12} {row.count:>8} {row.errors:>7} "
            f"{format_number(row.rps, 1):>9} {format_number(row.latency_p50_ms):>9} {format_number(row.latency_p95_ms):>9} "
            f"{format_number(row.latency_p99_ms):>9} {format_number(row.latency_max_ms):>9} {format_number(row.ttfp_p50_ms):>9} "
            f"{format_number(row.ttfp_p99_ms):>9} {format_number(row.tokens_per_s, 1):>8}"
        )
    return "\n".join(lines)
