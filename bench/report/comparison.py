"""The files and console table of ``bench compare``: ``compare.csv`` and ``compare.md``.

``compare.csv`` has one row per compared metric (definitions in ``bench.analysis.compare``):

================  ========================================================================================
column            meaning
================  ========================================================================================
request_type      ``invoke``, ``stream`` ... or ``ALL`` (every measured request of each run)
name              request name (``ALL`` on the ALL row)
metric            ``latency_p50_ms``, ``latency_p95_ms``, ``latency_p99_ms``, ``ttfp_p50_ms``,
                  ``ttfp_p95_ms`` or ``error_rate``, defined as in summary.csv
baseline          the metric in the baseline run (milliseconds, or a fraction for error_rate)
candidate         the metric in the candidate run (same unit)
change            candidate / baseline - 1 (unit ``relative``: 0.1 = +10%), or for error_rate
                  (candidate - baseline) * 100 (unit ``points``: percentage points)
ci_low, ci_high   the bootstrap confidence interval of ``change`` (same unit; empty when not judged)
unit              ``relative`` or ``points``: the unit of change, ci_low, ci_high and threshold
threshold         the change beyond which a significant change regresses (same unit)
regressed         ``true`` when change > threshold and ci_low > 0
baseline_count    values the baseline statistic is over (successful requests for latency, streams
                  with a first part for TTFP, all requests for error_rate)
candidate_count   the same for the candidate
note              why a metric was not judged (too few values, an undefined change); empty otherwise
================  ========================================================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bench.analysis.compare import ERROR_RATE_MAX_POINTS, Comparison, MetricComparison
from bench.report.gatefiles import markdown_code, markdown_text

COMPARE_CSV = "compare.csv"
COMPARE_MD = "compare.md"
COMPARE_COLUMNS = (
    "request_type",
    "name",
    "metric",
    "baseline",
    "candidate",
    "change",
    "ci_low",
    "ci_high",
    "unit",
    "threshold",
    "regressed",
    "baseline_count",
    "candidate_count",
    "note",
)


def write_comparison(comparison: Comparison, out_dir: Path) -> tuple[Path, Path]:
    """Write ``compare.csv`` and ``compare.md`` into ``out_dir``; return their paths."""
    csv_path, md_path = out_dir / COMPARE_CSV, out_dir / COMPARE_MD
    table = pd.DataFrame(
        [[getattr(row, column) for column in COMPARE_COLUMNS] for row in comparison.rows],
        columns=list(COMPARE_COLUMNS),
    )
    table["regressed"] = table["regressed"].map({True: "true", False: "false"})
    table.to_csv(csv_path, index=False, float_format="%.6f")
    md_path.write_text(_markdown(comparison), encoding="utf-8")
    return csv_path, md_path


def format_comparison(comparison: Comparison) -> str:
    """A compact console table (one line per metric), the requests of one run only, and the headline."""
    lines = [f"{'request':<28} {'metric':<13} {'baseline':>11} {'candidate':>11}  {'change [CI]':<31} result"]
    for row in comparison.rows:
        result = "REGRESSED" if row.regressed else ("n/a: " + row.note if row.note else "ok")
        lines.append(
            f"{_request(row)[:28]:<28} {_metric(row.metric):<13} {_value(row, row.baseline):>11} "
            f"{_value(row, row.candidate):>11}  {_change_with_ci(row):<31} {result}"
        )
    lines += [f"{line} (not compared)" for line in unmatched_lines(comparison)]
    lines.append(headline(comparison))
    return "\n".join(lines)


def unmatched_lines(comparison: Comparison, quote: Callable[[str], str] = str) -> list[str]:
    """``only in baseline: invoke a, stream b`` and the same for the candidate; none when all matched.

    Those requests are in no metric row (there is nothing to compare them with), but they count in
    the ALL row of their run. ``quote`` formats each ``request_type name``.
    """
    return [
        f"only in {side}: {', '.join(quote(f'{t} {n}') for t, n in keys)}"
        for side, keys in (("baseline", comparison.baseline_only), ("candidate", comparison.candidate_only))
        if keys
    ]


def headline(comparison: Comparison) -> str:
    """One line: how many metrics regressed, and the rule that decided it."""
    count = len(comparison.regressions)
    verdict = f"{count} regression{'s' if count != 1 else ''}" if count else "no regression"
    level = f"{comparison.confidence * 100:g}%"
    return (
        f"{verdict} in {len(comparison.rows)} metrics (latency/TTFP: worse by more than "
        f"{comparison.max_regression * 100:g}%, error rate: up by more than {ERROR_RATE_MAX_POINTS:g} pp; "
        f"in both cases with the {level} bootstrap interval above zero)"
    )


def _markdown(comparison: Comparison) -> str:
    level = f"{comparison.confidence * 100:g}%"
    lines = [
        "# Run comparison",
        "",
        f"- baseline: {markdown_code(str(comparison.baseline_dir))} "
        f"(warm-up {comparison.baseline_warmup_s:g} s left out)",
        f"- candidate: {markdown_code(str(comparison.candidate_dir))} "
        f"(warm-up {comparison.candidate_warmup_s:g} s left out)",
        f"- {comparison.resamples} bootstrap resamples per run; intervals are {level} percentile intervals",
        "",
        f"**{'❌' if comparison.failed else '✅'} {headline(comparison)}**",
        "",
        f"| request | metric | baseline | candidate | change [{level} CI] | result |",
        "|---|---|---:|---:|---|---|",
    ]
    for row in comparison.rows:
        result = "❌ regressed" if row.regressed else (f"⚠️ {markdown_text(row.note)}" if row.note else "✅")
        lines.append(
            f"| {markdown_text(_request(row))} | {_metric(row.metric)} | {_value(row, row.baseline)} "
            f"| {_value(row, row.candidate)} | {_change_with_ci(row)} | {result} |"
        )
    unmatched = unmatched_lines(comparison, markdown_code)
    if unmatched:
        lines += ["", "Not compared (each counts in its own run's ALL row):", ""]
        lines += [f"- {line}" for line in unmatched]
    return "\n".join(lines) + "\n"


def _request(row: MetricComparison) -> str:
    return "ALL" if row.request_type == "ALL" else f"{row.request_type} {row.name}"


def _metric(metric: str) -> str:
    """``latency_p95_ms`` -> ``latency p95``; ``error_rate`` -> ``error rate``."""
    return metric.removesuffix("_ms").replace("_", " ")


def _value(row: MetricComparison, value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value * 100:.2f}%" if row.metric == "error_rate" else f"{value:.2f} ms"


def _change(row: MetricComparison, value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:+.2f} pp" if row.unit == "points" else f"{value * 100:+.1f}%"


def _change_with_ci(row: MetricComparison) -> str:
    if math.isnan(row.ci_low):
        return _change(row, row.change)
    return f"{_change(row, row.change)} [{_change(row, row.ci_low)}, {_change(row, row.ci_high)}]"
