"""Helpers for tests that run real ``locust`` and ``bench`` processes, wait for them and read their files."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bench.collect import COLUMNS

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOCUSTFILE = ROOT / "locustfiles" / "triton.py"
DATA = ROOT / "tests" / "data"
TEST_EMULATOR_CONFIG = DATA / "emulator.toml"
# Debian's chromium (the browser test never uses playwright's own browsers); BENCH_CHROMIUM names another.
CHROMIUM = Path(os.environ.get("BENCH_CHROMIUM", "/usr/bin/chromium"))

T = TypeVar("T")


@dataclass
class Finished:
    code: int
    stdout: str
    stderr: str


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without AWS credentials, config or metadata service: nothing can reach AWS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BENCH_", "LOCUST_"))}
    env.update(
        AWS_CONFIG_FILE=str(DATA / "no-such-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(DATA / "no-such-aws-credentials"),
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


def start_locust(*args: str, **popen: Any) -> subprocess.Popen[str]:
    """``locust -f locustfiles/triton.py ARGS`` started in the background (the caller stops it)."""
    popen.setdefault("env", clean_env())
    return subprocess.Popen([str(BIN / "locust"), "-f", str(LOCUSTFILE), *args], cwd=ROOT, text=True, **popen)


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


def free_port() -> int:
    """A loopback port nothing listens on (free when asked; also a port that refuses connections)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(predicate: Callable[[], T], timeout_s: float, interval_s: float = 0.1, *, what: str = "") -> T:
    """Poll ``predicate`` until it returns something true and return that; AssertionError at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what or 'the condition'}: still not true after {timeout_s:g} s")
        time.sleep(interval_s)


def wait_for_web_ui(url: str, process: subprocess.Popen[str], timeout_s: float = 30.0) -> None:
    """Until ``url`` answers 200; fails at once if ``process`` (the one serving it) exits first."""

    def up() -> bool:
        if process.poll() is not None:
            pytest.fail(f"locust exited with {process.returncode} before its web UI came up", pytrace=False)
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    wait_until(up, timeout_s, 0.2, what=f"the web UI at {url}")


def only_run_dir(report_dir: Path) -> Path:
    runs = [p for p in report_dir.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def read_requests(path: Path) -> list[dict[str, str]]:
    """The rows of a finished ``requests.csv`` (a file, or the run directory holding one).

    Checks what every finished run must give: our header, whole lines only, a value for every column.
    """
    if path.is_dir():
        path = path / "requests.csv"
    data = path.read_bytes()
    assert data.endswith(b"\n"), f"{path} ends in a partial line"
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        assert tuple(next(reader)) == COLUMNS, f"{path}: not our header"
        rows = list(reader)
    assert all(len(row) == len(COLUMNS) for row in rows), f"{path}: a row with missing cells"
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def locust_totals(json_stem: Path) -> tuple[int, int]:
    """Locust's own request and failure counts from its ``--json-file`` output (``STEM.json``)."""
    entries = json.loads(Path(f"{json_stem}.json").read_text())
    return sum(e["num_requests"] for e in entries), sum(e["num_failures"] for e in entries)


def missing_browser(chromium: Path = CHROMIUM) -> str | None:
    """Why the browser test cannot run on this machine, as one line that says how to fix it; None if it can."""
    if not (chromium.is_file() and os.access(chromium, os.X_OK)):
        return f"no Debian chromium at {chromium}: install it with `apt-get install chromium`"
    if importlib.util.find_spec("playwright") is None:
        return "no playwright Python package: install it with `pip install -e '.[dev]'`"
    return None


def skip_without_browser(
    chromium: Path = CHROMIUM, env: Mapping[str, str] = os.environ
) -> pytest.MarkDecorator:
    """The browser test's mark: skipped when the browser is missing (the reason says how to install it),
    except under ``BENCH_REQUIRE_BROWSER=1`` (CI), where it runs and ``require_browser`` fails it."""
    reason = missing_browser(chromium)
    return pytest.mark.skipif(
        reason is not None and env.get("BENCH_REQUIRE_BROWSER") != "1", reason=reason or ""
    )


def require_browser(chromium: Path = CHROMIUM, env: Mapping[str, str] = os.environ) -> None:
    """Skip the calling test when the browser is missing, or fail it under ``BENCH_REQUIRE_BROWSER=1`` (CI)."""
    reason = missing_browser(chromium)
    if reason is None:
        return
    if env.get("BENCH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (BENCH_REQUIRE_BROWSER=1: this test must run)", pytrace=False)
    pytest.skip(reason)
