"""Capacity planning from a stepped run: per-step statistics, the SLO point, saturation, fleet and cost.

Pure: a function of ``requests.csv`` (records carry ``step`` and ``users``), the load generator's health
samples (``health.csv``) and the planning inputs. Definitions (what the report and README say, exactly):

- A step's window starts ``ramp_s`` after the step began (the run's clock: ``started_s`` + (step - 1) x
  step duration; without it, an older run, after the step's first request) and ends at the step's last
  completion before the step ended (the next step began, or the run stopped). The live progress line
  and the final files see the same completions, so they give the same ``rps``.
- ``users``: the user count most records of the step completed under (the step's planned users; the
  last requests of a step may complete after the next step began).
- ``rps``: requests of the step that completed in the window / window length (``completed``).
  ``latency_*``, ``ttfp_*``, errors: the requests of the step that started in the window (``count``),
  also those completing after the step ended (live, those still running are not in yet: provisional);
  latency over successful requests. ``in_flight_mean`` (Little's law): rps x mean latency, in requests;
  for a closed-loop step it should be close to ``users`` (``littles_law_ratio`` = in_flight / users).
- ``valid``: the load generator's health in the window, by the rules of ``bench.collect.health``
  (CPU p95 <= 90% of a core, event-loop lag p99 <= 20 ms, each worker); None when no sample was
  recorded there. An invalid step measured the load generator as much as the endpoint.
- SLO point: the highest-throughput step whose statistics meet every SLO (gate grammar, evaluated on
  that step's window); its rps is the maximum sustainable throughput of one instance. When the
  endpoint did not saturate and no SLO stopped the steps, it is a lower bound ("at least").
- Saturation: the first step whose throughput grew less than 5% over the previous step while its
  p50 latency rose; the previous step's users are the saturation concurrency. It rests on both steps.
- Instances for ``target_rps``: ceil(target_rps x (1 + headroom) / sustainable rps).
- Autoscaling target (``SageMakerVariantInvocationsPerInstance``, per minute): sustainable rps x 60 x
  safety factor (AWS's load-testing guidance uses 0.5).
- Cost: instances x price per hour; per million inferences: fleet cost per hour / (target rps x 3600) x 1e6.
- Closed loop: each user waits for its response before it sends again, so the endpoint is never offered
  more than it serves; the report says that these figures overstate what open (arrival-rate) traffic
  gets, and to plan with ``--rates``. A rate-stepped run (``--rates``, ``PlanningInputs.by_rate``) is
  analysed by ``bench.analysis.ratecapacity``: its steps are arrival rates, its SLO on ``latency`` is
  judged on the effective latency, and its plan rests on the highest sustained arrival rate.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from bench.analysis.gates import evaluate_gates
from bench.analysis.summary import percentile
from bench.collect.health import HEALTH_CSV, Timelines, assess_window, read_health_csv
from bench.config import CapacitySpec
from bench.gatespec import GateSpec, parse_gates

SATURATION_GROWTH = 0.05
DEFAULT_SAFETY_FACTOR = 0.5
CLOSED_LOOP_NOTE = (
    "Closed loop: each user waited for its response before sending again, so these figures overstate what "
    "open (arrival-rate) traffic gets (at the same rate its latency is higher); plan with --rates"
)
NAN = float("nan")

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
    completed: int = 0  # requests of the step that completed in the window: the rps numerator
    valid: bool | None = None  # the load generator's health in the window (None: not recorded)
    invalid_reasons: tuple[str, ...] = ()
    # A rate step (``--rates``, bench.analysis.ratecapacity); None and NaN in a closed-loop step:
    target_rate_per_s: float | None = None  # the arrival rate asked for
    achieved_rate_per_s: float = NAN  # the rate its requests were sent at
    effective_latency_p50_ms: float = NAN  # end minus intended send, successful requests
    effective_latency_p95_ms: float = NAN
    effective_latency_p99_ms: float = NAN
    late: int = 0  # requests sent more than 1 ms after their intended time
    late_rate: float = NAN
    rate_failures: tuple[str, ...] = ()  # why the rate was not sustained, beyond the SLOs

    @property
    def by_rate(self) -> bool:
        """Whether this is a step of arrival rate (open loop) rather than of users."""
        return self.target_rate_per_s is not None

    @property
    def passed(self) -> bool:
        """Every SLO met and, for a rate step, the rate sustained."""
        return self.slo_ok and not self.rate_failures


@dataclass(frozen=True)
class RateStep:
    """One step of a rate-stepped run as it ran: its arrival rate and when it was set (wall clock)."""

    step: int
    target_rate_per_s: float
    started_s: float


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
    rates: tuple[float, ...] = ()  # a --rates run: the planned arrival rates (auto: the doubling plan)
    auto: bool = False
    rate_steps: tuple[RateStep, ...] = ()  # a --rates run: the steps as they ran (rate_steps.csv)

    @property
    def by_rate(self) -> bool:
        """Whether the steps are arrival rates (open loop, ``--rates``)."""
        return bool(self.rates or self.rate_steps)


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
    sustainable_valid: bool | None = None  # the SLO point's step's health (None: not recorded)
    saturation_valid: bool | None = None  # both steps saturation rests on (the knee and the next)
    invalid_steps: tuple[int, ...] = ()
    at_least_rps: float | None = None  # no saturation: the highest throughput measured, a lower bound
    price_missing: str | None = None  # why there is no price although an instance type was given
    # "closed": steps of users (--steps); "open": steps of arrival rate (--rates), where
    # sustainable_rps is the highest sustained arrival rate and latency_p95_ms its effective latency p95
    loop: str = "closed"
    note: str = ""  # what the figures rest on (closed: they overstate open traffic)
    achieved_rate_per_s: float | None = None  # open loop: at the sustainable rate
    service_latency_p95_ms: float | None = None
    late_rate: float | None = None
    failing_step: int | None = None  # open loop: the lowest rate above the sustainable one that failed
    failing_rate_per_s: float | None = None
    failing_reasons: tuple[str, ...] = ()


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
    health: Timelines | None = None,
) -> tuple[StepStats, ...]:
    """Statistics of every step of a stepped run (records without a step are ignored).

    With the run's clock (``started_s``, when step 1 began, and ``step_duration_s``) a step's window
    starts ``ramp_s`` after the step began and ends by its planned end; without it (an older run.json),
    it starts after its first request and ends by its last request's start. ``health``: the load
    generator's samples by worker (``health.csv``), judged per window; None leaves ``valid`` None.
    The rows of one step suffice (the live line passes just those): nothing looks at other steps.
    """
    stepped = frame[frame["step"].notna()]
    gates = tuple(slos)
    steps = []
    for step, group in stepped.groupby("step", sort=True):
        number = int(float(str(step)))
        if started_s is not None and step_duration_s is not None:
            # to the microsecond, as requests.csv keeps timestamps: a request sent as the step began is in it
            began = started_s + (number - 1) * step_duration_s
            start, planned_end = round(began + ramp_s, 6), round(began + step_duration_s, 6)
        else:
            start, planned_end = float(group["timestamp_s"].min()) + ramp_s, float(group["timestamp_s"].max())
        started = group["timestamp_s"]
        window = group[(started >= start) & (started <= planned_end)]
        if window.empty:
            continue
        done = group[(group["end_s"] >= start) & (group["end_s"] <= planned_end)]
        stats = _one_step(number, window, done, start, gates)
        if health is not None:
            verdict = assess_window(health, stats.start_s, stats.end_s)
            if verdict.samples:
                stats = replace(stats, valid=verdict.valid, invalid_reasons=verdict.reasons)
        steps.append(stats)
    return tuple(steps)


def _one_step(
    step: int, window: pd.DataFrame, done: pd.DataFrame, start: float, gates: Sequence[GateSpec]
) -> StepStats:
    """``window``: the requests that started in the window; ``done``: those that completed in it."""
    end = float(done["end_s"].max()) if len(done) else start
    length = end - start
    rate = (lambda n: n / length) if length > 0 else (lambda n: 0.0)
    ok = window[window["status"] == "ok"]
    count = len(window)
    errors = int((window["status"] == "error").sum())
    users = int(window["users"].mode().iloc[0])  # the step's users (a few complete after the next step began)
    rps = rate(len(done))
    in_flight = rps * float(window["latency_ms"].mean()) / 1000.0
    results = evaluate_gates(window, gates) if gates else []
    tokens = done["tokens"].dropna()
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
        tokens_per_s=rate(float(tokens.sum())) if len(tokens) else float("nan"),
        in_flight_mean=in_flight,
        littles_law_ratio=in_flight / users if users else float("nan"),
        slo_ok=all(r.passed for r in results),
        slo_failures=tuple(f"{r.gate.expression} ({r.observed_text()})" for r in results if not r.passed),
        completed=len(done),
    )


def step_line(stats: StepStats, *, total: str, slos: Sequence[GateSpec] = ()) -> str:
    """The live progress line of a step just ended (``bench: step 3/5: ...``).

    Its req/s is final: the same completions as ``capacity.csv``'s. Its p95 and errors are of the
    requests completed so far: those still running when it is printed (at most one per user) come in
    later; the plan line printed before the run says so once.
    """
    if stats.by_rate:
        from bench.analysis.ratecapacity import rate_step_line

        return rate_step_line(stats, total=total, slos=slos)
    s = stats
    verdict = "" if not slos else (", SLO ok" if s.slo_ok else f", SLO broken: {'; '.join(s.slo_failures)}")
    if s.valid is False:
        verdict += f", INVALID: {'; '.join(s.invalid_reasons)}"
    return (
        f"bench: step {s.step}/{total}: {_users(s.users)}, {s.rps:.1f} req/s, "
        f"p95 {s.latency_p95_ms:.1f} ms, errors {s.error_rate:.1%}{verdict}"
    )


def saturation(steps: Sequence[StepStats]) -> StepStats | None:
    """The last step before throughput stopped growing (< 5%) while p50 latency rose."""
    pair = _saturation_pair(steps)
    return pair[0] if pair else None


def _saturation_pair(steps: Sequence[StepStats]) -> tuple[StepStats, StepStats] | None:
    """The knee and the step after it that did not grow: saturation rests on both."""
    for previous, current in itertools.pairwise(steps):
        grew = current.rps >= previous.rps * (1 + SATURATION_GROWTH)
        slower = current.latency_p50_ms > previous.latency_p50_ms
        if not grew and slower:
            return previous, current
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


def price_missing(inputs: PlanningInputs) -> str | None:
    """Why an instance type given has no price (None when it has one, or none was given)."""
    known = inputs.instance_price is not None or inputs.instance_type in INSTANCE_PRICES_USD_PER_HOUR
    if inputs.instance_type and not known:
        return f"no price for {inputs.instance_type} in the built-in table: pass --instance-price"
    return None


def _health_of(steps: Sequence[StepStats]) -> bool | None:
    """False when any of ``steps`` was invalid, None when any was not judged, else True."""
    verdicts = [s.valid for s in steps]
    return False if False in verdicts else None if None in verdicts else True


def recommend(steps: Sequence[StepStats], inputs: PlanningInputs) -> Recommendation:
    """The plan: closed loop here; a rate-stepped run's by ``ratecapacity.recommend_by_rate``."""
    if inputs.by_rate or any(s.by_rate for s in steps):
        from bench.analysis.ratecapacity import recommend_by_rate

        return recommend_by_rate(steps, inputs)
    point = sustainable(steps)
    pair = _saturation_pair(steps)
    knee = pair[0] if pair else None
    price, source = instance_price(inputs)
    instances = per_minute = fleet = per_million = None
    if point is not None and point.rps > 0:
        per_minute = point.rps * 60.0 * inputs.safety_factor
        if inputs.target_rps is not None:
            instances = max(1, math.ceil(inputs.target_rps * (1 + inputs.headroom) / point.rps))
            if price is not None:
                fleet = instances * price
                per_million = fleet / (inputs.target_rps * 3600.0) * 1e6
    rec = Recommendation(
        sustainable_step=point.step if point else None,
        sustainable_users=point.users if point else None,
        sustainable_rps=point.rps if point else None,
        latency_p95_ms=point.latency_p95_ms if point else None,
        ttfp_p95_ms=finite(point.ttfp_p95_ms) if point else None,
        tokens_per_s=finite(point.tokens_per_s) if point else None,
        saturation_step=knee.step if knee else None,
        saturation_users=knee.users if knee else None,
        instances=instances,
        invocations_per_instance_per_minute=per_minute,
        price_per_hour=price,
        price_source=source,
        fleet_cost_per_hour=fleet,
        cost_per_million=per_million,
        text="",
        sustainable_valid=point.valid if point else None,
        saturation_valid=_health_of(pair) if pair else None,
        invalid_steps=tuple(s.step for s in steps if s.valid is False),
        at_least_rps=max(s.rps for s in steps) if steps and pair is None else None,
        price_missing=price_missing(inputs),
        note=closed_loop_note(steps),
    )
    return replace(rec, text=_sentence(rec, point, pair, inputs, steps))


def finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def closed_loop_note(steps: Sequence[StepStats]) -> str:
    """That closed-loop figures overstate open traffic, and the ``--rates`` run that brackets them."""
    best = max((s.rps for s in steps if math.isfinite(s.rps) and s.rps > 0), default=0.0)
    if best <= 0:
        return CLOSED_LOOP_NOTE + "."
    digits = 10.0 ** (math.floor(math.log10(best)) - 1)  # two significant figures, rounded up
    return f"{CLOSED_LOOP_NOTE} (e.g. --rates auto:{math.ceil(best / digits) * digits:.0f})."


def _sentence(
    rec: Recommendation,
    point: StepStats | None,
    pair: tuple[StepStats, StepStats] | None,
    inputs: PlanningInputs,
    steps: Sequence[StepStats],
) -> str:
    """The recommendation in plain language: what was measured, and what it rests on."""
    if not steps:
        return "No stepped data: run with --steps to plan capacity."
    if point is None:
        broken = "; ".join(steps[0].slo_failures) or "the SLO"
        parts = [
            f"No step met the SLO, not even the first ({_users(steps[0].users)}): {broken}. "
            "One instance cannot serve this SLO at this load."
        ]
        if steps[0].valid is False:
            parts.append(
                f"But step {steps[0].step} was INVALID ({step_reasons(steps[0])}): the load generator, not the "
                "endpoint, may have broken the SLO."
            )
        return " ".join(parts + health_notes(steps, {steps[0].step}) + [rec.note])
    who = f"One {inputs.instance_type}" if inputs.instance_type else "One instance"
    bound = point.step == steps[-1].step and pair is None  # still growing at the last step, within the SLO
    detail = f"p95 {point.latency_p95_ms:.0f} ms"
    if not math.isnan(point.ttfp_p95_ms):
        detail += f", time to first part p95 {point.ttfp_p95_ms:.0f} ms"
    if not math.isnan(point.tokens_per_s):
        detail += f", {point.tokens_per_s:.0f} tokens/s"
    rate = (
        f"at least {point.rps:.0f} req/s (the endpoint did not saturate)"
        if bound
        else f"{point.rps:.0f} req/s"
    )
    first = f"{who} sustains {rate} at {detail} ({_users(point.users, 'concurrent ')})"
    if inputs.slos:
        first += f" within the SLO {', '.join(s.expression for s in inputs.slos)}"
    parts = [first + "."]
    if pair is not None:
        knee = pair[0]
        parts.append(
            f"Throughput stops growing beyond {_users(knee.users, 'concurrent ')} ({knee.rps:.0f} req/s)."
        )
    elif not bound and rec.at_least_rps is not None:
        parts.append(
            f"No saturation up to the last step ({_users(steps[-1].users)}): the endpoint serves at least "
            f"{rec.at_least_rps:.0f} req/s (the endpoint did not saturate), beyond the SLO."
        )
    if bound:
        parts.append("Add steps with more users to find its limit.")
    parts += fleet_sentences(rec, inputs, bound)
    return " ".join(parts + _invalid_sentences(rec, point, pair, steps) + [rec.note])


def fleet_sentences(rec: Recommendation, inputs: PlanningInputs, bound: bool) -> list[str]:
    """Instances, their cost (or why it is missing) and the autoscaling target."""
    parts = []
    if rec.instances is not None and inputs.target_rps is not None:
        n = rec.instances
        fleet = (
            f"{'At most ' if bound else ''}{n} instance{'' if n == 1 else 's'} serve{'s' if n == 1 else ''} "
            f"{inputs.target_rps:.0f} req/s with {inputs.headroom:.0%} headroom"
        )
        if rec.fleet_cost_per_hour is not None and rec.cost_per_million is not None:
            fleet += (
                f" at ${rec.fleet_cost_per_hour:.2f}/h, ${rec.cost_per_million:.2f} per million inferences"
            )
        elif rec.price_missing is not None:
            fleet += f" (cost: {rec.price_missing})"
        parts.append(fleet + ".")
    elif rec.price_missing is not None:
        parts.append(f"Cost: {rec.price_missing}.")
    per_minute = rec.invocations_per_instance_per_minute or 0.0
    parts.append(
        f"Autoscaling target: SageMakerVariantInvocationsPerInstance = {per_minute:.0f} per minute "
        f"(safety factor {inputs.safety_factor:g})."
    )
    return parts


def _invalid_sentences(
    rec: Recommendation,
    point: StepStats,
    pair: tuple[StepStats, StepStats] | None,
    steps: Sequence[StepStats],
) -> list[str]:
    """What the SLO point and saturation rest on, when a step they rest on was invalid."""
    parts, noted = [], set()
    if point.valid is False:
        parts.append(
            f"The SLO point, step {point.step}, is INVALID ({step_reasons(point)}): its figures may be the load "
            "generator's, not the endpoint's."
        )
        noted.add(point.step)
    if pair is not None and rec.saturation_valid is False:
        bad = [s for s in pair if s.valid is False]
        fresh = [s for s in bad if s.step not in noted]
        named = "; ".join(f"step {s.step}: {step_reasons(s)}" for s in fresh)
        parts.append(
            f"Saturation rests on an INVALID step ({named or ', '.join(f'step {s.step}' for s in bad)}): the "
            "load generator, not the endpoint, may have stopped the growth."
        )
        noted.update(s.step for s in pair)
    return parts + health_notes(steps, noted)


def _users(n: int, kind: str = "") -> str:
    return f"{n} {kind}user{'' if n == 1 else 's'}"


def step_reasons(step: StepStats) -> str:
    return "; ".join(step.invalid_reasons) or "load generator not healthy"


def health_notes(steps: Sequence[StepStats], noted: set[int]) -> list[str]:
    """The invalid steps not named yet, or that the health was not recorded at all."""
    if all(s.valid is None for s in steps):
        return ["The load generator's health was not recorded per step (no health.csv): no step is checked."]
    others = [str(s.step) for s in steps if s.valid is False and s.step not in noted]
    if not others:
        return []
    return [
        f"Step{'s' if len(others) > 1 else ''} {', '.join(others)} INVALID: the load generator was not healthy."
    ]


def capacity_report(
    frame: pd.DataFrame,
    inputs: PlanningInputs,
    title: str = "",
    *,
    run_dir: Path | None = None,
    health: Timelines | None = None,
) -> CapacityReport:
    """The whole analysis. The load generator's samples come as ``health`` or from ``run_dir``'s
    ``health.csv`` (absent: the steps' health is not known); a rate-stepped run's steps as they ran
    from ``run_dir``'s ``rate_steps.csv`` unless ``inputs`` has them."""
    if health is None and run_dir is not None:
        health = read_health_csv(run_dir / HEALTH_CSV)
    if inputs.by_rate and not inputs.rate_steps and run_dir is not None:
        from bench.analysis.rateplan import read_rate_steps

        inputs = replace(inputs, rate_steps=read_rate_steps(run_dir))
    steps = planned_step_stats(frame, inputs, health)
    return CapacityReport(steps=steps, inputs=inputs, recommendation=recommend(steps, inputs), title=title)


def planned_step_stats(
    frame: pd.DataFrame, inputs: PlanningInputs, health: Timelines | None = None
) -> tuple[StepStats, ...]:
    """``step_stats`` with the run's plan: its SLOs, ramp and clock (the final report and the live lines);
    a rate-stepped run's by ``ratecapacity.rate_step_stats``."""
    if inputs.by_rate:
        from bench.analysis.ratecapacity import rate_step_stats

        return rate_step_stats(frame, inputs, health)
    return step_stats(
        frame,
        inputs.slos,
        inputs.ramp_s,
        started_s=inputs.started_s,
        step_duration_s=inputs.step_duration_s,
        health=health,
    )


def steps_table(steps: Sequence[StepStats]) -> pd.DataFrame:
    """``capacity.csv``: one row per step (a rate-stepped run's with its rate columns first)."""
    rows = []
    for s in steps:
        rate = (
            {
                "target_rate_per_s": s.target_rate_per_s,
                "achieved_rate_per_s": s.achieved_rate_per_s,
                "effective_latency_p50_ms": s.effective_latency_p50_ms,
                "effective_latency_p95_ms": s.effective_latency_p95_ms,
                "effective_latency_p99_ms": s.effective_latency_p99_ms,
                "late": s.late,
                "late_rate": s.late_rate,
                "passed": s.passed,
                "rate_failures": "; ".join(s.rate_failures),
            }
            if s.by_rate
            else {}
        )
        rows.append(
            {
                "step": s.step,
                **rate,
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
                "completed": s.completed,
                "valid": "" if s.valid is None else s.valid,
                "invalid_reasons": "; ".join(s.invalid_reasons),
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
        rates=spec.rates,
        auto=spec.auto,
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
