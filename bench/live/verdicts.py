"""Live gate verdicts for the Inference tab: each ``--gate`` on the live statistics since the warm-up.

Approximate (``bench.live.stats``): the verdict that decides the exit code is computed at the end from
the raw records (``bench.analysis.gates``). ``passing``/``failing`` say where the gate stands now;
``aborted`` marks the gate that stopped the run (``--gate-abort``); ``no data`` that nothing in its
scope measured it yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.analysis.gates import OPERATORS, GateResult, GateSpec, abort_result, format_value
from bench.live.stats import LiveQuery, LiveStats

# gate metric -> live histogram (ttft is not kept live)
_LIVE_METRICS = {
    "latency": "latency",
    "ttfp": "ttfp",
    "itl": "gap",
    "effective_latency": "effective",
    "schedule_lag": "lag",
}


@dataclass(frozen=True)
class LiveVerdict:
    expression: str
    status: str  # passing | failing | aborted | no data | final: passed | final: failed
    detail: str


def live_value(query: LiveQuery, gate: GateSpec) -> tuple[float | None, str]:
    """The gate's value on ``query`` (None with the reason when there is none).

    Closed-loop records carry no lag (``bench.live.tally``): there the schedule lag is 0 and the
    effective latency is the latency, as in the exact gates."""
    if gate.stat is not None:
        metric = _LIVE_METRICS.get(gate.metric)
        if metric is None:
            return None, f"{gate.metric} is not kept live; judged at the end"
        if metric in ("effective", "lag") and query.count and query.values("lag") == 0:  # closed loop
            if metric == "lag":
                return 0.0, ""
            metric = "latency"
        if query.values(metric) == 0:
            return None, f"no {gate.metric} values yet"
        if gate.stat == "mean":
            return query.mean(metric), ""
        if gate.stat == "min":
            return query.min(metric), ""
        if gate.stat == "max":
            return query.max(metric), ""
        return query.quantile(metric, float(gate.stat[1:]) / 100.0), ""
    if gate.metric == "count":
        return float(query.count), ""
    if gate.metric == "errors":
        return float(query.errors), ""
    if gate.metric == "late":
        return float(query.late), ""
    if gate.metric == "unfinished":
        return None, "known when the run's drain ends"
    if query.count == 0:
        return None, "no requests yet"
    if gate.metric == "error_rate":
        return query.errors / query.count, ""
    if gate.metric == "late_rate":
        return query.late / query.count, ""
    if gate.metric == "rps":
        return query.count / query.seconds, ""
    return query.tokens / query.seconds, ""  # tokens_per_s


def live_verdicts(
    stats: LiveStats | None,
    gates: Sequence[GateSpec],
    *,
    since_s: float | None,
    aborted: str | None = None,
    final: Sequence[GateResult] = (),
) -> list[LiveVerdict]:
    """One verdict per gate: the exact final ones when given, else live ones since ``since_s``."""
    if final:
        return [
            LiveVerdict(
                r.gate.expression,
                "aborted" if r.gate.expression == aborted else f"final: {'passed' if r.passed else 'failed'}",
                r.reason,
            )
            for r in final
        ]
    verdicts = []
    for gate in gates:
        if gate.expression == aborted:
            verdicts.append(LiveVerdict(gate.expression, "aborted", "stopped the run (--gate-abort)"))
            continue
        if stats is None:
            verdicts.append(LiveVerdict(gate.expression, "no data", "the run has not started"))
            continue
        query = stats.query(
            request_type=gate.request_type, name=gate.name, variant=gate.variant, since_s=since_s
        )
        value, reason = live_value(query, gate)
        if value is None:
            verdicts.append(LiveVerdict(gate.expression, "no data", reason))
            continue
        passing = OPERATORS[gate.op](value, gate.threshold)
        detail = f"now {format_value(value, gate)} (live, approximate), threshold {gate.op} {format_value(gate.threshold, gate)}"
        verdicts.append(LiveVerdict(gate.expression, "passing" if passing else "failing", detail))
    return verdicts


def abort_verdict(stats: LiveStats, gates: Sequence[GateSpec], *, since_s: float) -> GateResult | None:
    """For ``--gate-abort``: the first gate that can no longer pass, on everything observed since ``since_s``.

    Only gates whose value moves one way can fail for good before the run ends (``GateSpec.can_abort``):
    ``max(...) <``, ``min(...) >``, ``count <``, ``errors <`` and ``late <``. Their live values are exact (counts,
    and the exact minimum and maximum each histogram keeps), so an abort never rests on an estimate.
    In a distributed run the master sees the workers' figures as their batches arrive (every 0.5 s).
    """
    for gate in gates:
        if not gate.can_abort:
            continue
        query = stats.query(
            request_type=gate.request_type, name=gate.name, variant=gate.variant, since_s=since_s
        )
        value, _ = live_value(query, gate)
        if value is not None and not OPERATORS[gate.op](value, gate.threshold):
            return abort_result(gate, value)
    return None
