"""Exact summaries from raw records: no bucketing, percentiles as numpy computes them.

Stream statistics: TTFP and TTFT percentiles are over every record that measured them (a stream that
failed mid-way still had a first part); ``itl_*`` are percentiles of the per-stream mean gap between
parts; ``tokens_per_s`` is the row's tokens over the measured window; ``output_tokens_per_s_*`` are
over successful streams' own generation rates (``output_tokens_per_s``).

``unfinished`` counts the requests still in flight when the run's drain ended (``status=unfinished``):
in ``count``, not in ``errors``. Latency percentiles are over successful requests (a fast error must
not flatter latency); counts, error rate and throughput are over all requests. ``rps`` of every row
divides by the same measured window (first start to last completion), so the rows add up to the ALL
row.

Open loop (``bench.analysis.openloop`` defines the terms): ``effective_latency_*`` (end minus intended
send: what a client arriving on schedule waited) are over successful requests, as the latency
percentiles; ``schedule_lag_p99_ms``, ``late`` (sent more than 1 ms after the intended time) and
``late_rate`` (late / count) over all requests. ``target_rps`` is the run's target arrival rate, on
the ALL row only (empty for a closed-loop or a rate-stepped run); ``achieved_rps`` is the achieved
send rate over the measured window, each other row its share (empty in closed loop). A closed-loop
run has an effective latency equal to its latency, no lag and nothing late.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from bench.analysis.openloop import ArrivalOutcome, achieved_rate_per_s, is_late

SUMMARY_COLUMNS = (
    "request_type",
    "name",
    "variant",
    "count",
    "errors",
    "unfinished",
    "error_rate",
    "late",
    "late_rate",
    "schedule_lag_p99_ms",
    "rps",
    "target_rps",
    "achieved_rps",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_p999_ms",
    "latency_max_ms",
    "effective_latency_p50_ms",
    "effective_latency_p95_ms",
    "effective_latency_p99_ms",
    "ttfp_p50_ms",
    "ttfp_p95_ms",
    "ttfp_p99_ms",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "ttft_p99_ms",
    "itl_p50_ms",
    "itl_p99_ms",
    "tokens_per_s",
    "output_tokens_per_s_p50",
    "output_tokens_per_s_mean",
)
TIMESERIES_COLUMNS = (
    "second_s",
    "users",
    "rps",
    "errors",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "ttfp_p50_ms",
    "ttfp_p95_ms",
    "ttfp_p99_ms",
)


KEY_COLUMNS = ("request_type", "name", "variant")
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


def percentile(values: pd.Series, q: float) -> float:
    """numpy's default (linear) percentile of the non-missing values; NaN when there are none."""
    array = values.dropna().to_numpy(dtype=float)
    return float(np.percentile(array, q)) if array.size else float("nan")


def window_s(frame: pd.DataFrame) -> float:
    """Seconds from the first request's start to the last request's completion."""
    if frame.empty:
        return 0.0
    return float(frame["end_s"].max() - frame["timestamp_s"].min())


Rows = npt.NDArray[np.intp] | None  # row positions of a group; None: every row


@dataclass(frozen=True)
class _Values:
    """The columns summary rows are computed from, as arrays over every row (views of the frame's
    columns: a group's values are taken one column at a time, so no copy of a frame is ever made)."""

    ok: Bools
    error: Bools
    streams: Bools  # successful, with two tokens or more: those with a generation rate
    late: Bools  # sent more than LATE_LAG_MS after the intended time
    latency_ms: Floats
    ttfp_ms: Floats
    ttft_ms: Floats
    itl_mean_ms: Floats
    tokens: Floats
    schedule_lag_ms: Floats
    effective_latency_ms: Floats

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Values:
        status = frame["status"]
        ok = (status == "ok").to_numpy(dtype=bool)
        latency, ttfp, ttft, itl, tokens, lag, effective = (
            frame[c].to_numpy(dtype=np.float64)
            for c in (
                "latency_ms",
                "ttfp_ms",
                "ttft_ms",
                "itl_mean_ms",
                "tokens",
                "schedule_lag_ms",
                "effective_latency_ms",
            )
        )
        error = (status == "error").to_numpy(dtype=bool)
        return cls(
            ok, error, ok & (tokens > 1), is_late(lag), latency, ttfp, ttft, itl, tokens, lag, effective
        )


@dataclass(frozen=True)
class _RunFigures:
    """The run-wide figures every row divides by or takes a share of."""

    window_s: float  # first start to last completion
    count: int  # requests in the measured window
    achieved_rps: float  # the ALL row's achieved send rate; NaN in closed loop
    target_rps: float  # the run's target arrival rate; NaN in closed loop and for a --rates run


def summarize(frame: pd.DataFrame, arrival: ArrivalOutcome | None = None) -> pd.DataFrame:
    """One row per (request_type, name, variant) plus an ALL row, columns ``SUMMARY_COLUMNS``.

    ``arrival``: an open-loop run's (``run.json``'s ``"arrival"``); None for a closed-loop run, whose
    ``target_rps`` and ``achieved_rps`` are empty."""
    open_loop = arrival is not None
    figures = _RunFigures(
        window_s(frame),
        len(frame),
        achieved_rate_per_s(frame["timestamp_s"].to_numpy(dtype=np.float64)) if open_loop else math.nan,
        math.nan if arrival is None or arrival.rate_per_s is None else arrival.rate_per_s,
    )
    values = _Values.of(frame)
    rows = [
        _summary_row(values, positions, request_type, name, variant, figures)
        for (request_type, name, variant), positions in groups(frame, KEY_COLUMNS)
    ]
    rows.append(_summary_row(values, None, "ALL", "ALL", "", figures))
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def groups(frame: pd.DataFrame, keys: Sequence[str]) -> list[tuple[tuple[str, ...], npt.NDArray[np.intp]]]:
    """The row positions (ascending) of each distinct ``keys`` present, as text (a missing value is
    ""), sorted by that text.

    From the category codes (or factorized values) of the keys: one small integer per row, one stable
    sort; the positions are slices of that one sorted array.
    """
    if frame.empty:
        return []
    coded = [_codes(frame[key]) for key in keys]
    sizes = [len(labels) + 1 for _, labels in coded]  # code -1 (missing) is 0
    total = math.prod(sizes)
    dtype = (
        np.int16
        if total <= np.iinfo(np.int16).max
        else np.int32
        if total <= np.iinfo(np.int32).max
        else np.int64
    )
    ids: npt.NDArray[np.signedinteger[Any]] = np.zeros(len(frame), dtype=dtype)
    for (codes, _), size in zip(coded, sizes, strict=True):
        ids *= size
        ids += codes
        ids += 1
    order = np.argsort(ids, kind="stable")
    counts = np.bincount(ids, minlength=total)
    present = np.flatnonzero(counts)
    found: dict[tuple[str, ...], list[npt.NDArray[np.intp]]] = {}
    for key, positions in zip(present, np.split(order, np.cumsum(counts[present])[:-1]), strict=True):
        labels: list[str] = []
        rest = int(key)
        for (_, names), size in zip(reversed(coded), reversed(sizes), strict=True):
            rest, code = divmod(rest, size)
            labels.append(names[code - 1] if code else "")
        found.setdefault(tuple(reversed(labels)), []).append(positions)
    return [
        (labels, parts[0] if len(parts) == 1 else np.sort(np.concatenate(parts)))
        for labels, parts in sorted(found.items())
    ]


def _codes(column: pd.Series) -> tuple[npt.NDArray[np.integer[Any]], list[str]]:
    """Per row an integer (-1: missing) into a list of the distinct values as text."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), [str(c) for c in column.cat.categories]
    codes, uniques = pd.factorize(column)
    return codes, ["" if v is None else str(v) for v in uniques]


def _summary_row(
    values: _Values, rows: Rows, request_type: str, name: str, variant: str, figures: _RunFigures
) -> dict[str, object]:
    """One row of the summary; each column's values are taken, used and dropped in turn (for the ALL
    row of a large run, a copy of one column at a time)."""
    count = len(values.ok) if rows is None else len(rows)
    errors = int((values.error if rows is None else values.error[rows]).sum())
    late = int((values.late if rows is None else values.late[rows]).sum())
    window = figures.window_s
    row: dict[str, object] = {
        "request_type": request_type,
        "name": name,
        "variant": variant,
        "count": count,
        "errors": errors,
        "unfinished": count - errors - int((values.ok if rows is None else values.ok[rows]).sum()),
        "error_rate": errors / count if count else float("nan"),
        "late": late,
        "late_rate": late / count if count else float("nan"),
        "rps": count / window if window > 0 else float("nan"),
        "target_rps": figures.target_rps if rows is None else float("nan"),
        "achieved_rps": figures.achieved_rps * count / figures.count if figures.count else float("nan"),
    }
    row["schedule_lag_p99_ms"] = _quantiles(_select(values.schedule_lag_ms, rows), (99,))[0]
    latency = _select(values.latency_ms, rows, values.ok)
    row["latency_mean_ms"] = float(latency.mean()) if latency.size else float("nan")
    row["latency_max_ms"] = float(latency.max()) if latency.size else float("nan")
    row.update(_percentiles(latency, "latency", (50, 90, 95, 99, 99.9)))
    del latency
    effective = _select(values.effective_latency_ms, rows, values.ok)
    row.update(_percentiles(effective, "effective_latency", (50, 95, 99)))
    del effective
    row.update(_percentiles(_select(values.ttfp_ms, rows), "ttfp", (50, 95, 99)))
    row.update(_percentiles(_select(values.ttft_ms, rows), "ttft", (50, 95, 99)))
    row.update(_percentiles(_select(values.itl_mean_ms, rows), "itl", (50, 99)))
    tokens = values.tokens if rows is None else values.tokens[rows]
    counted = ~np.isnan(tokens)
    row["tokens_per_s"] = (
        float(np.sum(tokens, where=counted)) / window if window > 0 and counted.any() else float("nan")
    )
    del tokens, counted
    streams = np.flatnonzero(values.streams) if rows is None else rows[values.streams[rows]]
    rates = _output_rate(values.latency_ms[streams], values.ttft_ms[streams], values.tokens[streams])
    rates = rates[~np.isnan(rates)]
    row["output_tokens_per_s_p50"] = _quantiles(rates, (50,))[0]
    row["output_tokens_per_s_mean"] = float(rates.mean()) if rates.size else float("nan")
    return {column: row[column] for column in SUMMARY_COLUMNS}


def _select(values: Floats, rows: Rows, keep: Bools | None = None) -> Floats:
    """A fresh copy (the percentiles reorder it) of ``values`` at ``rows`` where ``keep`` holds (both
    over every row) and that are not NaN."""
    if rows is not None:
        values = values[rows]
        keep = None if keep is None else keep[rows]
    present = ~np.isnan(values)
    if keep is not None:
        present &= keep
    return values[present]


def output_tokens_per_s(frame: pd.DataFrame) -> pd.Series:
    """Per stream, the generation rate after the first token: (tokens - 1) / (latency - ttft).

    genai-perf's "output token throughput per user"; NaN for records without two tokens.
    """
    columns = (frame[c].to_numpy(dtype=np.float64) for c in ("latency_ms", "ttft_ms", "tokens"))
    return pd.Series(_output_rate(*columns), index=frame.index)


def _output_rate(latency_ms: Floats, ttft_ms: Floats, tokens: Floats) -> Floats:
    """(tokens - 1) / (latency - ttft) per record, NaN without two tokens or a positive decode time."""
    decode_s = latency_ms - ttft_ms
    decode_s /= 1000.0
    rate = tokens - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        rate /= decode_s
    rate[~((tokens > 1) & (decode_s > 0))] = np.nan
    return rate


def _percentiles(values: Floats, metric: str, qs: tuple[float, ...]) -> dict[str, float]:
    """``{metric}_p50_ms``-style columns (p99.9 is ``p999``) of ``_quantiles``."""
    names = [f"{metric}_p{q:g}_ms".replace(".", "") for q in qs]
    return dict(zip(names, _quantiles(values, qs), strict=True))


def _quantiles(values: Floats, qs: tuple[float, ...]) -> list[float]:
    """numpy's (linear) percentiles ``qs`` of ``values``, which must hold no NaN and may be reordered
    (they are ``_select``'s copy); NaN when there are none."""
    if not values.size:
        return [float("nan")] * len(qs)
    return [float(v) for v in np.percentile(values, qs, overwrite_input=True)]


def timeseries(frame: pd.DataFrame) -> pd.DataFrame:
    """Per second of completion: users, rps (requests completed in that second), errors, latency and TTFP percentiles."""
    if frame.empty:
        return pd.DataFrame(columns=list(TIMESERIES_COLUMNS))
    end_s = frame["end_s"].to_numpy(dtype=np.float64)
    if np.isnan(end_s).all():
        return pd.DataFrame(columns=list(TIMESERIES_COLUMNS))
    first = int(np.floor(np.nanmin(end_s))) - 1
    offsets = end_s - first
    np.floor(offsets, out=offsets)
    np.nan_to_num(offsets, copy=False, nan=0.0)  # 0: no completion time
    second = offsets.astype(np.int32)  # seconds since just before the first completion: small
    del offsets
    order = np.argsort(second, kind="stable")
    counts = np.bincount(second)
    counts[0] = 0
    present = np.flatnonzero(counts)
    status = frame["status"]
    ok = (status == "ok").to_numpy(dtype=bool)
    error = (status == "error").to_numpy(dtype=bool)
    users, latency, ttfp = (frame[c].to_numpy(dtype=np.float64) for c in ("users", "latency_ms", "ttfp_ms"))
    rows = []
    ends = np.cumsum(counts[present])
    missing = len(order) - int(ends[-1])  # rows without a completion time: second 0, sorted first
    for offset, positions in zip(present, np.split(order[missing:], ends[:-1]), strict=True):
        group_users = users[positions]
        rows.append(
            {
                "second_s": first + int(offset),
                "users": float(np.nanmax(group_users)) if (~np.isnan(group_users)).any() else float("nan"),
                "rps": len(positions),
                "errors": int(error[positions].sum()),
                **_percentiles(_select(latency, positions, ok), "latency", (50, 95, 99)),
                **_percentiles(_select(ttfp, positions), "ttfp", (50, 95, 99)),
            }
        )
    return pd.DataFrame(rows, columns=list(TIMESERIES_COLUMNS))


ERROR_COLUMNS = (
    "error_type",
    "error_stage",
    "count",
    "first_seen_s",
    "last_seen_s",
    "names",
    "sample_message",
)


def error_table(frame: pd.DataFrame, samples: dict[tuple[str, str], str]) -> pd.DataFrame:
    """Counts per (error_type, error_stage) with first/last seen and one sample message."""
    failed = frame[frame["status"] == "error"]
    rows = []
    started_s = failed["timestamp_s"].to_numpy(dtype=np.float64)
    for (error_type, stage), positions in groups(failed, ("error_type", "error_stage")):
        started = started_s[positions]
        rows.append(
            {
                "error_type": error_type,
                "error_stage": stage,
                "count": len(positions),
                "first_seen_s": float(started.min()),
                "last_seen_s": float(started.max()),
                "names": ";".join(sorted(set(failed["name"].iloc[positions].astype(str)))),
                "sample_message": samples.get((error_type, stage), ""),
            }
        )
    table = pd.DataFrame(rows, columns=list(ERROR_COLUMNS))
    return table.sort_values("count", ascending=False, kind="stable") if len(table) else table
