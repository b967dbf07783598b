"""Gate expressions: k6-like text parsed once into typed ``GateSpec`` values (pure; no data here).

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
``invoke:demo-triton p99(latency)<300ms``. The configuration (``RunConfig.gates``, the capacity SLOs)
holds ``GateSpec`` values; ``bench.analysis.gates`` evaluates them on the raw records.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
