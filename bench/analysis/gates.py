"""Performance gates: k6-like expressions, evaluated on exact statistics of the raw records.

The grammar and ``GateSpec`` live in ``bench.gatespec`` (parsed once, with the configuration).

Values: ``latency`` and ``effective_latency`` are over successful requests; ``ttfp``/``ttft``/``itl``
(per-stream mean gap) over every record that measured them; ``schedule_lag`` over every request;
``rps`` and ``tokens_per_s`` divide by the measured window (first start to last completion of the
run, after the warm-up); ``error_rate`` is errors / requests; ``late`` counts the requests sent more
than 1 ms after their intended time (any status) and ``late_rate`` is late / requests
(``bench.analysis.openloop``). A gate whose scope has no values fails with a reason instead of passing
silently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.analysis.openloop import is_late
from bench.analysis.records import measured
from bench.analysis.summary import window_s
from bench.gatespec import (
    OPERATORS,
    RUN_METRICS,
    SAMPLE_METRICS,
    GateSpec,
    format_value,
    parse_gate,
    parse_gates,
)


@dataclass(frozen=True)
class GateResult:
    gate: GateSpec
    observed: float | None
    passed: bool
    reason: str

    def observed_text(self) -> str:
        return "-" if self.observed is None else format_value(self.observed, self.gate)

    def threshold_text(self) -> str:
        return f"{self.gate.op} {format_value(self.gate.threshold, self.gate)}"


def in_scope(frame: pd.DataFrame, gate: GateSpec) -> pd.DataFrame:
    mask = pd.Series(True, index=frame.index)
    for column, value in (
        ("request_type", gate.request_type),
        ("name", gate.name),
        ("variant", gate.variant),
    ):
        if value is not None:
            mask &= frame[column] == value
    return frame if bool(mask.all()) else frame[mask]  # no copy of a whole window for an unscoped gate


def evaluate_gates(frame: pd.DataFrame, gates: Sequence[GateSpec]) -> list[GateResult]:
    """Each gate on the measured records (``frame`` already excludes the warm-up)."""
    window = window_s(frame)
    return [_evaluate(in_scope(frame, gate), gate, window) for gate in gates]


def _evaluate(scoped: pd.DataFrame, gate: GateSpec, window: float) -> GateResult:
    observed, missing = _observe(scoped, gate, window)
    if observed is None or math.isnan(observed):
        return GateResult(gate, None, False, missing)
    passed = OPERATORS[gate.op](observed, gate.threshold)
    verdict = "passed" if passed else "failed"
    return GateResult(
        gate,
        observed,
        passed,
        f"{verdict}: observed {format_value(observed, gate)}, threshold {gate.op} {format_value(gate.threshold, gate)}",
    )


def _observe(scoped: pd.DataFrame, gate: GateSpec, window: float) -> tuple[float | None, str]:
    where = _scope_text(gate)
    if gate.metric in SAMPLE_METRICS:
        column = scoped[SAMPLE_METRICS[gate.metric]]  # one column, not the scoped frame, is filtered
        if gate.metric in ("latency", "effective_latency"):
            column = column[scoped["status"] == "ok"]
        values = column.dropna().to_numpy(dtype=float)
        if values.size == 0:
            return None, f"no {gate.metric} values {where}: nothing measured it, so the gate cannot pass"
        return _statistic(values, gate.stat or "mean"), ""
    count = len(scoped)
    if gate.metric == "count":
        return float(count), ""
    errors = int((scoped["status"] == "error").sum())
    if gate.metric == "errors":
        return float(errors), ""
    if gate.metric == "unfinished":  # in flight when the run's drain ended (status unfinished)
        return float((scoped["status"] == "unfinished").sum()), ""
    late = _late(scoped) if gate.metric in ("late", "late_rate") else 0
    if gate.metric == "late":
        return float(late), ""
    if count == 0:
        return None, f"no requests {where}, so {gate.metric} is undefined and the gate cannot pass"
    if gate.metric in ("error_rate", "late_rate"):
        return (errors if gate.metric == "error_rate" else late) / count, ""
    if window <= 0:
        return None, f"the measured window is empty, so {gate.metric} is undefined"
    if gate.metric == "rps":
        return count / window, ""
    tokens = scoped["tokens"].dropna()
    if tokens.empty:
        return None, f"no token counts {where} (no streams?), so tokens_per_s cannot pass"
    return float(tokens.sum()) / window, ""


def _late(scoped: pd.DataFrame) -> int:
    """The requests sent more than 1 ms after their intended time (``openloop.is_late``)."""
    return int(is_late(scoped["schedule_lag_ms"].to_numpy(dtype=np.float64)).sum())


def _statistic(values: np.ndarray, stat: str) -> float:
    if stat == "mean":
        return float(values.mean())
    if stat == "min":
        return float(values.min())
    if stat == "max":
        return float(values.max())
    return float(np.percentile(values, float(stat[1:])))


def _scope_text(gate: GateSpec) -> str:
    parts = [
        f"{k}:{v}"
        for k, v in (("type", gate.request_type), ("name", gate.name), ("variant", gate.variant))
        if v
    ]
    return f"in scope {' '.join(parts)}" if parts else "in the run"


def confirm_abort(frame: pd.DataFrame, gate: GateSpec, warmup_s: float) -> GateResult | None:
    """``--gate-abort``'s check on the raw records so far (``load_records``), with the final rules.

    The gate's failure, worded for an abort, when it fails on the records measured so far (after the
    warm-up); None when it still passes or nothing measured it yet. Only for ``GateSpec.can_abort``
    gates, whose failure is final.
    """
    result = evaluate_gates(measured(frame, warmup_s), [gate])[0]
    if result.passed or result.observed is None:
        return None
    return abort_result(gate, result.observed)


def abort_result(gate: GateSpec, observed: float) -> GateResult:
    """A gate that can no longer pass (``--gate-abort``), worded as the run's closing lines say it."""
    threshold = f"{gate.op} {format_value(gate.threshold, gate)}"
    reason = f"can no longer pass: observed {format_value(observed, gate)}, threshold {threshold}"
    return GateResult(gate, observed, False, reason)


__all__ = [
    "OPERATORS",
    "RUN_METRICS",
    "SAMPLE_METRICS",
    "GateResult",
    "GateSpec",
    "abort_result",
    "confirm_abort",
    "evaluate_gates",
    "format_value",
    "in_scope",
    "parse_gate",
    "parse_gates",
]
