"""The CSV reports of a run, regenerated from its ``requests.csv`` alone (plus error samples)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from bench.analysis import error_table, load_records, summarize, timeseries
from bench.analysis.capacity import CapacityReport, PlanningInputs, capacity_report
from bench.analysis.gates import GateResult, evaluate_gates
from bench.analysis.openloop import ArrivalOutcome, MeasuredLoad, from_run_info
from bench.analysis.records import REPORT_COLUMNS, take_measured
from bench.gatespec import GateSpec
from bench.report.capacityfiles import write_capacity_files
from bench.report.gatefiles import format_number, write_gate_files
from bench.report.rundir import read_measured_from, read_run_json

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
    arrival: ArrivalOutcome | None = None  # an open-loop run's schedule and sends; None: closed loop
    load: MeasuredLoad | None = None  # the measured window's users and mean latency (Little's law)

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
    measured_from_s: float | None = None,
    gates: Sequence[GateSpec] = (),
    step_summary: Path | None = None,
    planning: PlanningInputs | None = None,
    endpoint: str = "",
    arrival: ArrivalOutcome | None = None,
) -> RunTables:
    """Write summary.csv, errors.csv, timeseries.csv and, with gates, gates.json, junit.xml and summary.md.

    Everything comes from ``requests.csv`` (and ``error_samples.json``) alone, so a finished run can
    be re-reported or re-gated offline. ``step_summary`` ($GITHUB_STEP_SUMMARY) receives summary.md too.
    With ``planning`` (a stepped run) also capacity.csv, capacity.json and report.html.

    The measured window (summary, errors, gates) starts at ``measured_from_s`` (wall clock): by default
    ``run.json``'s, the run's own warm-up cut; without one, ``warmup_s`` after the first request.
    The timeseries and the capacity steps are of every record. Only the columns the reports read are
    loaded (``REPORT_COLUMNS``; ``step`` only for capacity), and the window replaces the records in
    memory rather than joining them: 10 million rows take about 1 GB.

    ``arrival`` (an open-loop run's ``target_rps`` and ``achieved_rps``): by default ``run.json``'s
    ``"arrival"`` object, so that ``bench report`` later writes the same summary; none: closed loop.
    """
    if measured_from_s is None:
        measured_from_s = read_measured_from(run_dir)
    if arrival is None:
        arrival = from_run_info(read_run_json(run_dir))
    columns = REPORT_COLUMNS if planning is not None else tuple(c for c in REPORT_COLUMNS if c != "step")
    records = load_records(run_dir / REQUESTS_CSV, columns)
    total = len(records)
    capacity = (
        capacity_report(records, planning, title=endpoint, run_dir=run_dir) if planning is not None else None
    )
    series = timeseries(records)
    window = take_measured(records, warmup_s, measured_from_s)
    del records
    results = tuple(evaluate_gates(window, gates)) if gates else ()
    tables = RunTables(
        summary=summarize(window, arrival),
        errors=error_table(window, read_error_samples(run_dir)),
        timeseries=series,
        records=total,
        measured_records=len(window),
        gates=results,
        capacity=capacity,
        arrival=arrival,
        load=MeasuredLoad.of(*(window[c].to_numpy(dtype="float64") for c in ("users", "latency_ms"))),
    )
    del window
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
