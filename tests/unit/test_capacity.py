"""Capacity arithmetic on hand-computed cases, and per-step statistics from records."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.analysis.capacity import (
    INSTANCE_PRICES_USD_PER_HOUR,
    PlanningInputs,
    StepStats,
    capacity_report,
    planning_from_run_config,
    recommend,
    saturation,
    step_line,
    step_stats,
    steps_table,
    sustainable,
)
from bench.collect.health import HealthSample
from bench.config import parse_steps
from bench.errors import ConfigError
from bench.gatespec import parse_gates
from bench.report.capacityfiles import write_capacity_files
from bench.report.healthfiles import write_health_samples


def _step(step: int, users: int, rps: float, p50: float, p95: float, ok: bool = True) -> StepStats:
    nan = float("nan")
    return StepStats(
        step,
        users,
        0,
        1,
        100,
        0,
        0.0,
        rps,
        p50,
        p50,
        p95,
        p95,
        nan,
        nan,
        nan,
        nan,
        users,
        1.0,
        ok,
        () if ok else ("p95(latency)<30ms",),
    )


STEPS = (
    _step(1, 1, 45, 22, 23),
    _step(2, 2, 90, 22, 24),
    _step(3, 4, 182, 22, 26),
    _step(4, 8, 199, 40, 41, ok=False),
    _step(5, 16, 198, 80, 81, ok=False),
)


def test_sustainable_point_and_saturation() -> None:
    point = sustainable(STEPS)
    knee = saturation(STEPS)
    assert point is not None
    assert knee is not None
    assert (point.users, point.rps) == (4, 182)
    assert knee.users == 8  # 8 -> 16 users: +0% throughput while p50 rose


def test_fleet_autoscaling_and_cost_by_hand() -> None:
    inputs = PlanningInputs(
        slos=parse_gates(("p95(latency)<30ms",)),
        target_rps=800,
        headroom=0.30,
        safety_factor=0.5,
        instance_type="ml.g5.xlarge",
    )
    rec = recommend(STEPS, inputs)
    assert rec.instances == math.ceil(800 * 1.3 / 182) == 6
    assert rec.invocations_per_instance_per_minute == pytest.approx(182 * 60 * 0.5)  # 5460
    price = INSTANCE_PRICES_USD_PER_HOUR["ml.g5.xlarge"]
    assert rec.fleet_cost_per_hour == pytest.approx(6 * price)
    assert rec.cost_per_million == pytest.approx(6 * price / (800 * 3600) * 1e6)
    assert "One ml.g5.xlarge sustains 182 req/s at p95 26 ms (4 concurrent users)" in rec.text
    assert "6 instances serve 800 req/s with 30% headroom" in rec.text
    override = recommend(
        STEPS, PlanningInputs(target_rps=100, instance_type="ml.g5.xlarge", instance_price=2.0)
    )
    assert override.price_source == "--instance-price"
    assert override.instances == 1
    assert override.fleet_cost_per_hour == 2.0


def test_no_step_meets_the_slo() -> None:
    failing = tuple(_step(i, 2**i, 10.0 * i, 50, 60, ok=False) for i in range(1, 4))
    rec = recommend(failing, PlanningInputs(slos=parse_gates(("p95(latency)<30ms",)), target_rps=10))
    assert rec.sustainable_rps is None
    assert rec.instances is None
    assert "No step met the SLO, not even the first (2 users)" in rec.text
    single = recommend(
        (_step(1, 1, 10.0, 50, 60, ok=False),), PlanningInputs(slos=parse_gates(("p95(latency)<30ms",)))
    )
    assert "not even the first (1 user): " in single.text
    one = recommend((_step(1, 1, 45, 22, 23), _step(2, 2, 45, 40, 41)), PlanningInputs())
    assert "(1 concurrent user)." in one.text
    assert "beyond 1 concurrent user (45 req/s)" in one.text


def test_step_stats_from_records_with_ramp_and_slo() -> None:
    rows = []
    for step, users, latency in ((1, 2, 10.0), (2, 4, 30.0)):
        for i in range(200):
            started = step * 100 + i * 0.05
            rows.append(
                {
                    "timestamp_s": started,
                    "end_s": started + latency / 1000,
                    "step": float(step),
                    "users": float(users),
                    "status": "ok",
                    "latency_ms": latency if i >= 20 else 500.0,
                    "ttfp_ms": np.nan,
                    "tokens": np.nan,
                    "request_type": "invoke",
                    "name": "ep",
                    "variant": "v",
                    "ttft_ms": np.nan,
                    "itl_mean_ms": np.nan,
                }
            )
    frame = pd.DataFrame(rows)
    stats = step_stats(
        frame, parse_gates(("p95(latency)<20ms",)), ramp_s=1.0
    )  # the first 20 requests (1 s) are the ramp
    assert [s.users for s in stats] == [2, 4]
    assert stats[0].count == 180
    assert stats[0].latency_p95_ms == pytest.approx(10.0)  # the slow ramp requests are left out
    assert [s.slo_ok for s in stats] == [True, False]
    # rps: the step's completions in its window (the first start 100 s + the 1 s ramp, to the last
    # start 109.95 s: no clock given), over the window up to the last of them (109.91 s)
    assert stats[0].completed == 179
    assert stats[0].rps == pytest.approx(179 / (109.91 - 101.0))
    report = capacity_report(frame, PlanningInputs(slos=parse_gates(("p95(latency)<20ms",)), ramp_s=1.0))
    assert report.recommendation.sustainable_users == 2


def test_steps_option_and_run_json_round_trip() -> None:
    assert parse_steps("1,2,4") == ((1, 2, 4), False)
    assert parse_steps("auto") == ((1, 2, 4, 8, 16, 32, 64, 128, 256, 512), True)
    assert parse_steps("auto:20") == ((1, 2, 4, 8, 16), True)
    for bad in ("0,1", "a,b", "auto:x", ""):
        with pytest.raises(ConfigError, match="--steps"):
            parse_steps(bad)
    inputs = planning_from_run_config(
        {
            "capacity": {
                "steps": [1, 2],
                "auto": False,
                "slos": ["p95(latency)<30ms"],
                "target_rps": 5.0,
                "headroom": 0.3,
                "safety_factor": 0.5,
                "instance_type": None,
                "instance_price": None,
                "ramp_s": 1.0,
                "step_duration_s": 5.0,
            }
        }
    )
    assert inputs == PlanningInputs(
        slos=parse_gates(("p95(latency)<30ms",)), target_rps=5.0, ramp_s=1.0, step_duration_s=5.0
    )
    assert planning_from_run_config({}) is None


# ---- a closed loop against 4 slots of 20 ms, with the run's clock ---------------------------------

T0, STEP_S = 1000.0, 10.0


def _closed_loop(users: tuple[int, ...] = (2, 4, 8, 16)) -> pd.DataFrame:
    """Each user sends again as soon as its response arrives; beyond 4 users requests queue, and on a
    saturated step one request, sent just before the step ended, is a straggler (600 ms). The load
    stops when the last step ends: the requests then in flight complete after it (the drain)."""
    rows = []
    for step, n in enumerate(users, start=1):
        began, ends = T0 + (step - 1) * STEP_S, T0 + step * STEP_S
        latency_ms = 20.0 * max(1.0, n / 4)
        if n > 4:
            rows.append(
                {"timestamp_s": ends - 0.1, "end_s": ends + 0.5, "step": float(step), "users": n, "status": "ok",
                 "latency_ms": 600.0, "ttfp_ms": np.nan, "tokens": np.nan}
            )  # fmt: skip
        for user in range(n):
            t = began + user * 0.003
            while t < ends:
                jitter = 1.0 + 0.2 * math.sin(t * 7.0 + user)  # some spread: a saturated step has a tail
                rows.append(
                    {
                        "timestamp_s": t,
                        "end_s": t + latency_ms * jitter / 1000,
                        "step": float(step),
                        "users": n,
                        "status": "ok",
                        "latency_ms": latency_ms * jitter,
                        "ttfp_ms": np.nan,
                        "tokens": np.nan,
                    }
                )
                t += latency_ms * jitter / 1000
    return pd.DataFrame(rows)


CLOCK = {"started_s": T0, "step_duration_s": STEP_S}


def test_the_live_line_and_the_final_figures_agree_on_a_saturated_step() -> None:
    """Live, a step's line is computed from the rows written when it ended (a moment later); the final
    capacity.csv from every row, including the requests that completed after the step ended."""
    frame = _closed_loop()
    final = {s.step: s for s in step_stats(frame, ramp_s=2.0, **CLOCK)}
    for step in (3, 4):  # saturated: 8 and 16 users on 4 slots
        read_at = T0 + step * STEP_S + 0.01  # the shape's tick, just after the step's end
        written = frame[(frame["step"] == step) & (frame["end_s"] <= read_at)]
        (live,) = step_stats(written, ramp_s=2.0, **CLOCK)
        late = frame[(frame["step"] == step) & (frame["end_s"] > read_at)]
        assert len(late) > 0  # requests of the step still running when its line is printed
        assert live.rps == final[step].rps
        assert live.completed == final[step].completed
        assert live.start_s == final[step].start_s
        assert live.end_s == final[step].end_s
        assert final[step].count == live.count + len(late)  # latency and errors: provisional live
    assert final[2].rps == pytest.approx(200.0, rel=0.03)  # 4 slots x 20 ms, at the knee
    # saturated: 200 req/s too. Before, the final window ran to the straggler's completion, 0.5 s after
    # the step ended, while live it ended at the last completion read: 192 final against 203 live.
    assert final[4].rps == pytest.approx(200.0, rel=0.03)


def test_the_live_line_says_what_is_provisional() -> None:
    (stats,) = step_stats(_closed_loop((4,)), parse_gates(("p95(latency)<30ms",)), ramp_s=2.0, **CLOCK)
    line = step_line(stats, total="5", slos=parse_gates(("p95(latency)<30ms",)))
    assert line.startswith(f"bench: step 1/5: 4 users, {stats.rps:.1f} req/s, p95 ")
    assert "SLO ok" in line
    assert line.endswith("SLO ok")  # no provisional note on every line: the plan line says it once
    invalid = dataclasses.replace(
        stats, valid=False, invalid_reasons=("event-loop lag p99 31.0 ms (limit 20 ms)",)
    )
    assert ", INVALID: event-loop lag p99 31.0 ms (limit 20 ms)" in step_line(invalid, total="5")


def _health(cpu_by_step: dict[int, float]) -> dict[str, tuple[HealthSample, ...]]:
    """Two samples a second over every step, each step at its own CPU."""
    samples = []
    for step, cpu in cpu_by_step.items():
        began = T0 + (step - 1) * STEP_S
        samples += [HealthSample(began + 0.5 * i, cpu, 1.0) for i in range(int(2 * STEP_S))]
    return {"local": tuple(samples)}


def test_each_step_is_judged_on_the_load_generators_samples_of_its_window() -> None:
    inputs = PlanningInputs(ramp_s=2.0, slos=parse_gates(("p95(latency)<50ms",)), **CLOCK)
    health = _health({1: 0.3, 2: 0.5, 3: 0.6, 4: 0.97})
    report = capacity_report(_closed_loop(), inputs, health=health)
    assert [s.valid for s in report.steps] == [True, True, True, False]
    assert report.steps[3].invalid_reasons == ("load generator CPU p95 97% of a core (limit 90%)",)
    rec = report.recommendation
    assert rec.invalid_steps == (4,)
    assert rec.saturation_step == 2
    assert rec.saturation_valid is True  # 4 -> 8 users: both steps valid
    assert rec.sustainable_step == 3  # 8 users, p95 40 ms
    assert rec.sustainable_valid is True
    assert rec.text.endswith(f"Step 4 INVALID: the load generator was not healthy. {rec.note}")
    table = steps_table(report.steps)
    assert table["valid"].tolist() == [True, True, True, False]
    assert table["invalid_reasons"].tolist()[3] == "load generator CPU p95 97% of a core (limit 90%)"


def test_the_recommendation_says_when_the_slo_point_or_saturation_rests_on_an_invalid_step() -> None:
    inputs = PlanningInputs(ramp_s=2.0, slos=parse_gates(("p95(latency)<50ms",)), **CLOCK)
    report = capacity_report(_closed_loop(), inputs, health=_health({1: 0.3, 2: 0.5, 3: 0.95, 4: 0.4}))
    rec = report.recommendation
    assert (rec.sustainable_step, rec.sustainable_valid, rec.saturation_valid) == (3, False, False)
    assert (
        "The SLO point, step 3, is INVALID (load generator CPU p95 95% of a core (limit 90%)): its figures "
        "may be the load generator's, not the endpoint's." in rec.text
    )
    assert "Saturation rests on an INVALID step (step 3): the load generator, not the endpoint" in rec.text
    knee = capacity_report(_closed_loop(), inputs, health=_health({1: 0.3, 2: 0.95, 3: 0.5, 4: 0.4}))
    assert (
        "Saturation rests on an INVALID step (step 2: load generator CPU p95 95% of a core (limit 90%)): the "
        "load generator, not the endpoint, may have stopped the growth." in knee.recommendation.text
    )


def test_step_health_comes_from_health_csv_and_reaches_every_file(tmp_path: Path) -> None:
    inputs = PlanningInputs(ramp_s=2.0, **CLOCK)
    frame = _closed_loop()
    unknown = capacity_report(frame, inputs, run_dir=tmp_path)  # no health.csv: not judged
    assert [s.valid for s in unknown.steps] == [None] * 4
    assert (
        "The load generator's health was not recorded per step (no health.csv)" in unknown.recommendation.text
    )
    write_health_samples(tmp_path, _health({1: 0.3, 2: 0.5, 3: 0.6, 4: 0.97}))
    report = capacity_report(frame, inputs, run_dir=tmp_path)
    assert [s.valid for s in report.steps] == [True, True, True, False]
    write_capacity_files(tmp_path, report, endpoint="ep")
    document = json.loads((tmp_path / "capacity.json").read_text())
    assert [s["valid"] for s in document["steps"]] == [True, True, True, False]
    assert document["recommendation"]["invalid_steps"] == [4]
    csv_text = (tmp_path / "capacity.csv").read_text()
    assert "valid,invalid_reasons" in csv_text.splitlines()[0]
    assert csv_text.splitlines()[4].endswith(",False,load generator CPU p95 97% of a core (limit 90%)")
    assert "INVALID: load generator CPU p95 97%" in (tmp_path / "report.html").read_text()


def test_without_saturation_the_throughput_is_a_lower_bound() -> None:
    growing = STEPS[:3]  # 45, 90, 182 req/s: still growing at the last step, every SLO met
    rec = recommend(growing, PlanningInputs(target_rps=800, instance_type="ml.g5.xlarge"))
    assert rec.saturation_step is None
    assert rec.at_least_rps == 182
    assert (
        "One ml.g5.xlarge sustains at least 182 req/s (the endpoint did not saturate) at p95 26 ms"
        in rec.text
    )
    assert "Add steps with more users to find its limit." in rec.text
    assert "At most 6 instances serve 800 req/s" in rec.text
    beyond = recommend(  # the SLO stopped short of the top: the SLO point is exact, the top a bound
        (*STEPS[:3], _step(4, 8, 230, 23, 41, ok=False)),
        PlanningInputs(slos=parse_gates(("p95(latency)<30ms",))),
    )
    assert "sustains 182 req/s at p95 26 ms" in beyond.text
    assert (
        "No saturation up to the last step (8 users): the endpoint serves at least 230 req/s (the endpoint "
        "did not saturate), beyond the SLO." in beyond.text
    )
    saturated = recommend(STEPS, PlanningInputs())
    assert saturated.at_least_rps is None
    assert "at least" not in saturated.text


def test_one_instance_is_singular_and_an_unknown_type_has_no_price() -> None:
    rec = recommend(
        STEPS,
        PlanningInputs(target_rps=100, instance_type="ml.xyz", slos=parse_gates(("p95(latency)<30ms",))),
    )
    assert rec.instances == 1
    assert "1 instance serves 100 req/s with 30% headroom" in rec.text
    assert rec.price_per_hour is None
    assert rec.price_missing == "no price for ml.xyz in the built-in table: pass --instance-price"
    assert "(cost: no price for ml.xyz in the built-in table: pass --instance-price)" in rec.text
    priced = recommend(STEPS, PlanningInputs(target_rps=100, instance_type="ml.xyz", instance_price=1.0))
    assert priced.price_missing is None
    assert "no price" not in priced.text


def test_a_closed_loop_plan_says_it_overstates_open_traffic_and_to_plan_with_rates(tmp_path: Path) -> None:
    rec = recommend(STEPS, PlanningInputs(slos=parse_gates(("p95(latency)<30ms",))))
    assert rec.loop == "closed"
    assert rec.note == (
        "Closed loop: each user waited for its response before sending again, so these figures overstate "
        "what open (arrival-rate) traffic gets (at the same rate its latency is higher); plan with --rates "
        "(e.g. --rates auto:200)."  # the highest throughput measured, 199 req/s, rounded up
    )
    assert rec.text.endswith(rec.note)
    failing = recommend((_step(1, 1, 876.0, 50, 60, ok=False),), PlanningInputs())
    assert failing.text.endswith("plan with --rates (e.g. --rates auto:880).")
    assert recommend((), PlanningInputs()).note.endswith("plan with --rates.")
    report = capacity_report(_closed_loop(), PlanningInputs(ramp_s=2.0, **CLOCK))
    write_capacity_files(tmp_path, report, endpoint="ep")
    document = json.loads((tmp_path / "capacity.json").read_text())
    assert document["loop"] == "closed"
    assert document["note"] == report.recommendation.note
    assert document["recommendation"]["note"].startswith("Closed loop: each user waited")
    page = (tmp_path / "report.html").read_text()
    assert "these figures overstate what open (arrival-rate) traffic gets" in page
    assert "Plan with --rates" in page
