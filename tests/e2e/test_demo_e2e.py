"""``make demo`` as a newcomer runs it (shorter steps): no warnings about the pool, a valid run, a plan."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support import ROOT, clean_env, only_run_dir


def _demo(tmp_path: Path, *variables: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    reports = tmp_path / "reports"
    done = subprocess.run(
        ["make", "-s", "demo", f"DEMO_REPORTS={reports}", *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env=clean_env(),
        check=False,
    )
    return done, only_run_dir(reports)


def test_the_demo_reaches_16_users_without_pool_warnings_and_ends_valid(tmp_path: Path) -> None:
    """The pool is sized for the top step (16 users), not the first (urllib3 warned "Connection pool is
    full, discarding connection ... size: 10" before); the demo's load fits a 2-core machine."""
    done, run_dir = _demo(tmp_path, "DEMO_STEPS=1,16", "DEMO_STEP=4s")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Connection pool is full" not in output
    assert "bench: step 2/2: 16 users" in done.stdout
    assert "sustains" in done.stdout  # the recommendation
    run = json.loads((run_dir / "run.json").read_text())
    assert run["valid"] is True, (run["health"], output[-2000:])
    assert "INVALID run" not in done.stdout


def test_the_boto3_demo_pool_holds_16_users_too(tmp_path: Path) -> None:
    """The boto3 transport's pool (urllib3 under botocore) is the one that warned."""
    done, _ = _demo(tmp_path, "DEMO_STEPS=1,16", "DEMO_STEP=3s", "DEMO_TRANSPORT=boto3")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Connection pool is full" not in output
