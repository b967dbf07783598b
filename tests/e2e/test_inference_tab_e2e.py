"""The Inference tab in a real headless chromium: a run started from Locust's web UI shows live TTFP,
and a start form with a bad custom parameter is refused with its error shown, starting nothing.

``locust -f locustfiles/triton.py`` with its web UI on 127.0.0.1 (emulator auto-started), driven by
``tests/inference_tab_browser.py`` (playwright with Debian's chromium, in its own process). Skipped with
one line saying how to install what is missing (``apt-get install chromium``), unless
``BENCH_REQUIRE_BROWSER=1`` (CI), where it fails. ``BENCH_CHROMIUM`` names another chromium binary.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from support import (
    CHROMIUM,
    ROOT,
    free_port,
    only_run_dir,
    read_requests,
    require_browser,
    skip_without_browser,
    start_locust,
    wait_for_web_ui,
    wait_until,
)

DRIVER = ROOT / "tests" / "inference_tab_browser.py"


@skip_without_browser()
def test_inference_tab_shows_live_ttfp_for_the_streaming_user(tmp_path: Path) -> None:
    require_browser()  # fails when the browser is missing and BENCH_REQUIRE_BROWSER=1
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    reports = tmp_path / "reports"
    locust = start_locust(
        "--web-host", "127.0.0.1", "--web-port", str(port), "--report-dir", str(reports),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_web_ui(url, locust, timeout_s=15)
        driven = subprocess.run(
            [sys.executable, str(DRIVER), url, "demo-llm", str(tmp_path), str(CHROMIUM)],
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
    refused = seen["refused"]
    print(f"\nscreenshots: {refused['screenshot']} {seen.get('screenshot')} {seen.get('run_screenshot')}")
    # a bad custom parameter: the form shows the harness's one line, nothing starts, nothing sticks
    message = "--endpoint 'bad name!': SageMaker endpoint names are letters, digits and hyphens"
    assert refused["status"] == 200
    assert refused["answer"]["success"] is False
    assert refused["answer"]["message"].startswith(message)
    assert refused["alert"] == refused["answer"]["message"]
    assert refused["start_button"]
    assert refused["state"] == "ready"
    assert "the web UI's start form was refused: " + message in output
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
    assert (
        served == (only_run_dir(reports) / "summary.csv").read_bytes()
    )  # one run: the refused form made none


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body


def _inference_requests(url: str, at_least: int = 0) -> int:
    """The requests counted in the Inference tab's rows; 0 while they are fewer than ``at_least``."""
    with urllib.request.urlopen(f"{url}stats/requests", timeout=5) as response:
        body = json.loads(response.read())
    rows = next(e["data"] for e in body["extended_stats"] if e["key"] == "inference")
    count = sum(int(row["requests"]) for row in rows)
    return count if count >= at_least else 0


def test_reset_stats_starts_the_live_figures_over_and_keeps_every_record(tmp_path: Path) -> None:
    """Locust's Reset Stats button resets the Inference tab with its own tables; requests.csv keeps all."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    reports = tmp_path / "reports"
    locust = start_locust(
        "--web-host", "127.0.0.1", "--web-port", str(port),
        "--autostart", "-u", "2", "-r", "2", "-t", "12s", "--autoquit", "1", "TritonUser",
        "--report-dir", str(reports), "--json-file", str(tmp_path / "locust"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for_web_ui(url, locust, timeout_s=15)
        before = wait_until(lambda: _inference_requests(url, at_least=500), 20.0, 0.5, what="500 requests")
        urllib.request.urlopen(urllib.request.Request(f"{url}stats/reset", method="POST"), timeout=5).close()
        after = _inference_requests(url)
        _, stderr = locust.communicate(timeout=60)
    finally:
        if locust.poll() is None:
            locust.kill()
    assert locust.returncode == 0, stderr[-2000:]
    assert after < before / 4, (before, after)
    rows = len(read_requests(only_run_dir(reports)))
    assert rows > before  # the file has every record, from before the reset too


OPEN_LOOP_DRIVER = ROOT / "tests" / "e2e" / "openloop_tab_browser.py"
RATE, USERS, SENDING_S = 40, 8, 12


@skip_without_browser()
def test_an_arrival_rate_typed_in_the_form_shows_achieved_against_target_in_the_tab(tmp_path: Path) -> None:
    """One bounded open-loop run from the start form (Arrival Rate 40, constant, 8 users, about 12 s of
    sends): the rendered Inference tab's open-loop row reads the target and the achieved rate."""
    require_browser()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    reports = tmp_path / "reports"
    locust = start_locust(
        "--web-host", "127.0.0.1", "--web-port", str(port), "--report-dir", str(reports), "TritonUser",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_web_ui(url, locust, timeout_s=15)
        driven = subprocess.run(
            [sys.executable, str(OPEN_LOOP_DRIVER), url, str(RATE), str(USERS), str(SENDING_S), str(tmp_path),
             str(CHROMIUM)],
            capture_output=True, text=True, timeout=SENDING_S + 60, check=False, cwd=ROOT,
        )  # fmt: skip
        seen = json.loads(driven.stdout) if driven.returncode == 0 else {}
        run_dir = wait_until(lambda: _ended_run_dir(reports), 30.0, 0.5, what="the run's reports")
    finally:
        locust.terminate()
        try:
            output, _ = locust.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            locust.kill()
            output, _ = locust.communicate()
    assert driven.returncode == 0, driven.stderr[-3000:]
    print(f"\nscreenshot: {seen.get('screenshot')}")
    form = seen["form"]
    assert form["arrival_options"] == ["poisson", "constant"]  # a drop-down, poisson by default
    assert form["arrival_default"] == "poisson"
    assert "Number of users is then the users available to send: the most requests in flight" in form["text"]
    found = seen["open_loop"]
    assert found["found"], f"no open-loop row with sends in the Inference tab: {found}\n{output[-2000:]}"
    row = found["row"]
    print(f"open loop row: {row}")
    assert row["Name"] == "all"
    assert float(row["Target req/s"]) == RATE
    # constant arrivals, few users busy at 40 req/s: the achieved rate is the target's, in both windows
    assert abs(float(row["Sent/s (10 s)"]) / RATE - 1) < 0.05, row
    assert abs(float(row["Sent/s (run)"]) / RATE - 1) < 0.05, row
    assert float(row["Requests (10 s)"]) > 0.8 * 10 * RATE
    assert float(row["Eff. latency p99 ms"]) >= float(row["Latency p99 ms"]) * 0.98  # effective >= service
    assert float(row["Lag p99 ms"]) >= 0
    late, share = row["Late (10 s)"].split()  # "3 (0.8%)"
    assert int(late) >= 0
    assert (share[0], share[-2:]) == ("(", "%)")
    per_key = [r for r in found["rows"] if r[:2] == ["invoke", "demo-triton"]]
    assert per_key, found["rows"]
    run_rows = {r["Item"]: r for r in seen["run_rows"] if r.get("Kind") == "open loop"}
    assert run_rows["target rate"]["Status"] == f"{RATE} req/s"
    assert run_rows["target rate"]["Detail / link"] == "constant arrivals"
    assert run_rows["users"]["Status"] == f"{USERS} available to send"
    assert run_rows["achieved send rate"]["Status"].endswith(" req/s")
    line = f"bench: open loop from the start form: {RATE} req/s, constant arrivals (seed 0); {USERS} users"
    assert line in output
    # the run the form started was open loop: its file has the lag, run.json the rate
    info = json.loads((run_dir / "run.json").read_text())
    assert info["arrival"]["rate_per_s"] == RATE
    assert info["arrival"]["sent"] >= 0.8 * SENDING_S * RATE
    lags = [float(r["schedule_lag_ms"]) for r in read_requests(run_dir)]
    assert len(lags) >= 0.8 * SENDING_S * RATE
    assert sum(lag > 0 for lag in lags) > 0.9 * len(lags)  # sent on a schedule: closed loop has lag 0


def _ended_run_dir(reports: Path) -> Path | None:
    """The one run directory once its reports are written (``summary.csv``), else None."""
    if not reports.is_dir() or not any(p.is_dir() for p in reports.iterdir()):
        return None
    run_dir = only_run_dir(reports)
    return run_dir if (run_dir / "summary.csv").is_file() else None
