"""Helpers for tests that run real ``locust`` and ``bench`` processes."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOCUSTFILE = ROOT / "locustfiles" / "triton.py"
TEST_EMULATOR_CONFIG = ROOT / "tests" / "data" / "emulator.toml"


@dataclass
class Finished:
    code: int
    stdout: str
    stderr: str


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without AWS credentials, config or metadata service: nothing can reach AWS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BENCH_", "LOCUST_"))}
    env.update(
        AWS_CONFIG_FILE=str(ROOT / "tests" / "data" / "no-such-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(ROOT / "tests" / "data" / "no-such-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run_locust(*args: str, timeout_s: float = 90.0, env: dict[str, str] | None = None) -> Finished:
    command = [str(BIN / "locust"), "-f", str(LOCUSTFILE), *args]
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env or clean_env(),
        check=False,
    )
    return Finished(done.returncode, done.stdout, done.stderr)


def run_bench(*args: str, timeout_s: float = 60.0) -> Finished:
    done = subprocess.run(
        [str(BIN / "bench"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=clean_env(),
        check=False,
    )
    return Finished(done.returncode, done.stdout, done.stderr)


def only_run_dir(report_dir: Path) -> Path:
    runs = [p for p in report_dir.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]
