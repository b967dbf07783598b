"""Reports: files written from a run directory (never from Locust's in-memory statistics)."""

from bench.report.gatefiles import format_gates
from bench.report.rundir import new_run_dir, read_run_json, write_run_json
from bench.report.tables import ERROR_SAMPLES_JSON, REQUESTS_CSV, RunTables, format_summary, write_tables

__all__ = [
    "ERROR_SAMPLES_JSON",
    "REQUESTS_CSV",
    "RunTables",
    "format_gates",
    "format_summary",
    "new_run_dir",
    "read_run_json",
    "write_run_json",
    "write_tables",
]
