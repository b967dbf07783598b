"""Performance gates: k6-like expressions, parsed once, evaluated on exact statistics of the raw records.

Grammar (whitespace between tokens is free)::

    gate   := scope* (stat "(" metric ")" | metric) op number [unit]
    scope  := "name:" NAME | "type:" ("invoke" | "stream") | "variant:" NAME | ("invoke" | "stream") ":" NAME
    stat   := "mean" | "min" | "max" | "p" NUMBER            (p95, p99.9; "avg" = mean, "med" = p50)
    metric := latency | ttfp | ttft | itl                   (per-request values: need a stat)
            | rps | error_rate | count | errors | tokens_per_s   (one value per run: no stat)
    op     := "<" | "<=" | ">" | ">=" | "=="
    unit   := "ms" | "s" (times; ms when omitted) | "%" (error_rate; a fraction when omitted)

Examples: ``p95(latency)<250ms``, ``p99(ttfp)<800ms``, ``max(latency)<2s``, ``error_rate<1%``,
``rps>=50``, ``mean(itl)<40ms``, ``errors<=10``, ``type:stream p95(ttft)<500ms``,
``invoke:demo-triton p99(latency)<300ms``.

Values: ``latency`` is over successful requests; ``ttfp``/``ttft``/``itl`` (per-stream mean gap) over
every record that measured them; ``rps`` and ``tokens_per_s`` divide by the measured window (first
start to last completion of the run, after the warm-up); ``error_rate`` is errors / requests. A gate
whose scope has no values fails with a reason instead of passing silently.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.analysis.records import measured
from bench.analysis.summary import window_s
from bench.errors import ConfigError

SAMPLE_METRICS = {"latency": "latency_ms", "ttfp": "ttfp_ms", "ttft": "ttft_ms", "itl": "itl_mean_ms"}
RUN_METRICS = ("rps", "error_rate", "count", "errors", "tokens_per_s")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
}
_SCOPE = re.compile(r"(name|type|variant|invoke|stream):(\S+)\s+")
_STAT = re.compile(r"(mean|avg|min|max|med|p\d+(?:\.\d+)?)\s*\(\s*([a-z_]+)\s*\)")
_METRIC = re.compile(r"([a-z_]+)")
_OP = re.compile(r"\s*(<=|>=|==|<|>)\s*")
_VALUE = re.compile(r"(-?\d+(?:\.\d+)?)\s*(ms|s|%)?\s*$")


@dataclass(frozen=True)
class GateSpec:
    expression: str
    metric: str
    stat: str | None  # "mean", "min", "max" or "p95"/"p99.9"; None for run metrics
    op: str
    threshold: float  # in base units: ms for times, a fraction for error_rate
    request_type: str | None = None
    name: str | None = None
    variant: str | None = None

    @property
    def unit(self) -> str:
        if self.metric in SAMPLE_METRICS:
            return "ms"
        return "%" if self.metric == "error_rate" else ""

    @property
    def can_abort(self) -> bool:
        """Whether the gate can fail for good before the run ends (its value only ever grows or shrinks)."""
        grows = self.stat == "max" or self.metric in ("count", "errors")
        if grows:
            return self.op in ("<", "<=")
        return self.stat == "min" and self.op in (">", ">=")


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


def format_value(value: float, gate: GateSpec) -> str:
    if gate.unit == "ms":
        return f"{value:.2f} ms"
    if gate.unit == "%":
        return f"{value * 100:.3g}%"
    return f"{value:.6g}"


def parse_gate(text: str) -> GateSpec:
    """Parse one expression; ConfigError with the offending token and its column otherwise."""
    rest, position = text.strip(), 0
    scope: dict[str, str] = {}
    while match := _SCOPE.match(rest):
        key, value = match.group(1), match.group(2)
        if key in ("invoke", "stream"):
            scope["type"], scope["name"] = key, value
        elif key == "type" and value not in ("invoke", "stream"):
            raise _error(text, value, "unknown request type; use type:invoke or type:stream")
        else:
            scope[key] = value
        rest, position = rest[match.end() :], position + match.end()
    stat_match = _STAT.match(rest)
    if stat_match:
        stat, metric = _stat_name(stat_match.group(1)), stat_match.group(2)
        consumed = stat_match.end()
    else:
        metric_match = _METRIC.match(rest)
        if not metric_match:
            raise _error(text, rest[:12] or text, "expected a metric such as p95(latency) or error_rate")
        stat, metric, consumed = None, metric_match.group(1), metric_match.end()
    if metric not in SAMPLE_METRICS and metric not in RUN_METRICS:
        known = ", ".join([*SAMPLE_METRICS, *RUN_METRICS])
        raise _error(text, metric, f"unknown metric; use one of {known}")
    if stat is not None and metric in RUN_METRICS:
        raise _error(
            text,
            rest[:consumed],
            f"{metric} is one value per run; write it without a statistic, e.g. {metric}>=50",
        )
    if stat is None and metric in SAMPLE_METRICS:
        raise _error(text, metric, f"{metric} needs a statistic, e.g. p95({metric}) or max({metric})")
    rest = rest[consumed:]
    op_match = _OP.match(rest)
    if not op_match:
        raise _error(text, rest[:6] or "(end)", "expected an operator: < <= > >= ==")
    rest = rest[op_match.end() :]
    value_match = _VALUE.match(rest)
    if not value_match:
        raise _error(text, rest or "(end)", "expected a number with an optional unit ms, s or %")
    threshold = _in_base_unit(text, metric, float(value_match.group(1)), value_match.group(2))
    return GateSpec(
        expression=text.strip(),
        metric=metric,
        stat=stat,
        op=op_match.group(1),
        threshold=threshold,
        request_type=scope.get("type"),
        name=scope.get("name"),
        variant=scope.get("variant"),
    )


def _stat_name(text: str) -> str:
    if text == "avg":
        return "mean"
    if text == "med":
        return "p50"
    if text.startswith("p"):
        q = float(text[1:])
        if not 0 <= q <= 100:
            raise ConfigError(f"percentile {text} is outside p0..p100")
        return f"p{q:g}"
    return text


def _in_base_unit(text: str, metric: str, value: float, unit: str | None) -> float:
    if metric in SAMPLE_METRICS:
        if unit == "%":
            raise _error(text, "%", f"{metric} is a time; use ms or s")
        return value * 1000.0 if unit == "s" else value
    if metric == "error_rate":
        if unit in ("ms", "s"):
            raise _error(text, unit, "error_rate is a fraction; write 1% or 0.01")
        return value / 100.0 if unit == "%" else value
    if unit:
        raise _error(text, unit, f"{metric} takes no unit")
    return value


def _error(text: str, token: str, what: str) -> ConfigError:
    column = text.find(token) + 1 if token and token in text else len(text) + 1
    return ConfigError(f"--gate {text!r}: {token!r} at column {column}: {what}")


def parse_gates(texts: Sequence[str]) -> tuple[GateSpec, ...]:
    return tuple(parse_gate(t) for t in texts)


def in_scope(frame: pd.DataFrame, gate: GateSpec) -> pd.DataFrame:
    mask = pd.Series(True, index=frame.index)
    for column, value in (
        ("request_type", gate.request_type),
        ("name", gate.name),
        ("variant", gate.variant),
    ):
        if value is not None:
            mask &= frame[column] == value
    return frame[mask]


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
        rows = scoped[scoped["status"] == "ok"] if gate.metric == "latency" else scoped
        values = rows[SAMPLE_METRICS[gate.metric]].dropna().to_numpy(dtype=float)
        if values.size == 0:
            return None, f"no {gate.metric} values {where}: nothing measured it, so the gate cannot pass"
        return _statistic(values, gate.stat or "mean"), ""
    count = len(scoped)
    if gate.metric == "count":
        return float(count), ""
    errors = int((scoped["status"] == "error").sum())
    if gate.metric == "errors":
        return float(errors), ""
    if count == 0:
        return None, f"no requests {where}, so {gate.metric} is undefined and the gate cannot pass"
    if gate.metric == "error_rate":
        return errors / count, ""
    if window <= 0:
        return None, f"the measured window is empty, so {gate.metric} is undefined"
    if gate.metric == "rps":
        return count / window, ""
    tokens = scoped["tokens"].dropna()
    if tokens.empty:
        return None, f"no token counts {where} (no streams?), so tokens_per_s cannot pass"
    return float(tokens.sum()) / window, ""


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
