"""The Inference tab in a real headless chromium: a run started from Locust's web UI shows live TTFP.

``locust -f locustfiles/triton.py`` with its web UI on 127.0.0.1 (emulator auto-started), driven by
``tests/inference_tab_browser.py`` (playwright with the system chromium, in its own process). Skipped
when chromium or playwright is missing, unless ``BENCH_REQUIRE_BROWSER=1`` (CI), where it fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from support import BIN, LOCUSTFILE, ROOT, clean_env, only_run_dir

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
DRIVER = ROOT / "tests" / "inference_tab_browser.py"


def _browser_or_skip() -> None:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (Debian package chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright Python package (pip install -e '.[dev]')")
    if not missing:
        return
    reason = f"no headless browser: missing {' and '.join(missing)}"
    if os.environ.get("BENCH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; BENCH_REQUIRE_BROWSER=1 requires it")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_ui(url: str, process: subprocess.Popen[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"locust exited with {process.returncode} before its web UI came up")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"no web UI at {url} after {timeout_s:g} s")


def test_inference_tab_shows_live_ttfp_for_the_streaming_user(tmp_path: Path) -> None:
    _browser_or_skip()
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    reports = tmp_path / "reports"
    locust = subprocess.Popen(
        [str(BIN / "locust"), "-f", str(LOCUSTFILE), "--web-host", "127.0.0.1", "--web-port", str(port),
         "--report-dir", str(reports)],
        cwd=ROOT, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        _wait_for_ui(url, locust, timeout_s=15)
        driven = subprocess.run(
            [sys.executable, str(DRIVER), url, "demo-llm", str(tmp_path)],
            capture_output=True, text=True, timeout=45, check=False, cwd=ROOT,
        )  # fmt: skip
        seen = json.loads(driven.stdout) if driven.returncode == 0 else {}
        files = {row[1]: row[3] for row in seen.get("run_rows", []) if row[0] == "file"}
        served = _fetch(files["summary.csv"]) if "summary.csv" in files else b""
    finally:
        locust.terminate()
        try:
            output, _ = locust.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            locust.kill()
            output, _ = locust.communicate()
    assert driven.returncode == 0, driven.stderr[-3000:]
    print(f"\nscreenshots: {seen.get('screenshot')} {seen.get('run_screenshot')}")
    assert "tab=inference" in seen["tab_url"]
    ttfp = seen["ttfp"]
    assert ttfp["found"], f"no non-zero TTFP for demo-llm in the Inference tab: {ttfp}\n{output[-2000:]}"
    row = ttfp["row"]
    assert row["Type"] == "stream"
    assert 0 < float(row["TTFP p50 ms"]) <= float(row["TTFP p95 ms"]) <= float(row["TTFP p99 ms"])
    assert float(row["Tokens/s"]) > 0
    assert float(row["Req/s"]) > 0
    invoke = [r for r in ttfp["rows"] if r[:2] == ["invoke", "demo-triton"]]
    assert invoke, ttfp["rows"]  # the tensor user ran too
    assert Path(seen["screenshot"]).stat().st_size > 10_000
    # after the stop: the run directory's files, as URLs served from the run directory
    assert {"summary.csv", "requests.csv", "run.json"} <= files.keys(), seen["run_rows"]
    assert files["summary.csv"] == f"http://127.0.0.1:{port}/bench/run/summary.csv"
    assert served == (only_run_dir(reports) / "summary.csv").read_bytes()


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body


def _inference_requests(url: str) -> int:
    with urllib.request.urlopen(f"{url}stats/requests", timeout=5) as response:
        body = json.loads(response.read())
    rows = next(e["data"] for e in body["extended_stats"] if e["key"] == "inference")
    return sum(int(row["requests"]) for row in rows)


def test_reset_stats_starts_the_live_figures_over_and_keeps_every_record(tmp_path: Path) -> None:
    """Locust's Reset Stats button resets the Inference tab with its own tables; requests.csv keeps all."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    reports = tmp_path / "reports"
    locust = subprocess.Popen(
        [str(BIN / "locust"), "-f", str(LOCUSTFILE), "--web-host", "127.0.0.1", "--web-port", str(port),
         "--autostart", "-u", "2", "-r", "2", "-t", "12s", "--autoquit", "1", "TritonUser",
         "--report-dir", str(reports), "--json-file", str(tmp_path / "locust")],
        cwd=ROOT, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for_ui(url, locust, timeout_s=15)
        deadline = time.monotonic() + 20
        before = 0
        while before < 500 and time.monotonic() < deadline:
            time.sleep(0.5)
            before = _inference_requests(url)
        urllib.request.urlopen(urllib.request.Request(f"{url}stats/reset", method="POST"), timeout=5).close()
        after = _inference_requests(url)
        _, stderr = locust.communicate(timeout=60)
    finally:
        if locust.poll() is None:
            locust.kill()
    assert before >= 500, stderr[-2000:]
    assert after < before / 4, (before, after)
    with (only_run_dir(reports) / "requests.csv").open() as handle:
        rows = sum(1 for _ in handle) - 1
    assert rows > before  # the file has every record, from before the reset too
