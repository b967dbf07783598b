"""Capacity planned by arrival rate (``--rates``): each rate step's statistics and the open-loop
recommendation (the plan itself, and the steps as they ran, are ``bench.analysis.rateplan``'s).

Pure: a function of ``requests.csv``, the steps as they ran (``rate_steps.csv``: each step's target rate
and when it began), the load generator's health and the planning inputs. ``bench.analysis.capacity``
hands rate-stepped runs here. Definitions (what the report and README say, exactly):

- A step's window starts ``ramp_s`` after the step began (the time its rate was set) and ends
  ``step_duration_s`` after it began (excluded); the step's requests are those *intended* to start in
  it (``timestamp_s - schedule_lag_ms``), whatever their status. Between a step's end and the next
  step's start (the moment it took to judge it) the old rate goes on; those requests belong to no step.
- ``achieved_rate_per_s``: the rate the step's requests were actually sent at, ``(n - 1) / (last send
  - first send)`` (``bench.analysis.openloop.achieved_rate_per_s``, as in ``summary.csv``).
  ``rps``: completions in the window (any request) / the window up to its last completion.
- Effective latency (``effective_latency_ms``: end minus intended send, what a caller on an open
  schedule sees) and service latency (``latency_ms``: end minus actual send) percentiles are over the
  step's successful requests. ``late``: requests sent more than ``LATE_LAG_MS`` (1 ms) after their
  intended time; ``late_rate`` = late / requests.
- SLOs are judged on the step's requests, an SLO on ``latency`` on the **effective** latency (the
  latency the open schedule's callers get; ``effective_latency`` SLOs work as written).
- **A step fails** when any of: an SLO fails; the achieved rate is below ``ACHIEVED_RATE_MIN`` (95%)
  of the target by more than the counting noise of its n Poisson arrivals (achieved < target x
  (0.95 - 3 / sqrt(n))); more than ``LATE_RATE_LIMIT`` (1%) of its requests were late while the users
  could not keep up: fewer users than Little's law asks for at the achieved rate and the mean service
  latency (``bench.analysis.openloop.users_advised``). A step with no request fails. Late requests
  beyond 1% with users enough are the load generator's (a busy event loop or CPU, not the endpoint):
  the step is INVALID, as for the generator's health, but not failed (its effective latencies include
  the lag, so an SLO met is met despite it).
- The sustainable arrival rate per instance: the highest target rate whose step passed. When no
  higher rate failed, it is a lower bound ("at least"). Instances for ``target_rps`` and the
  ``SageMakerVariantInvocationsPerInstance`` target (rate x 60 x safety factor) are based on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from bench.analysis.capacity import (
    PlanningInputs,
    RateStep,
    Recommendation,
    StepStats,
    finite,
    fleet_sentences,
    health_notes,
    instance_price,
    price_missing,
    step_reasons,
)
from bench.analysis.gates import evaluate_gates
from bench.analysis.openloop import achieved_rate_per_s, in_flight, is_late, too_late, users_advised
from bench.analysis.rateplan import planned_rate_steps
from bench.analysis.summary import percentile
from bench.collect.health import Timelines, assess_window
from bench.config import LATE_LAG_MS, LATE_RATE_LIMIT
from bench.gatespec import GateSpec

Floats = npt.NDArray[np.float64]
ACHIEVED_RATE_MIN = 0.95
POISSON_SIGMAS = 3.0
OPEN_LOOP_NOTE = (
    "Open loop: requests were sent on an arrival schedule (--rates), whether or not earlier ones had "
    "completed; an SLO on latency is judged on the effective latency (end minus intended send time: what "
    "a caller on an open schedule sees)."
)


# ---- step statistics -----------------------------------------------------------------------------------


def rate_step_stats(
    frame: pd.DataFrame, inputs: PlanningInputs, health: Timelines | None = None
) -> tuple[StepStats, ...]:
    """Statistics of every step of a rate-stepped run (the module docstring's definitions); a step
    without a request in its window is left out. The rows of any steps suffice: each step takes the
    requests intended in its own window (the live line passes the rows written since the last one)."""
    steps = planned_rate_steps(inputs)
    if frame.empty or not steps or inputs.step_duration_s is None:
        return ()
    lag = _column(frame, "schedule_lag_ms", 0.0)
    # to the microsecond, as requests.csv keeps timestamps: a request intended as the step began is in it
    intended = np.round(frame["timestamp_s"].to_numpy(dtype=np.float64) - lag / 1000.0, 6)
    ends = frame["end_s"].to_numpy(dtype=np.float64)
    out = []
    for planned in steps:
        start = round(planned.started_s + inputs.ramp_s, 6)
        planned_end = round(planned.started_s + inputs.step_duration_s, 6)
        window = frame[(intended >= start) & (intended < planned_end)]
        if window.empty:
            continue
        done = (ends >= start) & (ends <= planned_end)
        stats = _one_rate_step(planned, window, ends[done], start, inputs)
        if health is not None:
            verdict = assess_window(health, stats.start_s, stats.end_s)
            if verdict.samples:
                valid = verdict.valid and stats.valid is not False
                stats = replace(
                    stats, valid=valid, invalid_reasons=(*verdict.reasons, *stats.invalid_reasons)
                )
        out.append(stats)
    return tuple(out)


def _column(frame: pd.DataFrame, name: str, default: float) -> Floats:
    """A numeric column with missing cells (or a missing column: an older file) as ``default``."""
    if name not in frame.columns:
        return np.full(len(frame), default)
    values: Floats = np.nan_to_num(frame[name].to_numpy(dtype=np.float64), nan=default)
    return values


def _one_rate_step(
    planned: RateStep, window: pd.DataFrame, done_ends: Floats, start: float, inputs: PlanningInputs
) -> StepStats:
    """``window``: the step's requests (intended in its window); ``done_ends``: the completion times of
    every request that completed in it."""
    end = float(done_ends.max()) if done_ends.size else start
    length = end - start
    count = len(window)
    ok = window["status"] == "ok"
    service = window["latency_ms"]
    effective = (
        window["effective_latency_ms"].fillna(service)
        if "effective_latency_ms" in window.columns
        else service
    )
    late = int(is_late(_column(window, "schedule_lag_ms", 0.0)).sum())
    achieved = achieved_rate_per_s(window["timestamp_s"].to_numpy(dtype=np.float64))
    rps = done_ends.size / length if length > 0 else 0.0
    errors = int((window["status"] == "error").sum())
    users = int(window["users"].mode().iloc[0]) if window["users"].notna().any() else 0
    judged = window.assign(latency_ms=effective)  # an SLO on latency: the effective latency
    results = evaluate_gates(judged, inputs.slos) if inputs.slos else []
    tokens = window["tokens"].dropna() if "tokens" in window.columns else pd.Series(dtype=float)
    sending = achieved if math.isfinite(achieved) else rps
    busy = in_flight(sending, float(service.mean()))
    late_rate = late / count
    needed = users_advised(sending, float(service.mean())) if math.isfinite(busy) else 0
    short = needed > users  # Little's law: the users could not keep up
    generator = too_late(late_rate) and not short
    return StepStats(
        step=planned.step,
        users=users,
        start_s=start,
        end_s=end,
        count=count,
        errors=errors,
        error_rate=errors / count,
        rps=rps,
        latency_mean_ms=float(service[ok].mean()) if ok.any() else math.nan,
        latency_p50_ms=percentile(service[ok], 50),
        latency_p95_ms=percentile(service[ok], 95),
        latency_p99_ms=percentile(service[ok], 99),
        ttfp_p50_ms=percentile(window["ttfp_ms"], 50),
        ttfp_p95_ms=percentile(window["ttfp_ms"], 95),
        ttfp_p99_ms=percentile(window["ttfp_ms"], 99),
        tokens_per_s=float(tokens.sum()) / length if len(tokens) and length > 0 else math.nan,
        in_flight_mean=busy,
        littles_law_ratio=busy / users if users else math.nan,
        slo_ok=all(r.passed for r in results),
        slo_failures=tuple(f"{r.gate.expression} ({r.observed_text()})" for r in results if not r.passed),
        completed=int(done_ends.size),
        target_rate_per_s=planned.target_rate_per_s,
        achieved_rate_per_s=achieved,
        effective_latency_p50_ms=percentile(effective[ok], 50),
        effective_latency_p95_ms=percentile(effective[ok], 95),
        effective_latency_p99_ms=percentile(effective[ok], 99),
        late=late,
        late_rate=late_rate,
        rate_failures=rate_failures(
            planned.target_rate_per_s, achieved, count, late_rate if short else 0.0, users_needed=needed
        ),
        valid=False if generator else None,
        invalid_reasons=(
            (
                f"load generator behind its schedule: {late_rate:.1%} sent over {LATE_LAG_MS:g} ms late, "
                f"with {users} users ({needed} enough)",
            )
            if generator
            else ()
        ),
    )


def achieved_floor(target_rate_per_s: float, requests: int) -> float:
    """The lowest achieved rate that sustains ``target_rate_per_s`` over ``requests`` Poisson arrivals:
    95% of the target less three standard deviations of their counting noise."""
    return target_rate_per_s * (ACHIEVED_RATE_MIN - POISSON_SIGMAS / math.sqrt(max(requests, 1)))


def rate_failures(
    target_rate_per_s: float, achieved: float, requests: int, late_rate: float, *, users_needed: int = 0
) -> tuple[str, ...]:
    """Why a step did not sustain its target rate, beyond its SLOs (the module docstring's rule):
    ``late_rate`` is of the lateness the users could not keep up with (0 when they were enough)."""
    if requests == 0:
        return ("no request was sent",)
    reasons = []
    if math.isnan(achieved) or achieved < achieved_floor(target_rate_per_s, requests):
        share = f", {achieved / target_rate_per_s:.0%} of the target" if math.isfinite(achieved) else ""
        reasons.append(
            f"achieved {_measured(achieved)} req/s{share} (below {ACHIEVED_RATE_MIN:.0%} beyond Poisson noise)"
        )
    if too_late(late_rate):
        need = f", about {users_needed} needed" if users_needed else ""
        reasons.append(
            f"{late_rate:.1%} of requests sent over {LATE_LAG_MS:g} ms late (more than {LATE_RATE_LIMIT:.0%}): "
            f"the users could not keep up{need}"
        )
    return tuple(reasons)


def _measured(rate: float) -> str:
    return "?" if not math.isfinite(rate) else f"{rate:.0f}" if rate >= 10 else f"{rate:.2g}"


def rate_text(value: float | None) -> str:
    """A rate as the plan and the lines write it: 760, 15.6, 937.5."""
    if value is None or not math.isfinite(value):
        return "?"
    if value >= 1000 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.3g}" if value < 100 else f"{value:.1f}"


def rate_step_line(stats: StepStats, *, total: str, slos: Sequence[GateSpec] = ()) -> str:
    """The live line of a rate step just ended (``bench: step 3/7: 650 req/s target, ...``)."""
    s = stats
    verdict = "" if not slos else (", SLO ok" if s.slo_ok else f", SLO broken: {'; '.join(s.slo_failures)}")
    if s.rate_failures:
        verdict += f", NOT SUSTAINED: {'; '.join(s.rate_failures)}"
    if s.valid is False:
        verdict += f", INVALID: {'; '.join(s.invalid_reasons)}"
    return (
        f"bench: step {s.step}/{total}: {rate_text(s.target_rate_per_s)} req/s target, achieved "
        f"{s.achieved_rate_per_s:.1f} req/s, p95 effective {s.effective_latency_p95_ms:.1f} ms "
        f"(service {s.latency_p95_ms:.1f} ms), late {s.late_rate:.1%}, errors {s.error_rate:.1%}{verdict}"
    )


# ---- the recommendation ----------------------------------------------------------------------------------


def sustainable_rate(steps: Sequence[StepStats]) -> StepStats | None:
    """The passing step with the highest target rate."""
    passing = [s for s in steps if s.passed and s.target_rate_per_s is not None]
    return max(passing, key=lambda s: s.target_rate_per_s or 0.0) if passing else None


def lowest_failing(steps: Sequence[StepStats], above: float) -> StepStats | None:
    failing = [s for s in steps if not s.passed and (s.target_rate_per_s or 0.0) > above]
    return min(failing, key=lambda s: s.target_rate_per_s or 0.0) if failing else None


def recommend_by_rate(steps: Sequence[StepStats], inputs: PlanningInputs) -> Recommendation:
    point = sustainable_rate(steps)
    rate = point.target_rate_per_s if point is not None else None
    failing = lowest_failing(steps, rate or 0.0)
    price, source = instance_price(inputs)
    instances = per_minute = fleet = per_million = None
    if rate is not None and rate > 0:
        per_minute = rate * 60.0 * inputs.safety_factor
        if inputs.target_rps is not None:
            instances = max(1, math.ceil(inputs.target_rps * (1 + inputs.headroom) / rate))
            if price is not None:
                fleet = instances * price
                per_million = fleet / (inputs.target_rps * 3600.0) * 1e6
    tried = [s.target_rate_per_s for s in steps if s.target_rate_per_s is not None]
    bound = point is not None and failing is None
    rec = Recommendation(
        sustainable_step=point.step if point else None,
        sustainable_users=point.users if point else None,
        sustainable_rps=rate,
        latency_p95_ms=finite(point.effective_latency_p95_ms) if point else None,
        ttfp_p95_ms=finite(point.ttfp_p95_ms) if point else None,
        tokens_per_s=finite(point.tokens_per_s) if point else None,
        saturation_step=None,
        saturation_users=None,
        instances=instances,
        invocations_per_instance_per_minute=per_minute,
        price_per_hour=price,
        price_source=source,
        fleet_cost_per_hour=fleet,
        cost_per_million=per_million,
        text="",
        sustainable_valid=point.valid if point else None,
        invalid_steps=tuple(s.step for s in steps if s.valid is False),
        at_least_rps=max(tried) if bound and tried else None,
        price_missing=price_missing(inputs),
        loop="open",
        note=OPEN_LOOP_NOTE,
        achieved_rate_per_s=finite(point.achieved_rate_per_s) if point else None,
        service_latency_p95_ms=finite(point.latency_p95_ms) if point else None,
        late_rate=finite(point.late_rate) if point else None,
        failing_step=failing.step if failing else None,
        failing_rate_per_s=failing.target_rate_per_s if failing else None,
        failing_reasons=failing_reasons(failing) if failing else (),
    )
    return replace(rec, text=_sentence(rec, point, failing, inputs, steps))


def failing_reasons(step: StepStats) -> tuple[str, ...]:
    return (*step.slo_failures, *step.rate_failures)


def _sentence(
    rec: Recommendation,
    point: StepStats | None,
    failing: StepStats | None,
    inputs: PlanningInputs,
    steps: Sequence[StepStats],
) -> str:
    if not steps:
        return "No rate-stepped data: run with --rates to plan capacity."
    slos = f" within the SLO {', '.join(s.expression for s in inputs.slos)}" if inputs.slos else ""
    if point is None:
        lowest = min(steps, key=lambda s: s.target_rate_per_s or 0.0)
        broken = "; ".join(failing_reasons(lowest)) or "the SLO"
        parts = [
            f"No arrival rate was sustained{slos}, not even the lowest ({rate_text(lowest.target_rate_per_s)} "
            f"req/s): {broken}. One instance cannot serve this SLO at that rate."
        ]
        if lowest.valid is False:
            parts.append(
                f"But step {lowest.step} was INVALID ({step_reasons(lowest)}): the load generator, not the "
                "endpoint, may have failed it."
            )
        return " ".join(parts + health_notes(steps, {lowest.step}))
    who = f"One {inputs.instance_type}" if inputs.instance_type else "One instance"
    bound = failing is None
    rate = f"at least {rate_text(point.target_rate_per_s)}" if bound else rate_text(point.target_rate_per_s)
    detail = (
        f"effective latency p95 {point.effective_latency_p95_ms:.0f} ms (service p95 "
        f"{point.latency_p95_ms:.0f} ms; achieved {point.achieved_rate_per_s:.0f} req/s, "
        f"{point.late_rate:.1%} late, {point.users} users available to send)"
    )
    if not math.isnan(point.ttfp_p95_ms):
        detail += f", time to first part p95 {point.ttfp_p95_ms:.0f} ms"
    parts = [f"{who} sustains {rate} req/s of open-loop arrivals at {detail}{slos}."]
    if inputs.slos and any(s.metric == "latency" for s in inputs.slos):
        parts.append("Latency SLOs are judged on the effective latency (from the intended send time).")
    if failing is not None:
        parts.append(
            f"{rate_text(failing.target_rate_per_s)} req/s was not: {'; '.join(failing_reasons(failing))}."
        )
    elif inputs.auto and inputs.rates and point.target_rate_per_s == max(inputs.rates):
        parts.append(
            f"Every rate up to the bound passed: raise it (--rates auto:{rate_text(2 * max(inputs.rates))})."
        )
    else:
        parts.append("Every rate tried passed: add higher rates to find its limit.")
    below = [
        s for s in steps if not s.passed and (s.target_rate_per_s or 0.0) < (point.target_rate_per_s or 0.0)
    ]
    if below:
        named = "; ".join(
            f"{rate_text(s.target_rate_per_s)} req/s: {'; '.join(failing_reasons(s))}" for s in below
        )
        parts.append(
            f"A lower rate failed too ({named}): the measurement is noisy; repeat it, with longer steps or "
            "a load generator on cores of its own."
        )
    parts += fleet_sentences(rec, inputs, bound)
    noted = set()
    if point.valid is False:
        parts.append(
            f"The sustainable rate's step {point.step} is INVALID ({step_reasons(point)}): its figures may be "
            "the load generator's, not the endpoint's."
        )
        noted.add(point.step)
    return " ".join(parts + health_notes(steps, noted))
