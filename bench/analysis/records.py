"""Reading ``requests.csv`` back: types per column and the measured window."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.collect.record import COLUMNS, TEXT_COLUMNS, RequestRecord


def load_records(path: Path) -> pd.DataFrame:
    """All records of a run, with numeric columns as floats and text columns as strings ("" = empty)."""
    frame = pd.read_csv(
        path,
        dtype={c: "string" for c in TEXT_COLUMNS},
        keep_default_na=False,
        na_values={c: [""] for c in COLUMNS if c not in TEXT_COLUMNS},
    )
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks columns {missing}; is it a requests.csv of this harness?")
    return _typed(frame)


def measured(frame: pd.DataFrame, warmup_s: float) -> pd.DataFrame:
    """Records that started after the warm-up window (the first ``warmup_s`` seconds of the run)."""
    if frame.empty or warmup_s <= 0:
        return frame
    start = float(frame["timestamp_s"].min())
    return frame[frame["timestamp_s"] >= start + warmup_s]


def records_frame(records: Sequence[RequestRecord]) -> pd.DataFrame:
    """In-memory records in the same form as ``load_records`` gives (for live per-step statistics)."""
    return _typed(pd.DataFrame([[getattr(r, c) for c in COLUMNS] for r in records], columns=list(COLUMNS)))


def rows_frame(rows: Sequence[Sequence[str]]) -> pd.DataFrame:
    """Formatted rows (as a Locust worker ships them) in the same form as ``load_records`` gives."""
    frame = pd.DataFrame([list(row) for row in rows], columns=list(COLUMNS))
    for column in TEXT_COLUMNS:
        frame[column] = frame[column].replace("", None)
    return _typed(frame)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for column in COLUMNS:
        if column not in TEXT_COLUMNS:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["end_s"] = frame["timestamp_s"] + frame["latency_ms"] / 1000.0
    return frame
