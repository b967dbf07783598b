"""Capacity arithmetic on hand-computed cases, and per-step statistics from records."""

from __future__ import annotations

import math

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
    step_stats,
    sustainable,
)
from bench.config import parse_steps
from bench.errors import ConfigError
from bench.gatespec import parse_gates


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
    assert "No step met the SLO" in rec.text


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
    assert stats[0].rps == pytest.approx(180 / (179 * 0.05 + 0.010))
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
