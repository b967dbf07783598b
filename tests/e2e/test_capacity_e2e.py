"""Known-answer capacity runs: real ``locust`` processes stepping load against endpoints of known capacity."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from support import TEST_EMULATOR_CONFIG, only_run_dir, run_bench, run_locust


def _capacity_run(tmp_path: Path, endpoint: str, *extra: str) -> tuple[dict[str, object], Path, str]:
    result = run_locust(
        "--headless", "TritonUser", "--emulator-config", str(TEST_EMULATOR_CONFIG), "--endpoint", endpoint,
        "--input", "INPUT0:FP32:1,16", "--input", "INPUT1:FP32:1,16", "--step-duration", "3s",
        "--report-dir", str(tmp_path / "reports"), *(extra if "--steps" in extra else ("--steps", "1,2,4,8,16", *extra)),
        timeout_s=120,
    )  # fmt: skip
    assert result.code == 0, result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "reports")
    return json.loads((run_dir / "capacity.json").read_text()), run_dir, result.stdout


def test_known_capacity_200_per_second(tmp_path: Path) -> None:
    """4 slots x fixed 20 ms = 200 req/s; p95 < 30 ms holds while the slots are not saturated."""
    capacity, run_dir, stdout = _capacity_run(
        tmp_path,
        "cap-fixed",
        "--slo",
        "p95(latency)<30ms",
        "--target-rps",
        "800",
        "--instance-type",
        "ml.g5.xlarge",
    )
    steps = capacity["steps"]
    assert isinstance(steps, list)
    assert [s["users"] for s in steps] == [1, 2, 4, 8, 16]
    best = max(s["rps"] for s in steps)
    print(
        "known answer (fixed 20 ms, 4 slots):",
        [(s["users"], round(s["rps"], 1), round(s["latency_p95_ms"], 1)) for s in steps],
    )
    assert 190.0 <= best <= 210.0  # within 5% of the true 200 req/s
    rec = capacity["recommendation"]
    assert isinstance(rec, dict)
    assert (
        rec["sustainable_users"] == 4
    )  # the last step below saturation keeps p95 under 30 ms; 8 users queue
    assert rec["saturation_users"] in (4, 8)
    assert all(0.85 <= s["littles_law_ratio"] <= 1.1 for s in steps)
    assert rec["instances"] >= 5
    assert "bench: step 5/5: 16 users" in stdout
    html = (run_dir / "report.html").read_text()
    assert html.count("<svg") >= 3
    for svg in html.split("<svg")[1:]:
        ET.fromstring("<svg" + svg.split("</svg>")[0] + "</svg>")
    assert "capacity report " + str(run_dir / "report.html") in stdout
    # Rebuilt offline from requests.csv: the same recommendation.
    (run_dir / "capacity.json").unlink()
    assert run_bench("report", str(run_dir)).code == 0
    assert json.loads((run_dir / "capacity.json").read_text())["recommendation"] == rec


def test_known_capacity_lognormal(tmp_path: Path) -> None:
    """4 slots x lognormal (median 20 ms, p99 60 ms; mean 22.36 ms) = 178.9 req/s."""
    capacity, _, _ = _capacity_run(tmp_path, "cap-lognormal")
    steps = capacity["steps"]
    assert isinstance(steps, list)
    best = max(s["rps"] for s in steps)
    print("known answer (lognormal, 4 slots):", [(s["users"], round(s["rps"], 1)) for s in steps])
    assert 178.9 * 0.93 <= best <= 178.9 * 1.05


def test_auto_steps_stop_when_the_slo_breaks(tmp_path: Path) -> None:
    capacity, _, stdout = _capacity_run(
        tmp_path, "cap-fixed", "--steps", "auto:64", "--slo", "p95(latency)<35ms"
    )
    steps = capacity["steps"]
    assert isinstance(steps, list)
    assert [s["users"] for s in steps][:3] == [1, 2, 4], stdout
    assert steps[-1]["slo_ok"] is False
    assert len(steps) <= 5  # stopped at the first broken step instead of going on to 64 users
    assert "SLO broken" in stdout
