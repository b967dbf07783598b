"""Capacity planning from a stepped run: per-step statistics, the SLO point, saturation, fleet and cost.

Pure: a function of ``requests.csv`` (records carry ``step`` and ``users``) and the planning inputs.
Definitions (what the report and README say, exactly):

- A step's measured window starts ``ramp_s`` after its first request and ends at its last completion;
  records that started in the ramp are left out of that step's statistics.
- ``users``: the user count most records of the step completed under (the step's planned users; the
  last requests of a step may complete after the next step began).
- ``rps``: requests that started in the window / window length. ``latency_*``: successful requests.
  ``in_flight_mean`` (Little's law): rps x mean latency of all requests in the window, in requests;
  for a closed-loop step it should be close to ``users`` (``littles_law_ratio`` = in_flight / users).
- SLO point: the highest-throughput step whose statistics meet every SLO (gate grammar, evaluated on
  that step's window); its rps is the maximum sustainable throughput of one instance.
- Saturation: the first step whose throughput grew less than 5% over the previous step while its
  p50 latency rose; the previous step's users are the saturation concurrency.
- Instances for ``target_rps``: ceil(target_rps x (1 + headroom) / sustainable rps).
- Autoscaling target (``SageMakerVariantInvocationsPerInstance``, per minute): sustainable rps x 60 x
  safety factor (AWS's load-testing guidance uses 0.5).
- Cost: instances x price per hour; per million inferences: fleet cost per hour / (target rps x 3600) x 1e6.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from bench.analysis.gates import evaluate_gates
from bench.analysis.summary import percentile
from bench.config import CapacitySpec
from bench.gatespec import GateSpec, parse_gates

SATURATION_GROWTH = 0.05
DEFAULT_SAFETY_FACTOR = 0.5

# Reference on-demand prices, USD per hour, SageMaker real-time inference in us-east-1, as listed on
# the AWS pricing page in October 2025. Prices change and differ by region: pass --instance-price to
# use your own (it always wins over this table).
PRICES_AS_OF = "2025-10 (us-east-1 on-demand, SageMaker real-time inference; verify on the AWS pricing page)"
INSTANCE_PRICES_USD_PER_HOUR: dict[str, float] = {
    "ml.m5.xlarge": 0.269,
    "ml.g4dn.xlarge": 0.7364,
    "ml.g4dn.2xlarge": 1.0528,
    "ml.g5.xlarge": 1.408,
    "ml.g5.2xlarge": 1.515,
    "ml.g5.12xlarge": 7.09,
    "ml.p4d.24xlarge": 37.688,
}


@dataclass(frozen=True)
class StepStats:
    step: int
    users: int
    start_s: float
    end_s: float
    count: int
    errors: int
    error_rate: float
    rps: float
    latency_mean_ms: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    ttfp_p50_ms: float
    ttfp_p95_ms: float
    ttfp_p99_ms: float
    tokens_per_s: float
    in_flight_mean: float
    littles_law_ratio: float
    slo_ok: bool
    slo_failures: tuple[str, ...]


@dataclass(frozen=True)
class PlanningInputs:
    slos: tuple[GateSpec, ...] = ()
    target_rps: float | None = None
    headroom: float = 0.30
    safety_factor: float = DEFAULT_SAFETY_FACTOR
    instance_type: str | None = None
    instance_price: float | None = None  # USD per hour; overrides the table
    ramp_s: float = 0.0
    step_duration_s: float | None = None
    started_s: float | None = None  # when step 1 began (the run's clock, run.json ``started_s``)


@dataclass(frozen=True)
class Recommendation:
    sustainable_step: int | None
    sustainable_users: int | None
    sustainable_rps: float | None
    latency_p95_ms: float | None
    ttfp_p95_ms: float | None
    tokens_per_s: float | None
    saturation_step: int | None
    saturation_users: int | None
    instances: int | None
    invocations_per_instance_per_minute: float | None
    price_per_hour: float | None
    price_source: str | None
    fleet_cost_per_hour: float | None
    cost_per_million: float | None
    text: str


@dataclass(frozen=True)
class CapacityReport:
    steps: tuple[StepStats, ...]
    inputs: PlanningInputs
    recommendation: Recommendation
    title: str = ""


def step_stats(
    frame: pd.DataFrame,
    slos: Sequence[GateSpec] = (),
    ramp_s: float = 0.0,
    *,
    started_s: float | None = None,
    step_duration_s: float | None = None,
) -> tuple[StepStats, ...]:
    """Statistics of every step of a stepped run (records without a step are ignored).

    With the run's clock (``started_s``, when step 1 began, and ``step_duration_s``) a step's window
    starts ``ramp_s`` after the step began; without it (an older run.json), after its first request.
    """
    stepped = frame[frame["step"].notna()]
    gates = tuple(slos)
    steps = []
    for step, group in stepped.groupby("step", sort=True):
        number = int(float(str(step)))
        if started_s is not None and step_duration_s is not None:
            # to the microsecond, as requests.csv keeps timestamps: a request sent as the step began is in it
            start = round(started_s + (number - 1) * step_duration_s + ramp_s, 6)
        else:
            start = float(group["timestamp_s"].min()) + ramp_s
        window = group[group["timestamp_s"] >= start]
        if window.empty:
            continue
        steps.append(_one_step(number, window, start, gates))
    return tuple(steps)


def _one_step(step: int, window: pd.DataFrame, start: float, gates: Sequence[GateSpec]) -> StepStats:
    end = float(window["end_s"].max())
    length = max(end - start, 1e-9)
    ok = window[window["status"] == "ok"]
    count = len(window)
    errors = int((window["status"] == "error").sum())
    users = int(window["users"].mode().iloc[0])  # the step's users (a few complete after the next step began)
    rps = count / length
    in_flight = rps * float(window["latency_ms"].mean()) / 1000.0
    results = evaluate_gates(window, gates) if gates else []
    tokens = window["tokens"].dropna()
    return StepStats(
        step=step,
        users=users,
        start_s=start,
        end_s=end,
        count=count,
        errors=errors,
        error_rate=errors / count,
        rps=rps,
        latency_mean_ms=float(ok["latency_ms"].mean()) if len(ok) else float("nan"),
        latency_p50_ms=percentile(ok["latency_ms"], 50),
        latency_p95_ms=percentile(ok["latency_ms"], 95),
        latency_p99_ms=percentile(ok["latency_ms"], 99),
        ttfp_p50_ms=percentile(window["ttfp_ms"], 50),
        ttfp_p95_ms=percentile(window["ttfp_ms"], 95),
        ttfp_p99_ms=percentile(window["ttfp_ms"], 99),
        tokens_per_s=float(tokens.sum()) / length if len(tokens) else float("nan"),
        in_flight_mean=in_flight,
        littles_law_ratio=in_flight / users if users else float("nan"),
        slo_ok=all(r.passed for r in results),
        slo_failures=tuple(f"{r.gate.expression} ({r.observed_text()})" for r in results if not r.passed),
    )


def saturation(steps: Sequence[StepStats]) -> StepStats | None:
    """The last step before throughput stopped growing (< 5%) while p50 latency rose."""
    for previous, current in itertools.pairwise(steps):
        grew = current.rps >= previous.rps * (1 + SATURATION_GROWTH)
        slower = current.latency_p50_ms > previous.latency_p50_ms
        if not grew and slower:
            return previous
    return None


def sustainable(steps: Sequence[StepStats]) -> StepStats | None:
    """The highest-throughput step that meets every SLO."""
    passing = [s for s in steps if s.slo_ok]
    return max(passing, key=lambda s: s.rps) if passing else None


def instance_price(inputs: PlanningInputs) -> tuple[float | None, str | None]:
    if inputs.instance_price is not None:
        return inputs.instance_price, "--instance-price"
    if inputs.instance_type and inputs.instance_type in INSTANCE_PRICES_USD_PER_HOUR:
        return INSTANCE_PRICES_USD_PER_HOUR[inputs.instance_type], f"built-in table, {PRICES_AS_OF}"
    return None, None


def recommend(steps: Sequence[StepStats], inputs: PlanningInputs) -> Recommendation:
    point = sustainable(steps)
    knee = saturation(steps)
    price, source = instance_price(inputs)
    instances = per_minute = fleet = per_million = None
    if point is not None and point.rps > 0:
        per_minute = point.rps * 60.0 * inputs.safety_factor
        if inputs.target_rps is not None:
            instances = max(1, math.ceil(inputs.target_rps * (1 + inputs.headroom) / point.rps))
            if price is not None:
                fleet = instances * price
                per_million = fleet / (inputs.target_rps * 3600.0) * 1e6
    return Recommendation(
        sustainable_step=point.step if point else None,
        sustainable_users=point.users if point else None,
        sustainable_rps=point.rps if point else None,
        latency_p95_ms=point.latency_p95_ms if point else None,
        ttfp_p95_ms=_finite(point.ttfp_p95_ms) if point else None,
        tokens_per_s=_finite(point.tokens_per_s) if point else None,
        saturation_step=knee.step if knee else None,
        saturation_users=knee.users if knee else None,
        instances=instances,
        invocations_per_instance_per_minute=per_minute,
        price_per_hour=price,
        price_source=source,
        fleet_cost_per_hour=fleet,
        cost_per_million=per_million,
        text=_sentence(point, knee, instances, fleet, per_million, per_minute, inputs, steps),
    )


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def _sentence(
    point: StepStats | None,
    knee: StepStats | None,
    instances: int | None,
    fleet: float | None,
    per_million: float | None,
    per_minute: float | None,
    inputs: PlanningInputs,
    steps: Sequence[StepStats],
) -> str:
    """The recommendation in plain language."""
    if not steps:
        return "No stepped data: run with --steps to plan capacity."
    if point is None:
        broken = "; ".join(steps[0].slo_failures) or "the SLO"
        return f"No step met the SLO, not even the first ({steps[0].users} users): {broken}. One instance cannot serve this SLO at this load."
    who = f"One {inputs.instance_type}" if inputs.instance_type else "One instance"
    detail = f"p95 {point.latency_p95_ms:.0f} ms"
    if not math.isnan(point.ttfp_p95_ms):
        detail += f", time to first part p95 {point.ttfp_p95_ms:.0f} ms"
    if not math.isnan(point.tokens_per_s):
        detail += f", {point.tokens_per_s:.0f} tokens/s"
    parts = [f"{who} sustains {point.rps:.0f} req/s at {detail} ({point.users} concurrent users)"]
    if inputs.slos:
        parts[0] += f" within the SLO {', '.join(s.expression for s in inputs.slos)}"
    parts[0] += "."
    if knee is not None:
        parts.append(f"Throughput stops growing beyond {knee.users} concurrent users ({knee.rps:.0f} req/s).")
    if instances is not None and inputs.target_rps is not None:
        fleet_text = (
            f"{instances} instances serve {inputs.target_rps:.0f} req/s with {inputs.headroom:.0%} headroom"
        )
        if fleet is not None and per_million is not None:
            fleet_text += f" at ${fleet:.2f}/h, ${per_million:.2f} per million inferences"
        parts.append(fleet_text + ".")
    parts.append(
        f"Autoscaling target: SageMakerVariantInvocationsPerInstance = {per_minute or 0.0:.0f} per minute (safety factor {inputs.safety_factor:g})."
    )
    return " ".join(parts)


def capacity_report(frame: pd.DataFrame, inputs: PlanningInputs, title: str = "") -> CapacityReport:
    steps = step_stats(
        frame, inputs.slos, inputs.ramp_s, started_s=inputs.started_s, step_duration_s=inputs.step_duration_s
    )
    return CapacityReport(steps=steps, inputs=inputs, recommendation=recommend(steps, inputs), title=title)


def steps_table(steps: Sequence[StepStats]) -> pd.DataFrame:
    """``capacity.csv``: one row per step."""
    rows = []
    for s in steps:
        rows.append(
            {
                "step": s.step,
                "users": s.users,
                "count": s.count,
                "errors": s.errors,
                "error_rate": s.error_rate,
                "rps": s.rps,
                "latency_mean_ms": s.latency_mean_ms,
                "latency_p50_ms": s.latency_p50_ms,
                "latency_p95_ms": s.latency_p95_ms,
                "latency_p99_ms": s.latency_p99_ms,
                "ttfp_p50_ms": s.ttfp_p50_ms,
                "ttfp_p95_ms": s.ttfp_p95_ms,
                "ttfp_p99_ms": s.ttfp_p99_ms,
                "tokens_per_s": s.tokens_per_s,
                "in_flight_mean": s.in_flight_mean,
                "littles_law_ratio": s.littles_law_ratio,
                "slo_ok": s.slo_ok,
                "slo_failures": "; ".join(s.slo_failures),
                "window_start_s": s.start_s,
                "window_end_s": s.end_s,
            }
        )
    return pd.DataFrame(rows)


def planning_inputs(spec: CapacitySpec, started_s: float | None = None) -> PlanningInputs:
    return PlanningInputs(
        step_duration_s=spec.step_duration_s,
        started_s=started_s,
        slos=spec.slos,
        target_rps=spec.target_rps,
        headroom=spec.headroom,
        safety_factor=spec.safety_factor,
        instance_type=spec.instance_type,
        instance_price=spec.instance_price,
        ramp_s=spec.ramp_s,
    )


def planning_from_run_config(
    config: dict[str, object], started_s: float | None = None
) -> PlanningInputs | None:
    """The planning inputs stored in a run's ``run.json`` (None for a run without steps); ``started_s``
    is its top-level ``started_s`` (absent in older runs)."""
    capacity = config.get("capacity")
    if not isinstance(capacity, dict):
        return None
    names = {f.name for f in fields(PlanningInputs)}
    values: dict[str, Any] = {
        k: (tuple(v) if isinstance(v, list) else v) for k, v in capacity.items() if k in names
    }
    values["slos"] = parse_gates([str(s) for s in values.get("slos", ())])  # run.json keeps expressions
    return PlanningInputs(**values, started_s=started_s)
