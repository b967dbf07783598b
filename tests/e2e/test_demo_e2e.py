"""``make demo`` (by arrival rate) and ``make demo-closed`` (by users) as a newcomer runs them (shorter
steps): no warnings about the pool, a plan; the open-loop plan is below the closed-loop one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support import ROOT, clean_env, only_run_dir


def _demo(tmp_path: Path, target: str, *variables: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    reports = tmp_path / target
    done = subprocess.run(
        ["make", "-s", target, f"DEMO_REPORTS={reports}", *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env=clean_env(),
        check=False,
    )
    return done, only_run_dir(reports)


def test_the_closed_demo_reaches_16_users_without_pool_warnings_and_ends_valid(tmp_path: Path) -> None:
    """The pool is sized for the top step (16 users), not the first (urllib3 warned "Connection pool is
    full, discarding connection ... size: 10" before); the demo's load fits a 2-core machine."""
    done, run_dir = _demo(tmp_path, "demo-closed", "DEMO_STEPS=1,16", "DEMO_CLOSED_STEP=4s")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Connection pool is full" not in output
    assert "bench: step 2/2: 16 users" in done.stdout
    assert "sustains" in done.stdout  # the recommendation
    assert "these figures overstate what open (arrival-rate) traffic gets" in done.stdout
    run = json.loads((run_dir / "run.json").read_text())
    assert run["valid"] is True, (run["health"], output[-2000:])
    assert "INVALID run" not in done.stdout


def test_the_boto3_demo_pool_holds_16_users_too(tmp_path: Path) -> None:
    """The boto3 transport's pool (urllib3 under botocore) is the one that warned."""
    done, _ = _demo(tmp_path, "demo-closed", "DEMO_STEPS=1,16", "DEMO_CLOSED_STEP=3s", "DEMO_TRANSPORT=boto3")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Connection pool is full" not in output


def test_the_demo_plans_by_arrival_rate_below_the_closed_loop_plan(tmp_path: Path) -> None:
    """demo-triton (4 slots, ~894 req/s): closed loop, 8 users keep the slots busy at a p95 well under
    20 ms; Poisson arrivals at 850 req/s queue past it, so the open-loop plan is a lower rate."""
    opened, open_dir = _demo(tmp_path, "demo", "DEMO_RATES=400,600,850", "DEMO_STEP=3s")
    output = opened.stdout + opened.stderr
    assert opened.returncode == 0, output[-3000:]
    assert "Connection pool is full" not in output  # 100 users available to send
    assert "bench: capacity run by arrival rate: 400,600,850 req/s, poisson arrivals" in opened.stdout
    assert "bench: step 3/3: 850 req/s target, achieved " in opened.stdout
    assert "req/s of open-loop arrivals at effective latency p95" in opened.stdout
    closed, closed_dir = _demo(tmp_path, "demo-closed", "DEMO_STEPS=4,8", "DEMO_CLOSED_STEP=3s")
    assert closed.returncode == 0, (closed.stdout + closed.stderr)[-3000:]
    open_plan = json.loads((open_dir / "capacity.json").read_text())
    closed_plan = json.loads((closed_dir / "capacity.json").read_text())
    assert (open_plan["loop"], closed_plan["loop"]) == ("open", "closed")
    open_rps, closed_rps = (p["recommendation"]["sustainable_rps"] for p in (open_plan, closed_plan))
    print(f"open loop {open_rps} req/s, closed loop {closed_rps} req/s")
    assert open_rps is not None
    assert closed_rps is not None
    assert open_rps < closed_rps
