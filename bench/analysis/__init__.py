"""Analysis: pure functions from a run directory's files to tables (no Locust, no network)."""

from bench.analysis.records import (
    concat_records,
    header_end_offset,
    load_records,
    measured,
    read_records_range,
    records_frame,
    take_measured,
)
from bench.analysis.summary import SUMMARY_COLUMNS, error_table, percentile, summarize, timeseries, window_s

__all__ = [
    "SUMMARY_COLUMNS",
    "concat_records",
    "error_table",
    "header_end_offset",
    "load_records",
    "measured",
    "percentile",
    "read_records_range",
    "records_frame",
    "summarize",
    "take_measured",
    "timeseries",
    "window_s",
]
