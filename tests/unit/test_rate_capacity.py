"""Capacity planned by arrival rate (``--rates``): the plan (doubling, bisecting, bounds), each rate step's
statistics and verdict on hand-built open-loop records, and the open-loop recommendation."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.analysis.capacity import (
    PlanningInputs,
    RateStep,
    StepStats,
    capacity_report,
    planning_from_run_config,
    planning_inputs,
    recommend,
    step_line,
    steps_table,
)
from bench.analysis.ratecapacity import OPEN_LOOP_NOTE, achieved_floor, rate_failures
from bench.analysis.rateplan import RATE_STEPS_CSV, RatePlan, read_rate_steps, write_rate_steps
from bench.config import AUTO_RATE_BISECTIONS, CapacitySpec, parse_rates
from bench.gatespec import parse_gates
from bench.report.capacityfiles import write_capacity_files

# ---- the plan ------------------------------------------------------------------------------------------


def _run(plan: RatePlan, verdict: Callable[[float], bool]) -> list[float]:
    """The rates a run takes, each step judged by ``verdict(rate)``."""
    rates = [plan.first()]
    while (rate := plan.next(bool(verdict(rates[-1])))) is not None:
        rates.append(rate)
        assert len(rates) <= plan.most_steps
    return rates


def test_a_fixed_plan_runs_every_rate_whatever_the_verdicts() -> None:
    assert _run(RatePlan((100, 200, 400)), lambda rate: rate < 150) == [100, 200, 400]
    assert RatePlan((100, 200, 400)).most_steps == 3


def test_auto_doubles_until_a_step_fails_then_bisects_at_most_four_times() -> None:
    rates, auto = parse_rates("auto:1024")
    assert auto
    assert rates == (16, 32, 64, 128, 256, 512, 1024)
    taken = _run(RatePlan(rates, auto=True), lambda rate: rate <= 760)  # the endpoint holds 760 req/s
    assert taken[:7] == [16, 32, 64, 128, 256, 512, 1024]  # 1024 fails: bisect 512 .. 1024
    assert taken[7:] == [768, 640, 704, 736]  # 768 fails, 640 passes, 704 passes, 736 passes
    assert len(taken) == len(rates) + AUTO_RATE_BISECTIONS
    passing = [r for r in taken if r <= 760]
    assert max(passing) == 736  # within 32 req/s (MAX / 32) of the true 760


def test_auto_stops_at_the_first_failure_when_nothing_passed_and_at_max_when_all_passed() -> None:
    rates, _ = parse_rates("auto:640")
    assert _run(RatePlan(rates, auto=True), lambda rate: False) == [10]
    assert _run(RatePlan(rates, auto=True), lambda rate: True) == list(rates)


def test_auto_bisection_stops_early_once_the_bracket_is_within_the_tolerance() -> None:
    plan = RatePlan((100, 200), auto=True, bisections=10, tolerance=0.05)
    taken = _run(plan, lambda rate: rate <= 150)
    # 200 fails: 150 (pass), 175, 162.5, 156.25, 153.125 (fail each), bracket 150 .. 153.1 (2%)
    assert taken == [100, 200, 150, 175, 162.5, 156.25]
    assert (156.25 - 150) <= 0.05 * 150 < (162.5 - 150)
    with pytest.raises(ValueError, match="at least one rate"):
        RatePlan(())


# ---- open-loop records of known figures ------------------------------------------------------------------

T0, STEP_S, RAMP_S = 1000.0, 10.0, 2.0
SLO = parse_gates(("p95(latency)<12ms",))


def _step_rows(
    began: float,
    rate: float,
    *,
    users: int = 100,
    latency_ms: float = 10.0,
    lag_every: int = 0,
    lag_ms: float = 0.0,
    errors_every: int = 0,
) -> list[dict[str, object]]:
    """Constant arrivals at ``rate`` for the step's ``STEP_S`` seconds; every ``lag_every``-th request is
    sent ``lag_ms`` late (its effective latency grows by as much)."""
    rows: list[dict[str, object]] = []
    for k in range(int(rate * STEP_S)):
        intended = began + k / rate
        lag = lag_ms if lag_every and k % lag_every == 0 else 0.0
        sent = intended + lag / 1000
        failed = bool(errors_every) and k % errors_every == 0
        rows.append(
            {
                "timestamp_s": sent, "end_s": sent + latency_ms / 1000, "step": np.nan, "users": float(users),
                "status": "error" if failed else "ok", "latency_ms": latency_ms, "ttfp_ms": np.nan,
                "tokens": np.nan, "schedule_lag_ms": lag, "effective_latency_ms": latency_ms + lag,
                "request_type": "invoke", "name": "ep", "variant": "v",
            }
        )  # fmt: skip
    return rows


STEPS_RUN = (
    RateStep(1, 100.0, T0),
    RateStep(2, 200.0, T0 + 10.5),  # 0.5 s judging step 1: the old rate, in no window
    RateStep(3, 400.0, T0 + 21.0),
    RateStep(4, 800.0, T0 + 31.5),
)


def _open_loop() -> pd.DataFrame:
    rows = _step_rows(T0, 100.0)  # sustained: on time, 10 ms
    rows += _step_rows(T0 + 10.0, 100.0)[:50]  # the half second step 1 was judged: still 100 req/s
    rows += _step_rows(
        T0 + 10.5, 200.0, lag_every=50, lag_ms=1.5
    )  # 2% a little late, 100 users: the generator's
    rows += _step_rows(T0 + 21.0, 400.0, users=4, lag_every=2, lag_ms=5.0)  # half 5 ms late: 4 users too few
    rows += _step_rows(T0 + 31.5, 600.0)  # asked for 800, sent at 600
    return pd.DataFrame(rows)


def _inputs(**changes: object) -> PlanningInputs:
    values: dict[str, object] = {
        "slos": SLO,
        "target_rps": 2000.0,
        "instance_type": "ml.g5.xlarge",
        "ramp_s": RAMP_S,
        "step_duration_s": STEP_S,
        "started_s": T0,
        "rates": (100.0, 200.0, 400.0, 800.0),
        "rate_steps": STEPS_RUN,
    }
    return PlanningInputs(**{**values, **changes})  # type: ignore[arg-type]


def _by_step(steps: tuple[StepStats, ...]) -> dict[int, StepStats]:
    return {s.step: s for s in steps}


def test_rate_step_statistics_by_hand() -> None:
    report = capacity_report(_open_loop(), _inputs())
    steps = _by_step(report.steps)
    assert sorted(steps) == [1, 2, 3, 4]
    one = steps[1]  # the window: intended in [1002, 1010]: 800 requests at 100 req/s
    assert (one.target_rate_per_s, one.count, one.users) == (100.0, 800, 100)
    assert one.achieved_rate_per_s == pytest.approx(100.0)
    assert one.rps == pytest.approx(100.0, rel=0.01)
    assert one.effective_latency_p95_ms == pytest.approx(10.0)
    assert (one.late, one.late_rate) == (0, 0.0)
    assert one.passed
    assert one.rate_failures == ()
    assert one.valid is None
    assert one.in_flight_mean == pytest.approx(1.0)  # 100 req/s x 10 ms

    two = steps[2]  # 1600 requests, every 50th 1.5 ms late: 2% late, yet 100 users were plenty
    assert two.count == 1600
    assert two.late == 32
    assert two.late_rate == pytest.approx(0.02)
    assert two.effective_latency_p95_ms == pytest.approx(10.0)
    assert two.passed  # the generator fell behind, not the endpoint: not failed ...
    assert two.valid is False  # ... but INVALID, as an unhealthy generator is
    assert two.invalid_reasons[0].startswith("load generator behind its schedule: 2.0% sent over 1 ms late")

    three = steps[3]  # half the requests 5 ms late with 4 users: the users could not keep up
    assert three.latency_p95_ms == pytest.approx(10.0)  # the service latency meets the SLO ...
    assert three.effective_latency_p95_ms == pytest.approx(15.0)  # ... the effective latency does not
    assert not three.slo_ok
    assert three.slo_failures == ("p95(latency)<12ms (15.00 ms)",)
    assert three.late_rate == pytest.approx(0.5)
    assert len(three.rate_failures) == 1
    assert (
        "50.0% of requests sent over 1 ms late (more than 1%): the users could not keep up, about 11 needed"
        in (three.rate_failures[0])
    )

    four = steps[4]  # asked for 800 req/s, sent at 600
    assert four.achieved_rate_per_s == pytest.approx(600.0)
    assert four.slo_ok
    assert not four.passed
    assert four.rate_failures == ("achieved 600 req/s, 75% of the target (below 95% beyond Poisson noise)",)


def test_the_achieved_rule_allows_poisson_noise_and_nothing_more() -> None:
    assert achieved_floor(800.0, 4800) == pytest.approx(800 * (0.95 - 3 / math.sqrt(4800)))
    assert rate_failures(800.0, 730.0, 4800, 0.0) == ()  # 91%: within the noise of 4800 arrivals
    assert rate_failures(800.0, 720.0, 4800, 0.0) != ()
    assert rate_failures(10.0, 7.0, 100, 0.0) == ()  # 100 arrivals: 3 sigma is 30%
    assert rate_failures(10.0, math.nan, 1, 0.0) != ()
    assert rate_failures(100.0, 100.0, 0, 0.0) == ("no request was sent",)
    assert rate_failures(100.0, 100.0, 1000, 0.011, users_needed=150)[0].startswith("1.1% of requests")
    assert rate_failures(100.0, 100.0, 1000, 0.010) == ()  # at most 1%: on time


def test_the_open_loop_recommendation_by_hand() -> None:
    rec = capacity_report(_open_loop(), _inputs()).recommendation
    assert rec.loop == "open"
    assert rec.note == OPEN_LOOP_NOTE
    assert (rec.sustainable_step, rec.sustainable_rps) == (2, 200.0)  # the highest passing rate
    assert rec.latency_p95_ms == pytest.approx(10.0)  # its effective latency p95
    assert rec.achieved_rate_per_s == pytest.approx(200.0, rel=1e-3)
    assert (rec.failing_step, rec.failing_rate_per_s) == (3, 400.0)  # the lowest failing above it
    assert rec.instances == math.ceil(2000 * 1.3 / 200) == 13
    assert rec.invocations_per_instance_per_minute == pytest.approx(200 * 60 * 0.5)  # 6000
    assert rec.saturation_step is None
    assert rec.at_least_rps is None
    text = rec.text
    assert text.startswith(
        "One ml.g5.xlarge sustains 200 req/s of open-loop arrivals at effective latency p95 10 ms (service "
        "p95 10 ms; achieved 200 req/s, 2.0% late, 100 users available to send) within the SLO "
        "p95(latency)<12ms. Latency SLOs are judged on the effective latency (from the intended send time). "
        "400 req/s was not: p95(latency)<12ms (15.00 ms); 50.0% of requests sent over 1 ms late"
    )
    assert "13 instances serve 2000 req/s with 30% headroom at $18.30/h" in text
    assert "SageMakerVariantInvocationsPerInstance = 6000 per minute (safety factor 0.5)" in text
    assert "The sustainable rate's step 2 is INVALID (load generator behind its schedule" in text
    assert "Closed loop" not in text


def test_every_rate_passing_is_a_lower_bound_and_auto_says_raise_the_bound() -> None:
    frame = _open_loop()
    two_steps = _inputs(rate_steps=STEPS_RUN[:2], rates=(100.0, 200.0))
    rec = capacity_report(frame, two_steps).recommendation
    assert rec.at_least_rps == 200.0
    assert "sustains at least 200 req/s of open-loop arrivals" in rec.text
    assert "Every rate tried passed: add higher rates to find its limit." in rec.text
    assert "At most 13 instances serve 2000 req/s" in rec.text
    auto = capacity_report(frame, dataclasses.replace(two_steps, auto=True)).recommendation
    assert "Every rate up to the bound passed: raise it (--rates auto:400)." in auto.text


def test_no_rate_sustained() -> None:
    rec = capacity_report(_open_loop(), _inputs(rate_steps=STEPS_RUN[2:])).recommendation
    assert rec.sustainable_rps is None
    assert rec.instances is None
    assert rec.text.startswith(
        "No arrival rate was sustained within the SLO p95(latency)<12ms, not even the lowest (400 req/s): "
        "p95(latency)<12ms (15.00 ms); 50.0% of requests sent over 1 ms late"
    )


def test_the_live_line_of_a_rate_step() -> None:
    steps = _by_step(capacity_report(_open_loop(), _inputs()).steps)
    assert step_line(steps[1], total="4", slos=SLO) == (
        "bench: step 1/4: 100 req/s target, achieved 100.0 req/s, p95 effective 10.0 ms (service 10.0 ms), "
        "late 0.0%, errors 0.0%, SLO ok"
    )
    four = step_line(steps[4], total="?", slos=SLO)
    assert four.endswith(
        "SLO ok, NOT SUSTAINED: achieved 600 req/s, 75% of the target (below 95% beyond Poisson noise)"
    )
    # the rows written by a step's end are the live line's: the same figures for a step on time
    frame = _open_loop()
    live = frame[frame["end_s"] <= T0 + STEP_S + 0.2]
    (first,) = capacity_report(live, _inputs(rate_steps=STEPS_RUN[:1])).steps
    same = ("count", "achieved_rate_per_s", "rps", "effective_latency_p95_ms", "late_rate", "rate_failures")
    assert [getattr(first, f) for f in same] == [getattr(steps[1], f) for f in same]


def test_the_steps_as_run_come_from_rate_steps_csv_and_reach_every_file(tmp_path: Path) -> None:
    write_rate_steps(tmp_path, STEPS_RUN)
    assert read_rate_steps(tmp_path) == STEPS_RUN
    assert (tmp_path / RATE_STEPS_CSV).read_text().splitlines()[0] == "step,target_rate_per_s,started_s"
    report = capacity_report(_open_loop(), _inputs(rate_steps=()), run_dir=tmp_path)
    assert report.inputs.rate_steps == STEPS_RUN
    assert report.recommendation.sustainable_rps == 200.0
    write_capacity_files(tmp_path, report, endpoint="ep")
    document = json.loads((tmp_path / "capacity.json").read_text())
    assert document["loop"] == "open"
    assert document["note"] == OPEN_LOOP_NOTE
    assert "judged on the effective latency" in document["note"]
    assert [s["target_rate_per_s"] for s in document["steps"]] == [100.0, 200.0, 400.0, 800.0]
    assert document["recommendation"]["failing_rate_per_s"] == 400.0
    header = (tmp_path / "capacity.csv").read_text().splitlines()[0].split(",")
    assert header[:10] == [
        "step", "target_rate_per_s", "achieved_rate_per_s", "effective_latency_p50_ms",
        "effective_latency_p95_ms", "effective_latency_p99_ms", "late", "late_rate", "passed", "rate_failures",
    ]  # fmt: skip
    assert "Effective latency vs arrival rate" in (tmp_path / "report.html").read_text()
    (tmp_path / RATE_STEPS_CSV).write_text("nonsense\n1\n")
    with pytest.raises(ValueError, match=r"rate_steps\.csv"):
        read_rate_steps(tmp_path)


def test_without_rate_steps_csv_the_plan_is_read_on_the_runs_clock() -> None:
    """An auto run stopped before its first step was recorded: the rates in order, a step a step-duration."""
    frame = pd.DataFrame(_step_rows(T0, 100.0) + _step_rows(T0 + STEP_S, 200.0))
    steps = capacity_report(frame, _inputs(rate_steps=(), rates=(100.0, 200.0))).steps
    assert [(s.step, s.target_rate_per_s, s.count) for s in steps] == [(1, 100.0, 800), (2, 200.0, 1600)]


def test_rate_planning_inputs_from_the_spec_and_run_json() -> None:
    spec = CapacitySpec(steps=(), rates=(100.0, 200.0), auto=False, slos=SLO, step_duration_s=5.0, ramp_s=1.0)
    inputs = planning_inputs(spec, 7.0)
    assert inputs.by_rate
    assert inputs.rates == (100.0, 200.0)
    assert inputs.started_s == 7.0
    stored = planning_from_run_config(
        {"capacity": {"steps": [], "rates": [100.0, 200.0], "auto": True, "slos": ["p95(latency)<12ms"],
                      "step_duration_s": 5.0, "ramp_s": 1.0}},
        7.0,
    )  # fmt: skip
    assert stored is not None
    assert stored.by_rate
    assert stored.auto
    assert stored.rates == (100.0, 200.0)
    assert not planning_inputs(dataclasses.replace(spec, rates=(), steps=(1, 2))).by_rate


def test_closed_and_open_steps_tables_differ_only_by_the_rate_columns() -> None:
    steps = capacity_report(_open_loop(), _inputs()).steps
    table = steps_table(steps)
    assert table["passed"].tolist() == [True, True, False, False]
    assert table["late"].tolist() == [0, 32, 1600, 0]
    assert list(table.columns[10:12]) == ["users", "count"]
    closed = recommend((), PlanningInputs())
    assert closed.loop == "closed"


def test_a_lower_rate_failing_below_the_sustainable_one_says_the_measurement_is_noisy() -> None:
    steps = _by_step(capacity_report(_open_loop(), _inputs()).steps)
    noisy = dataclasses.replace(steps[1], slo_ok=False, slo_failures=("p95(latency)<12ms (13.00 ms)",))
    rec = recommend((noisy, steps[2], steps[3]), _inputs())
    assert rec.sustainable_rps == 200.0  # the highest passing rate, whatever failed below it
    assert (
        "A lower rate failed too (100 req/s: p95(latency)<12ms (13.00 ms)): the measurement is noisy; repeat "
        "it, with longer steps or a load generator on cores of its own." in rec.text
    )
    assert "lower rate" not in recommend((steps[1], steps[2], steps[3]), _inputs()).text
