"""Capacity planned by arrival rate (``--rates``): real ``locust`` processes stepping the arrival rate
against the test emulator's ``cap-fixed`` (4 slots x fixed 20 ms: 200 req/s at most)."""

from __future__ import annotations

import csv
import itertools
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

from support import TEST_EMULATOR_CONFIG, only_run_dir, read_requests, run_bench, run_locust

from bench.report.ratehtml import ACHIEVED_TITLE, EFFECTIVE_TITLE

CAPACITY_RPS = 200.0


def _rate_run(tmp_path: Path, *extra: str) -> tuple[dict[str, object], Path, str]:
    result = run_locust(
        "--headless", "TritonUser", "--emulator-config", str(TEST_EMULATOR_CONFIG), "--endpoint", "cap-fixed",
        "--input", "INPUT0:FP32:1,16", "--input", "INPUT1:FP32:1,16", "--report-dir", str(tmp_path / "reports"),
        "--only-summary", *extra,
        timeout_s=120,
    )  # fmt: skip
    assert result.code == 0, result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "reports")
    return json.loads((run_dir / "capacity.json").read_text()), run_dir, result.stdout


def _steps(capacity: dict[str, object]) -> list[dict[str, object]]:
    steps = capacity["steps"]
    assert isinstance(steps, list)
    return steps


def test_fixed_rates_against_a_known_capacity(tmp_path: Path) -> None:
    """Poisson arrivals below and above 200 req/s; 20 users (the most in flight): the rate steps up at
    each step within its ramp (the users hold at most 20 / 50 req/s = 0.4 s of sends already taken)."""
    capacity, run_dir, stdout = _rate_run(
        tmp_path, "-u", "20", "--rates", "50,100,150,250", "--step-duration", "3s",
        "--slo", "p95(latency)<40ms", "--target-rps", "800", "--instance-type", "ml.g5.xlarge",
    )  # fmt: skip
    steps = _steps(capacity)
    print("rate steps:", [(s["target_rate_per_s"], s["achieved_rate_per_s"], s["effective_latency_p95_ms"],
                           s["late_rate"], s["passed"]) for s in steps])  # fmt: skip
    assert capacity["loop"] == "open"
    assert [s["target_rate_per_s"] for s in steps] == [50.0, 100.0, 150.0, 250.0]
    for s in steps[:3]:  # the schedule's requests in the 2.4 s window: Poisson counts
        expected = float(s["target_rate_per_s"]) * 2.4  # type: ignore[arg-type]
        assert abs(float(s["count"]) - expected) <= 5 * math.sqrt(expected), s  # type: ignore[arg-type]
        assert s["users"] == 20
    over = steps[3]  # beyond the endpoint's 200 req/s the queue grows: the SLO breaks
    assert over["passed"] is False
    assert over["slo_ok"] is False
    rec = capacity["recommendation"]
    assert isinstance(rec, dict)
    assert rec["loop"] == "open"
    assert rec["sustainable_rps"] in (50.0, 100.0, 150.0)
    assert rec["sustainable_rps"] < CAPACITY_RPS
    assert rec["failing_rate_per_s"] == min(
        float(s["target_rate_per_s"])  # type: ignore[arg-type]
        for s in steps
        if not s["passed"] and float(s["target_rate_per_s"]) > rec["sustainable_rps"]  # type: ignore[arg-type]
    )
    assert rec["instances"] == math.ceil(800 * 1.3 / rec["sustainable_rps"])
    assert rec["invocations_per_instance_per_minute"] == rec["sustainable_rps"] * 60 * 0.5
    assert "bench: step 4/4: 250 req/s target, achieved " in stdout
    assert "req/s of open-loop arrivals at effective latency p95" in stdout
    assert "judged on the effective latency" in str(capacity["note"])

    with (run_dir / "rate_steps.csv").open(newline="") as handle:
        ran = list(csv.DictReader(handle))
    assert [float(r["target_rate_per_s"]) for r in ran] == [50.0, 100.0, 150.0, 250.0]
    starts = [float(r["started_s"]) for r in ran]
    assert all(3.0 <= b - a < 4.0 for a, b in itertools.pairwise(starts))
    rows = read_requests(run_dir)
    assert all(
        float(r["effective_latency_ms"]) >= float(r["latency_ms"]) for r in rows if r["status"] == "ok"
    )

    page = (run_dir / "report.html").read_text()
    for title in (EFFECTIVE_TITLE, ACHIEVED_TITLE):
        assert f"<title>{title}</title>" in page
    for svg in page.split("<svg")[1:]:
        ET.fromstring("<svg" + svg.split("</svg>")[0] + "</svg>")
    (run_dir / "capacity.json").unlink()  # rebuilt offline from requests.csv and rate_steps.csv
    assert run_bench("report", str(run_dir)).code == 0
    assert json.loads((run_dir / "capacity.json").read_text())["recommendation"] == rec


def test_auto_rates_double_then_bisect_within_bounds(tmp_path: Path) -> None:
    capacity, _, stdout = _rate_run(
        tmp_path, "-u", "10", "--rates", "auto:400", "--step-duration", "2s", "--slo", "p95(latency)<40ms"
    )
    targets = [float(s["target_rate_per_s"]) for s in _steps(capacity)]  # type: ignore[arg-type]
    passed = [bool(s["passed"]) for s in _steps(capacity)]
    print("auto rate steps:", list(zip(targets, passed, strict=True)))
    doubling = [400.0 / 2**k for k in range(6, -1, -1)]  # 6.25 ... 400
    first_failure = passed.index(False)
    assert targets[: first_failure + 1] == doubling[: first_failure + 1]
    assert targets[first_failure] <= CAPACITY_RPS  # 200 req/s and more fail: the queue grows
    bisecting = targets[first_failure + 1 :]
    assert 1 <= len(bisecting) <= 4  # bounded
    low, high = targets[first_failure - 1], targets[first_failure]
    for rate, ok in zip(bisecting, passed[first_failure + 1 :], strict=True):
        assert low < rate < high
        assert rate == (low + high) / 2
        low, high = (rate, high) if ok else (low, rate)
    rec = capacity["recommendation"]
    assert isinstance(rec, dict)
    assert rec["sustainable_rps"] == max(t for t, ok in zip(targets, passed, strict=True) if ok)
    assert rec["sustainable_rps"] < CAPACITY_RPS
    assert "bench: step 1/?: 6.25 req/s target" in stdout
