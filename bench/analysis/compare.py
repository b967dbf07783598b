"""Regression comparison of two finished runs, with bootstrap confidence intervals.

Each run's ``requests.csv`` is read after its own warm-up: from its ``run.json``'s ``measured_from_s``
(the run's warm-up cut, wall clock), or for a run without one ``config.warmup_s`` after its first
request (0 when absent). Rows are compared per ``(request_type, name)`` present in both runs, plus an
``ALL`` row over every measured request of each run. A ``(request_type, name)`` measured in one run
only has nothing to be compared with: it is in that run's ``ALL`` row and listed in
``Comparison.baseline_only`` or ``candidate_only`` (the reports name it), never dropped silently.
The metrics, defined as in ``summary.csv``:

- ``latency_p50_ms``, ``latency_p95_ms``, ``latency_p99_ms``: numpy's (linear) percentile of
  ``latency_ms`` over successful requests (``status == ok``).
- ``ttfp_p50_ms``, ``ttfp_p95_ms``: the same over every record that measured ``ttfp_ms`` (streams);
  no row when either run has no such record.
- ``error_rate``: errors / requests over all requests, as a fraction.

For every metric, ``change`` is ``candidate / baseline - 1`` (``unit = relative``) except for the error
rate, whose change is ``(candidate - baseline) * 100`` in percentage points (``unit = points``: a
baseline of 0 has no relative change).

Confidence interval: the percentile bootstrap. Each run's values (the latencies of its successful
requests, its TTFP values, or its per-request error indicators) are resampled with replacement,
independently per run, ``resamples`` times; the statistic is recomputed on each resample, the change
between the paired resamples taken, and ``[ci_low, ci_high]`` are the ``(1 - confidence) / 2`` and
``(1 + confidence) / 2`` percentiles of those changes. Instead of materialising every resample, each
percentile is drawn from its exact bootstrap distribution: for n values sorted as x, the k-th smallest
of n resampled values is ``x[floor(n * U(k))]`` with ``U(k)`` the k-th smallest of n uniforms, a
Beta(k, n - k + 1) variable (and a resampled error count is Binomial(n, error_rate)). This is the same
distribution as drawing index matrices, in O(resamples) instead of O(resamples * n).
The interval covers the sampling noise of the requests, not drift between runs (another host, a
warmer cache): two runs of the same build can differ significantly by a few percent, which is what
``max_regression`` is for.

A metric **regresses** when its change is worse beyond the threshold *and* statistically significant:
latency and TTFP when ``change > max_regression`` and ``ci_low > 0``; the error rate when it rose by
more than ``ERROR_RATE_MAX_POINTS`` percentage points and ``ci_low > 0``. A side with fewer than
``MIN_SAMPLES`` values is not judged (``regressed = False`` and a ``note`` saying why).
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from bench.analysis.records import load_records, take_measured
from bench.errors import ConfigError

MIN_SAMPLES = 20
ERROR_RATE_MAX_POINTS = 1.0
_COLUMNS = ("timestamp_s", "request_type", "name", "status", "latency_ms", "ttfp_ms")  # what it reads
Floats = npt.NDArray[np.float64]
# Per family of values: its metrics (named as summary.csv's columns) and their percentile (None: the mean).
_METRICS: dict[str, tuple[tuple[str, float | None], ...]] = {
    "latency": (("latency_p50_ms", 50.0), ("latency_p95_ms", 95.0), ("latency_p99_ms", 99.0)),
    "ttfp": (("ttfp_p50_ms", 50.0), ("ttfp_p95_ms", 95.0)),
    "error_rate": (("error_rate", None),),
}


@dataclass(frozen=True)
class MetricComparison:
    """One metric of one ``(request_type, name)`` in both runs (see the module docstring).

    ``baseline``/``candidate`` are in the metric's unit (``_ms``, or a fraction for ``error_rate``);
    ``change``, ``ci_low``, ``ci_high`` and ``threshold`` are in ``unit`` (``relative``: 0.1 = +10%;
    ``points``: percentage points); the counts are of the values each statistic is over.
    """

    request_type: str
    name: str
    metric: str
    baseline: float
    candidate: float
    change: float
    ci_low: float
    ci_high: float
    unit: str
    threshold: float
    regressed: bool
    baseline_count: int
    candidate_count: int
    note: str = ""


@dataclass(frozen=True)
class Comparison:
    """The result of ``compare_runs``; ``failed`` when any metric regressed."""

    baseline_dir: Path
    candidate_dir: Path
    baseline_warmup_s: float
    candidate_warmup_s: float
    max_regression: float
    confidence: float
    resamples: int
    rows: tuple[MetricComparison, ...]
    baseline_only: tuple[tuple[str, str], ...] = ()  # (request_type, name) in one run only: not compared
    candidate_only: tuple[tuple[str, str], ...] = ()

    @property
    def regressions(self) -> tuple[MetricComparison, ...]:
        return tuple(row for row in self.rows if row.regressed)

    @property
    def failed(self) -> bool:
        return any(row.regressed for row in self.rows)


def compare_runs(
    baseline_dir: Path,
    candidate_dir: Path,
    *,
    max_regression: float = 0.10,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Compare two finished run directories metric by metric (see the module docstring)."""
    if not (math.isfinite(max_regression) and max_regression >= 0):
        raise ConfigError(f"max regression {max_regression!r}: give a non-negative fraction, e.g. 0.1")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence {confidence!r}: give a fraction between 0 and 1, e.g. 0.95")
    if resamples < 100:
        raise ConfigError(f"resamples {resamples}: give at least 100 (2000 is the default)")
    rules = _Rules(max_regression, (50.0 * (1 - confidence), 50.0 * (1 + confidence)), resamples, seed)
    (base, base_warmup), (cand, cand_warmup) = _load_run(baseline_dir), _load_run(candidate_dir)
    base_groups, cand_groups = _groups(base), _groups(cand)
    rows: list[MetricComparison] = []
    for key in sorted(base_groups.keys() & cand_groups.keys()):
        rows += _compare_group(key, base_groups[key], cand_groups[key], rules)
    rows += _compare_group(("ALL", "ALL"), base, cand, rules)
    return Comparison(
        baseline_dir=baseline_dir,
        candidate_dir=candidate_dir,
        baseline_warmup_s=base_warmup,
        candidate_warmup_s=cand_warmup,
        max_regression=max_regression,
        confidence=confidence,
        resamples=resamples,
        rows=tuple(rows),
        baseline_only=tuple(sorted(base_groups.keys() - cand_groups.keys())),
        candidate_only=tuple(sorted(cand_groups.keys() - base_groups.keys())),
    )


@dataclass(frozen=True)
class _Rules:
    max_regression: float
    bounds: tuple[float, float]  # the percentiles of the bootstrap changes that bound the interval
    resamples: int
    seed: int


def _load_run(run_dir: Path) -> tuple[pd.DataFrame, float]:
    """The measured records of a run directory and the warm-up that was left out.

    The window starts at ``run.json``'s ``measured_from_s`` (the run's warm-up cut) when it has one,
    else ``config.warmup_s`` after the first request.
    """
    path = run_dir / "requests.csv"
    if not path.is_file():
        raise ConfigError(
            f"{run_dir}: no requests.csv there; give the directory of a finished run (reports/<stamp>-<name>)"
        )
    warmup_s, measured_from_s = 0.0, None
    if (run_dir / "run.json").is_file():
        try:
            info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
            warmup_s = float(info.get("config", {}).get("warmup_s", 0.0) or 0.0)
            cut = info.get("measured_from_s")
            measured_from_s = None if cut is None else float(cut)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{run_dir / 'run.json'}: unreadable ({exc}); fix or remove the file") from exc
    try:
        frame = load_records(path, _COLUMNS)
    except ValueError as exc:
        message = " ".join(str(exc).split())
        raise ConfigError(f"{path}: unreadable ({message}); give the directory of a finished run") from exc
    return take_measured(frame, warmup_s, measured_from_s), warmup_s


def _groups(frame: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    return {
        (str(t), str(n)): group
        for (t, n), group in frame.groupby(["request_type", "name"], sort=False, observed=True)
    }


def _compare_group(
    key: tuple[str, str], base: pd.DataFrame, cand: pd.DataFrame, rules: _Rules
) -> list[MetricComparison]:
    """The metric rows of one (request_type, name); each family of values has its own seeded generator."""
    rows: list[MetricComparison] = []
    for family, metrics in _METRICS.items():
        sides = (_values(base, family), _values(cand, family))
        counts = (sides[0].size, sides[1].size)
        if family == "ttfp" and min(counts) == 0:
            continue
        qs = [q for _, q in metrics]
        points = [[_statistic(side, q) for q in qs] for side in sides]
        draws = None
        if min(counts) >= MIN_SAMPLES:
            rng = _generator(rules.seed, family)
            draws = [_bootstrap(side, qs, rules.resamples, rng) for side in sides]
        unit = "points" if family == "error_rate" else "relative"
        threshold = ERROR_RATE_MAX_POINTS if family == "error_rate" else rules.max_regression
        for i, (metric, _) in enumerate(metrics):
            pair = (points[0][i], points[1][i])
            columns = None if draws is None else (draws[0][:, i], draws[1][:, i])
            rows.append(_row((*key, metric, unit), threshold, counts, pair, columns, rules.bounds))
    return rows


def _values(frame: pd.DataFrame, family: str) -> Floats:
    """What a family's statistics are of: successful latencies, TTFPs, or per-request error indicators."""
    if family == "error_rate":
        return (frame["status"] == "error").to_numpy().astype(np.float64)
    values = frame[f"{family}_ms"]
    if family == "latency":
        values = values[frame["status"] == "ok"]
    return values.dropna().to_numpy(dtype=np.float64)


def _statistic(values: Floats, q: float | None) -> float:
    if not values.size:
        return math.nan
    return float(values.mean() if q is None else np.percentile(values, q))


def _row(
    labels: tuple[str, str, str, str],
    threshold: float,
    counts: tuple[int, int],
    points: tuple[float, float],
    draws: tuple[Floats, Floats] | None,
    bounds: tuple[float, float],
) -> MetricComparison:
    """Judge one metric; ``labels`` are (request_type, name, metric, unit)."""
    unit = labels[3]
    change = float(_change(*points, unit))
    low = high = math.nan
    if draws is not None:
        changes = _change(*draws, unit)
        if np.isfinite(changes).all():
            low, high = (float(v) for v in np.percentile(changes, bounds))
    note = ""
    if min(counts) < MIN_SAMPLES:
        note = f"not judged: {counts[0]} baseline and {counts[1]} candidate values (needs {MIN_SAMPLES} each)"
    elif not (math.isfinite(change) and math.isfinite(low)):
        note = "not judged: the change is undefined (a baseline value of 0)"
    regressed = not note and change > threshold and low > 0
    return MetricComparison(
        *labels[:3], *points, change, low, high, unit, threshold, regressed, *counts, note
    )


def _change(base: npt.ArrayLike, cand: npt.ArrayLike, unit: str) -> Floats:
    """Relative change (0.1 = +10%), or the difference of two fractions in percentage points."""
    b, c = np.asarray(base, dtype=np.float64), np.asarray(cand, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return c / b - 1.0 if unit == "relative" else (c - b) * 100.0


def _generator(seed: int, family: str) -> np.random.Generator:
    """A fresh generator per row and family: a row's interval depends only on its own values and the seed."""
    return np.random.default_rng([seed, zlib.crc32(family.encode())])


def _bootstrap(
    values: Floats, qs: Sequence[float | None], resamples: int, rng: np.random.Generator
) -> Floats:
    """``(resamples, len(qs))``: the statistics ``qs`` of bootstrap resamples of ``values``.

    The mean (q None, only alone) of n resampled 0/1 indicators is Binomial(n, mean) / n. Percentile q
    (numpy's linear) of n sorted values x: with h = (n - 1) q / 100 and i = floor(h), x[i] + (h - i)
    (x[i + 1] - x[i]); only the needed order statistics of each resample are drawn.
    """
    n = values.size
    percentiles = [q for q in qs if q is not None]
    if not percentiles:
        return (rng.binomial(n, float(values.mean()), size=(resamples, 1)) / n).astype(np.float64)
    x = np.sort(values)
    h = (n - 1) * np.asarray(percentiles, dtype=np.float64) / 100.0
    low = np.floor(h).astype(np.int64)
    high = np.minimum(low + 1, n - 1)
    ranks = np.unique(np.concatenate([low, high]))
    picked = x[_order_statistic_indices(n, ranks, resamples, rng)]
    column = {int(rank): i for i, rank in enumerate(ranks)}
    x_low = picked[:, [column[int(r)] for r in low]]
    x_high = picked[:, [column[int(r)] for r in high]]
    result: Floats = x_low + (h - low) * (x_high - x_low)
    return result


def _order_statistic_indices(
    n: int, ranks: npt.NDArray[np.int64], resamples: int, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """Per resample of n indices uniform on 0..n-1, its sorted entries at 0-based ``ranks``: floor(n U(k)).

    Drawn jointly in increasing rank k: given U(j) = u, the n - j uniforms above it are uniform on (u, 1),
    so U(k) = u + (1 - u) Beta(k - j, n - k + 1) (with j = 0, u = 0 for the first).
    """
    indices = np.empty((resamples, ranks.size), dtype=np.int64)
    u = np.zeros(resamples)
    below = 0  # 1-based rank of the order statistic drawn last (0: none yet)
    for j, rank in enumerate(ranks):
        k = int(rank) + 1
        u = u + (1.0 - u) * rng.beta(k - below, n - k + 1, size=resamples)
        indices[:, j] = np.minimum((u * n).astype(np.int64), n - 1)
        below = k
    return indices
