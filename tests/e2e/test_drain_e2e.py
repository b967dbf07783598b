"""The end of every run is a drain: every request the endpoint received is a row.

Against an endpoint whose every request takes 1.5 s (tests/data/emulator-drain.toml), a run of a few
seconds always ends with requests in flight: Locust kills its users mid-request by design
(locust#984), so before the drain those requests were sent but never recorded (32 received, 24 rows).
Now no request starts once the run stops, those in flight finish for ``--drain``, and those still
running then are rows with ``status=unfinished``, the stage they reached and what they measured.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from clients import emulator_stats, reset_emulator
from support import ROOT, locust_totals, only_run_dir, read_requests, run_locust, start_locust, wait_until

from bench.emulator.process import EmulatorProcess, start_emulator

DRAIN_CONFIG = ROOT / "tests" / "data" / "emulator-drain.toml"
TRITON = ("--input", "INPUT0:FP32:1,16", "--input", "INPUT1:FP32:1,16")


@pytest.fixture(scope="module")
def slow() -> Iterator[EmulatorProcess]:
    process = start_emulator(DRAIN_CONFIG)
    try:
        yield process
    finally:
        process.stop()


def _received(emulator: EmulatorProcess, endpoint: str) -> int:
    return int(emulator_stats(emulator)["by_endpoint"].get(endpoint, {}).get("requests", 0))


def _args(emulator: EmulatorProcess, tmp_path: Path, *extra: str) -> tuple[str, ...]:
    return (
        "--headless", "--endpoint-url", emulator.url, "--endpoint", "slow", *TRITON,
        "--report-dir", str(tmp_path / "reports"), "--json-file", str(tmp_path / "locust"), *extra,
    )  # fmt: skip


def test_a_timed_end_drains_requests_in_flight(slow: EmulatorProcess, tmp_path: Path) -> None:
    reset_emulator(slow)
    started = time.monotonic()
    result = run_locust(*_args(slow, tmp_path, "-u", "8", "-r", "8", "-t", "4s", "TritonUser"), timeout_s=60)
    assert result.code == 0, result.stderr[-2000:]
    rows = read_requests(only_run_dir(tmp_path / "reports"))
    received = _received(slow, "slow")
    assert len(rows) == received >= 16  # 8 users x at least 2 requests of 1.5 s in 4 s
    assert Counter(r["status"] for r in rows) == {"ok": received}  # the drain let every one finish
    assert locust_totals(tmp_path / "locust") == (received, 0)
    # the drain waited for the last 1.5 s requests (one-sided: 4 s of load + up to 1.5 s of drain)
    assert time.monotonic() - started >= 4.0


def test_a_short_drain_records_what_is_still_in_flight_as_unfinished(
    slow: EmulatorProcess, tmp_path: Path
) -> None:
    reset_emulator(slow)
    result = run_locust(
        *_args(slow, tmp_path, "-u", "8", "-r", "8", "-t", "2s", "--drain", "0.2s", "TritonUser"),
        timeout_s=60,
    )
    assert result.code == 0, result.stderr[-2000:]
    rows = read_requests(only_run_dir(tmp_path / "reports"))
    received = _received(slow, "slow")
    assert len(rows) == received >= 8
    unfinished = [r for r in rows if r["status"] == "unfinished"]
    assert len(unfinished) == 8  # every user had a 1.5 s request in flight when the 0.2 s drain ended
    assert {(r["error_type"], r["error_stage"]) for r in unfinished} == {("Unfinished", "request")}
    assert all(float(r["latency_ms"]) >= 150.0 for r in unfinished)  # in flight through the drain at least
    assert "8 unfinished" in result.stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_drains_too(slow: EmulatorProcess, tmp_path: Path, signum: signal.Signals) -> None:
    reset_emulator(slow)
    process = start_locust(*_args(slow, tmp_path, "-u", "8", "-r", "8", "-t", "60s", "TritonUser"))
    try:
        wait_until(lambda: _received(slow, "slow") >= 16, 20.0, what="16 requests sent")
        process.send_signal(signum)
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
    rows = read_requests(only_run_dir(tmp_path / "reports"))
    assert len(rows) == _received(slow, "slow")
    assert {r["status"] for r in rows} == {"ok"}


def test_streams_in_flight_at_sigterm_are_rows_with_their_first_part(
    slow: EmulatorProcess, tmp_path: Path
) -> None:
    """16 streams of 3 s (first part after 0.5 s): a SIGTERM after 1 s, a drain of 0.5 s."""
    reset_emulator(slow)
    process = start_locust(
        "--headless", "--endpoint-url", slow.url, "--stream-endpoint", "slow-llm", "-u", "16", "-r", "16",
        "-t", "60s", "--drain", "0.5s", "--report-dir", str(tmp_path / "reports"), "LLMStreamUser",
    )  # fmt: skip
    try:
        wait_until(lambda: _received(slow, "slow-llm") >= 16, 20.0, what="16 streams sent")
        time.sleep(1.0)  # the load itself: every stream has its first part, none has ended
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
    rows = read_requests(only_run_dir(tmp_path / "reports"))
    assert len(rows) == _received(slow, "slow-llm") == 16
    assert {(r["status"], r["error_stage"]) for r in rows} == {("unfinished", "mid_stream")}
    assert all(float(r["ttfp_ms"]) >= 500.0 and int(r["parts"]) >= 2 for r in rows)


def test_processes_drain_into_the_masters_file(slow: EmulatorProcess, tmp_path: Path) -> None:
    reset_emulator(slow)
    result = run_locust(
        *_args(slow, tmp_path, "--processes", "2", "-u", "8", "-r", "8", "-t", "4s", "TritonUser"),
        timeout_s=90,
    )
    assert result.code == 0, result.stderr[-2000:]
    rows = read_requests(only_run_dir(tmp_path / "reports"))
    assert len(rows) == _received(slow, "slow") >= 16
    assert len({r["worker"] for r in rows}) == 2


def test_two_interrupts_leave_every_row_and_one_line(slow: EmulatorProcess, tmp_path: Path) -> None:
    """Ctrl-C twice, 50 ms apart: the second cuts the drain short, never the writing."""
    reset_emulator(slow)
    process = start_locust(*_args(slow, tmp_path, "-u", "8", "-r", "8", "-t", "60s", "TritonUser"), stderr=-1)
    try:
        wait_until(lambda: _received(slow, "slow") >= 16, 20.0, what="16 requests sent")
        process.send_signal(signal.SIGINT)
        time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
        stderr = process.stderr.read() if process.stderr else ""
    finally:
        process.kill()
    assert code == 0, stderr[-2000:]
    assert "Traceback" not in stderr
    assert "KeyboardInterrupt" not in stderr
    assert stderr.count("bench: interrupted again") == 1
    run_dir = only_run_dir(tmp_path / "reports")
    rows = read_requests(run_dir)
    assert len(rows) == _received(slow, "slow")
    assert {r["status"] for r in rows} <= {"ok", "unfinished"}
    assert (run_dir / "summary.csv").is_file()


def test_a_signal_during_a_timed_ends_drain_still_lets_the_gates_decide(
    slow: EmulatorProcess, tmp_path: Path
) -> None:
    """-t ends while every user has a 1.5 s request in flight; SIGTERM comes during that drain: the run
    still drains, writes every row, and its failed gate sets the exit code (quitting waits for a drain
    under way: Locust's local stop is in its CLEANUP state then, not STOPPING)."""
    reset_emulator(slow)
    log = tmp_path / "locust.log"
    with log.open("w") as stderr:
        process = start_locust(
            *_args(
                slow, tmp_path, "-u", "8", "-r", "100", "-t", "2s", "--gate", "p95(latency)<1ms", "TritonUser"
            ),
            stderr=stderr,
        )
        try:
            wait_until(lambda: "--run-time limit reached" in log.read_text(), 30.0, what="the timed end")
            time.sleep(0.2)  # inside the drain: every user's request takes 1.5 s
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
        finally:
            process.kill()
    assert code == 3, log.read_text()[-2000:]  # the failed gate decides, as at a normal end
    rows = read_requests(only_run_dir(tmp_path / "reports"))
    assert len(rows) == _received(slow, "slow")
