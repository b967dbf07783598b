"""Gate expressions: k6-like text parsed once into typed ``GateSpec`` values (pure; no data here).

Grammar (whitespace between tokens is free)::

    gate   := scope* (stat "(" metric ")" | metric) op number [unit]
    scope  := "name:" NAME | "type:" ("invoke" | "stream") | "variant:" NAME | ("invoke" | "stream") ":" NAME
    NAME   := a word without spaces | '"' text '"' | "'" text "'"        (quoted: names with spaces)
    stat   := "mean" | "min" | "max" | "p" NUMBER            (p95, p99.9; "avg" = mean, "med" = p50)
    metric := latency | ttfp | ttft | itl                   (per-request values: need a stat)
            | effective_latency | schedule_lag             (open loop, per request: need a stat)
            | rps | error_rate | count | errors | unfinished | tokens_per_s   (one value per run: no stat)
            | late | late_rate                             (open loop, one value per run: no stat)
    op     := "<" | "<=" | ">" | ">=" | "=="
    unit   := "ms" | "s" (times; ms when omitted) | "%" (error_rate, late_rate; a fraction when omitted)

Examples: ``p95(latency)<250ms``, ``p99(ttfp)<800ms``, ``max(latency)<2s``, ``error_rate<1%``,
``rps>=50``, ``mean(itl)<40ms``, ``errors<=10``, ``type:stream p95(ttft)<500ms``,
``invoke:demo-triton p99(latency)<300ms``, ``name:"my endpoint" p95(latency)<250ms``,
``p99(effective_latency)<50ms``, ``p99(schedule_lag)<1ms``, ``late_rate<1%``, ``late==0``.

Open loop (``--arrival-rate``, ``--rates``; ``bench.analysis.openloop``): ``effective_latency`` is end
minus intended send (``effective_latency_ms``, over successful requests as ``latency``),
``schedule_lag`` actual minus intended send (``schedule_lag_ms``, every request); ``late`` counts the
requests sent more than 1 ms late, ``late_rate`` is late / requests. In closed loop the lag is 0 and
the effective latency is the latency.

``check_foregone`` refuses gates whose verdict the grammar already decides: every metric is never
negative and ``error_rate`` and ``late_rate`` are at most 100%, so ``p95(latency)<-5ms`` can never
pass and ``error_rate<150%`` or ``count>=0`` can never fail. The configuration (``RunConfig.gates``, the
capacity SLOs) holds ``GateSpec`` values; ``bench.analysis.gates`` evaluates them on the raw records.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.errors import ConfigError

SAMPLE_METRICS = {
    "latency": "latency_ms",
    "ttfp": "ttfp_ms",
    "ttft": "ttft_ms",
    "itl": "itl_mean_ms",
    "effective_latency": "effective_latency_ms",
    "schedule_lag": "schedule_lag_ms",
}
RUN_METRICS = ("rps", "error_rate", "count", "errors", "unfinished", "tokens_per_s", "late", "late_rate")
FRACTION_METRICS = ("error_rate", "late_rate")  # fractions: "%" or a plain fraction, at most 100%
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
}
SCOPES = ("name", "type", "variant", "invoke", "stream")
_SCOPE = re.compile(r"([A-Za-z_]+):")
_SCOPE_VALUE = re.compile(r"\"([^\"]*)\"|'([^']*)'|([^\s\"']+)")
_QUOTED_START = re.compile(r"[\"']")
_STAT = re.compile(r"(mean|avg|min|max|med|p\d+(?:\.\d+)?)\s*\(\s*([a-z_]+)\s*\)")
_METRIC = re.compile(r"([a-z_]+)")
_OP = re.compile(r"\s*(<=|>=|==|<|>)\s*")
_VALUE = re.compile(r"(-?\d+(?:\.\d+)?)\s*(ms|s|%)?\s*$")
# What every metric can be: never negative; the fractions at most 1 (100%).
_HIGHEST = dict.fromkeys(FRACTION_METRICS, 1.0)


@dataclass(frozen=True)
class GateSpec:
    expression: str
    metric: str
    stat: str | None  # "mean", "min", "max" or "p95"/"p99.9"; None for run metrics
    op: str
    threshold: float  # in base units: ms for times, a fraction for error_rate and late_rate
    request_type: str | None = None
    name: str | None = None
    variant: str | None = None

    @property
    def unit(self) -> str:
        if self.metric in SAMPLE_METRICS:
            return "ms"
        return "%" if self.metric in FRACTION_METRICS else ""

    @property
    def can_abort(self) -> bool:
        """Whether the gate can fail for good before the run ends (its value only ever grows or shrinks)."""
        grows = self.stat == "max" or self.metric in ("count", "errors", "late")
        if grows:
            return self.op in ("<", "<=")
        return self.stat == "min" and self.op in (">", ">=")


def format_value(value: float, gate: GateSpec) -> str:
    if gate.unit == "ms":
        return f"{value:.2f} ms"
    if gate.unit == "%":
        return f"{value * 100:.3g}%"
    return f"{value:.6g}"


def parse_gate(text: str, *, option: str = "--gate") -> GateSpec:
    """Parse one expression; ConfigError with the offending token and its column otherwise.

    ``option`` names the option in messages (``--gate``, ``--slo``).
    """
    stripped = text.strip()
    scope, rest = _scopes(text, stripped, option)
    stat_match = _STAT.match(rest)
    if stat_match:
        stat_token, metric = stat_match.group(1), stat_match.group(2)
        stat = _stat_name(text, stat_token, option)
        consumed = stat_match.end()
    else:
        metric_match = _METRIC.match(rest)
        if not metric_match:
            raise _error(
                text, rest[:12] or "(end)", "expected a metric such as p95(latency) or error_rate", option
            )
        stat, metric, consumed = None, metric_match.group(1), metric_match.end()
    if metric not in SAMPLE_METRICS and metric not in RUN_METRICS:
        known = ", ".join([*SAMPLE_METRICS, *RUN_METRICS])
        raise _error(text, metric, f"unknown metric; use one of {known}", option)
    if stat is not None and metric in RUN_METRICS:
        raise _error(
            text,
            rest[:consumed],
            f"{metric} is one value per run; write it without a statistic, e.g. {metric}>=50",
            option,
        )
    if stat is None and metric in SAMPLE_METRICS:
        raise _error(text, metric, f"{metric} needs a statistic, e.g. p95({metric}) or max({metric})", option)
    rest = rest[consumed:]
    op_match = _OP.match(rest)
    if not op_match:
        raise _error(text, rest[:6] or "(end)", "expected an operator: < <= > >= ==", option)
    rest = rest[op_match.end() :]
    value_match = _VALUE.match(rest)
    if not value_match:
        raise _error(text, rest or "(end)", "expected a number with an optional unit ms, s or %", option)
    threshold = _in_base_unit(text, metric, float(value_match.group(1)), value_match.group(2), option)
    return GateSpec(
        expression=stripped,
        metric=metric,
        stat=stat,
        op=op_match.group(1),
        threshold=threshold,
        request_type=scope.get("type"),
        name=scope.get("name"),
        variant=scope.get("variant"),
    )


def _scopes(text: str, rest: str, option: str) -> tuple[dict[str, str], str]:
    """The scope words at the start of ``rest`` (``name:x``, ``name:"a b"``) and what follows them."""
    scope: dict[str, str] = {}
    while key_match := _SCOPE.match(rest):
        key = key_match.group(1)
        if key not in SCOPES:
            known = ", ".join(f"{s}:" for s in SCOPES)
            raise _error(text, f"{key}:", f"unknown scope; use {known}", option)
        after = rest[key_match.end() :]
        value_match = _SCOPE_VALUE.match(after)
        if not value_match:
            what = "unterminated quote" if _QUOTED_START.match(after) else "no value"
            raise _error(
                text, rest[: key_match.end() + 1], f'{what}; write {key}:NAME or {key}:"A NAME"', option
            )
        value = next(v for v in value_match.groups() if v is not None)
        if not value:
            raise _error(text, rest[: value_match.end() + key_match.end()], f"empty {key}", option)
        if key in ("invoke", "stream"):
            scope["type"], scope["name"] = key, value
        elif key == "type" and value not in ("invoke", "stream"):
            raise _error(text, value, "unknown request type; use type:invoke or type:stream", option)
        else:
            scope[key] = value
        rest = after[value_match.end() :].lstrip()
    return scope, rest


def check_foregone(gate: GateSpec, *, option: str = "--gate") -> None:
    """ConfigError for a gate whose verdict does not depend on the run (see the module docstring).

    Separate from ``parse_gate``: the grammar itself accepts such gates, so that expressions stored
    in finished runs always parse again; the options refuse them before a run.
    """
    low, high, t = 0.0, _HIGHEST.get(gate.metric, math.inf), gate.threshold
    always = {"<": t > high, "<=": t >= high, ">": t < low, ">=": t <= low, "==": False}[gate.op]
    never = {"<": t <= low, "<=": t < low, ">": t >= high, ">=": t > high, "==": t < low or t > high}[gate.op]
    if not (always or never):
        return
    too_high = t > high if gate.op == "==" else always == (gate.op in ("<", "<="))
    unit = {"ms": " ms", "%": "%"}.get(gate.unit, "")
    if gate.metric in FRACTION_METRICS:
        what = f"{gate.metric} is between 0% and 100%"
    else:
        what = (
            f"{gate.stat}({gate.metric}) is never negative"
            if gate.stat
            else f"{gate.metric} is never negative"
        )
    fix = "give a threshold below 100%" if too_high else f"give a threshold above 0{unit}"
    verdict = "can never fail" if always else "can never pass"
    raise ConfigError(f"{option} {gate.expression!r}: {verdict}: {what}; {fix}")


def _stat_name(text: str, token: str, option: str) -> str:
    if token == "avg":
        return "mean"
    if token == "med":
        return "p50"
    if token.startswith("p"):
        q = float(token[1:])
        if not 0 <= q <= 100:
            raise _error(text, token, "percentiles are p0..p100, e.g. p95 or p99.9", option)
        return f"p{q:g}"
    return token


def _in_base_unit(text: str, metric: str, value: float, unit: str | None, option: str) -> float:
    if metric in SAMPLE_METRICS:
        if unit == "%":
            raise _error(text, "%", f"{metric} is a time; use ms or s", option)
        return value * 1000.0 if unit == "s" else value
    if metric in FRACTION_METRICS:
        if unit in ("ms", "s"):
            raise _error(text, unit, f"{metric} is a fraction; write 1% or 0.01", option)
        return value / 100.0 if unit == "%" else value
    if unit:
        raise _error(text, unit, f"{metric} takes no unit", option)
    return value


def _error(text: str, token: str, what: str, option: str) -> ConfigError:
    column = text.find(token) + 1 if token and token in text else len(text) + 1
    return ConfigError(f"{option} {text!r}: {token!r} at column {column}: {what}")


def parse_gates(texts: Sequence[str], *, option: str = "--gate") -> tuple[GateSpec, ...]:
    return tuple(parse_gate(t, option=option) for t in texts)
