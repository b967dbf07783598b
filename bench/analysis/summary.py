"""Exact summaries from raw records: no bucketing, percentiles as numpy computes them.

Stream statistics: TTFP and TTFT percentiles are over every record that measured them (a stream that
failed mid-way still had a first part); ``itl_*`` are percentiles of the per-stream mean gap between
parts; ``tokens_per_s`` is the row's tokens over the measured window; ``output_tokens_per_s_*`` are
over successful streams' own generation rates (``output_tokens_per_s``).

Latency percentiles are over successful requests (a fast error must not flatter latency); counts,
error rate and throughput are over all requests. ``rps`` of every row divides by the same measured
window (first start to last completion), so the rows add up to the ALL row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SUMMARY_COLUMNS = (
    "request_type",
    "name",
    "variant",
    "count",
    "errors",
    "error_rate",
    "rps",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_p999_ms",
    "latency_max_ms",
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


def percentile(values: pd.Series, q: float) -> float:
    """numpy's default (linear) percentile of the non-missing values; NaN when there are none."""
    array = values.dropna().to_numpy(dtype=float)
    return float(np.percentile(array, q)) if array.size else float("nan")


def window_s(frame: pd.DataFrame) -> float:
    """Seconds from the first request's start to the last request's completion."""
    if frame.empty:
        return 0.0
    return float(frame["end_s"].max() - frame["timestamp_s"].min())


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (request_type, name, variant) plus an ALL row, columns ``SUMMARY_COLUMNS``."""
    window = window_s(frame)
    rows = []
    keyed = frame.assign(variant=frame["variant"].fillna(""))
    for (request_type, name, variant), group in keyed.groupby(["request_type", "name", "variant"], sort=True):
        rows.append(_summary_row(group, str(request_type), str(name), str(variant), window))
    rows.append(_summary_row(frame, "ALL", "ALL", "", window))
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _summary_row(
    group: pd.DataFrame, request_type: str, name: str, variant: str, window: float
) -> dict[str, object]:
    count = len(group)
    errors = int((group["status"] == "error").sum())
    ok = group[group["status"] == "ok"]
    latency = ok["latency_ms"]
    row: dict[str, object] = {
        "request_type": request_type,
        "name": name,
        "variant": variant,
        "count": count,
        "errors": errors,
        "error_rate": errors / count if count else float("nan"),
        "rps": count / window if window > 0 else float("nan"),
        "latency_mean_ms": float(latency.mean()) if len(latency) else float("nan"),
        "latency_max_ms": float(latency.max()) if len(latency) else float("nan"),
        **_percentiles(group["ttfp_ms"], "ttfp", (50, 95, 99)),
        **_percentiles(group["ttft_ms"], "ttft", (50, 95, 99)),
        **_percentiles(group["itl_mean_ms"], "itl", (50, 99)),
        "tokens_per_s": float(group["tokens"].sum()) / window
        if window > 0 and group["tokens"].notna().any()
        else float("nan"),
    }
    row.update(_percentiles(latency, "latency", (50, 90, 95, 99, 99.9)))
    per_stream = output_tokens_per_s(ok)
    row["output_tokens_per_s_p50"] = percentile(per_stream, 50)
    row["output_tokens_per_s_mean"] = float(per_stream.mean()) if per_stream.notna().any() else float("nan")
    return row


def output_tokens_per_s(frame: pd.DataFrame) -> pd.Series:
    """Per stream, the generation rate after the first token: (tokens - 1) / (latency - ttft).

    genai-perf's "output token throughput per user"; NaN for records without two tokens.
    """
    decode_s = (frame["latency_ms"] - frame["ttft_ms"]) / 1000.0
    rate = (frame["tokens"] - 1) / decode_s
    return rate.where((frame["tokens"] > 1) & (decode_s > 0))


def _percentiles(values: pd.Series, metric: str, qs: tuple[float, ...]) -> dict[str, float]:
    """``{metric}_p50_ms``-style columns; p99.9 is ``p999``."""
    return {f"{metric}_p{q:g}_ms".replace(".", ""): percentile(values, q) for q in qs}


def timeseries(frame: pd.DataFrame) -> pd.DataFrame:
    """Per second of completion: users, rps (requests completed in that second), errors, latency and TTFP percentiles."""
    if frame.empty:
        return pd.DataFrame(columns=list(TIMESERIES_COLUMNS))
    second = np.floor(frame["end_s"]).astype("int64")
    rows = []
    for value, group in frame.groupby(second, sort=True):
        ok = group[group["status"] == "ok"]
        rows.append(
            {
                "second_s": int(value),
                "users": group["users"].max(),
                "rps": len(group),
                "errors": int((group["status"] == "error").sum()),
                **_percentiles(ok["latency_ms"], "latency", (50, 95, 99)),
                **_percentiles(group["ttfp_ms"], "ttfp", (50, 95, 99)),
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
    for (error_type, stage), group in failed.groupby(["error_type", "error_stage"], sort=True):
        rows.append(
            {
                "error_type": error_type,
                "error_stage": stage,
                "count": len(group),
                "first_seen_s": float(group["timestamp_s"].min()),
                "last_seen_s": float(group["timestamp_s"].max()),
                "names": ";".join(sorted(set(group["name"]))),
                "sample_message": samples.get((str(error_type), str(stage)), ""),
            }
        )
    table = pd.DataFrame(rows, columns=list(ERROR_COLUMNS))
    return table.sort_values("count", ascending=False, kind="stable") if len(table) else table
