"""Analysis: pure functions from a run directory's files to tables (no Locust, no network)."""

from bench.analysis.records import load_records, measured
from bench.analysis.summary import SUMMARY_COLUMNS, error_table, percentile, summarize, timeseries, window_s

__all__ = [
    "SUMMARY_COLUMNS",
    "error_table",
    "load_records",
    "measured",
    "percentile",
    "summarize",
    "timeseries",
    "window_s",
]
