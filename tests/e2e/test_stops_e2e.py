"""Stops and crashes lose nothing that was measured: SIGINT, SIGTERM and a worker killed with SIGKILL.

Each test runs real ``locust`` processes against the auto-started emulator on loopback, signals them
mid-run, and checks ``requests.csv`` (every line whole, every row parsed), the row count against
Locust's own count, and that the reports were still written.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
from support import free_port, locust_totals, only_run_dir, read_requests, start_locust, wait_until


def _start(*args: str, out: Path) -> subprocess.Popen[str]:
    return start_locust(*args, stdout=(out / "stdout.txt").open("w"), stderr=(out / "stderr.txt").open("w"))


def _wait_for_rows(run_parent: Path, at_least: int, timeout_s: float = 30.0) -> None:
    """Until the run's requests.csv (flushed each second) holds some rows: the load is really on."""

    def enough() -> bool:
        files = list(run_parent.glob("*/requests.csv")) if run_parent.exists() else []
        return bool(files) and files[0].read_bytes().count(b"\n") > at_least

    wait_until(enough, timeout_s, 0.2, what=f"{at_least} rows in {run_parent}")


def _valid_rows(run_dir: Path) -> list[dict[str, str]]:
    """The rows of requests.csv (whole lines, every cell there), each one parsed."""
    rows = read_requests(run_dir)
    for row in rows:
        float(row["latency_ms"])
        assert row["status"] in ("ok", "error")
    return rows


def _locust_total(json_stem: Path) -> int:
    return locust_totals(json_stem)[0]


def _check_reports(run_dir: Path, rows: int) -> dict[str, object]:
    for name in ("summary.csv", "errors.csv", "timeseries.csv", "run.json"):
        assert (run_dir / name).is_file(), name
    run = json.loads((run_dir / "run.json").read_text())
    assert run["ended_at"] is not None
    assert run["records"] == rows
    with (run_dir / "summary.csv").open(newline="") as handle:
        summary = {row["name"]: row for row in csv.DictReader(handle)}
    assert int(summary["ALL"]["count"]) == rows
    return dict(run)


@pytest.mark.parametrize(
    ("how", "extra"),
    [
        (signal.SIGINT, ()),  # Ctrl-C on a local run
        (signal.SIGTERM, ()),  # a local run told to stop (a CI job cancelled)
        (signal.SIGTERM, ("--processes", "2")),  # the master of a multi-process run
    ],
    ids=["local-sigint", "local-sigterm", "processes-2-master-sigterm"],
)
def test_a_signal_mid_run_keeps_every_record_and_writes_the_reports(
    tmp_path: Path, how: signal.Signals, extra: tuple[str, ...]
) -> None:
    reports = tmp_path / "reports"
    process = _start(
        "--headless", *extra, "-u", "4", "-r", "4", "-t", "60s", "TritonUser",
        "--report-dir", str(reports), "--json-file", str(tmp_path / "locust"),
        out=tmp_path,
    )  # fmt: skip
    try:
        _wait_for_rows(reports, at_least=200)
        time.sleep(1.0)  # the load: one more second of it, so the signal lands mid-run, between flushes
        process.send_signal(how)
        code = process.wait(timeout=45)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = (tmp_path / "stderr.txt").read_text()
    assert code == 0, stderr[-3000:]
    run_dir = only_run_dir(reports)
    rows = _valid_rows(run_dir)
    assert len(rows) == _locust_total(tmp_path / "locust") > 200
    _check_reports(run_dir, len(rows))
    assert "stopping the run before exit" in stderr
    assert f"({len(rows)} requests in requests.csv)" in (tmp_path / "stdout.txt").read_text()


def _master_and_two_workers(
    tmp_path: Path, reports: Path, *, run_time: str
) -> tuple[subprocess.Popen[str], list[subprocess.Popen[str]]]:
    """A headless master expecting two worker processes on a free loopback port, all started."""
    port = free_port()
    workers = []
    for index in range(2):
        (tmp_path / f"w{index}").mkdir()
        worker_args = ["TritonUser", "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
        workers.append(_start(*worker_args, out=tmp_path / f"w{index}"))
    master = _start(
        "TritonUser", "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
        "--headless", "--expect-workers", "2", "-u", "4", "-r", "4", "-t", run_time,
        "--report-dir", str(reports), "--json-file", str(tmp_path / "locust"),
        out=tmp_path,
    )  # fmt: skip
    return master, workers


def test_a_worker_killed_mid_run_costs_only_its_unsent_batch(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    master, workers = _master_and_two_workers(tmp_path, reports, run_time="20s")
    try:
        _wait_for_rows(reports, at_least=200)
        workers[0].send_signal(signal.SIGKILL)
        killed_at = time.time()
        code = master.wait(timeout=60)
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.kill()
    stderr = (tmp_path / "stderr.txt").read_text()
    assert code == 0, stderr[-3000:]
    run_dir = only_run_dir(reports)
    rows = _valid_rows(run_dir)
    run = _check_reports(run_dir, len(rows))

    lost = run["lost_workers"]
    assert isinstance(lost, list)
    assert len(lost) == 1, lost
    lost_id = lost[0]["worker"]
    by_worker: dict[str, list[float]] = {}
    for row in rows:
        by_worker.setdefault(row["worker"], []).append(float(row["timestamp_s"]))
    assert lost_id in by_worker
    assert len(by_worker) == 2
    survivor = next(w for w in by_worker if w != lost_id)
    # the killed worker's records stop at the kill; the other worker's go on to the end of the run
    assert max(by_worker[lost_id]) <= killed_at
    assert max(by_worker[survivor]) > killed_at + 3
    detected = datetime.fromisoformat(lost[0]["detected_at"].replace("Z", "+00:00")).timestamp()
    assert detected > killed_at  # cause before effect
    # Fast enough: a worker is missing after about 3 heartbeats (1 s apart) fail to come; 10 s leaves slack.
    assert detected < killed_at + 10
    assert lost[0]["records_received"] == len(by_worker[lost_id])
    assert f"worker {lost_id} is lost" in stderr
    # Locust's count of the killed worker is its last report (every 3 s); ours is its last batch (0.5 s):
    # the two may differ by what that worker did in those few seconds, never more.
    rate = len(by_worker[lost_id]) / (max(by_worker[lost_id]) - min(by_worker[lost_id]))
    assert abs(len(rows) - _locust_total(tmp_path / "locust")) <= rate * 4


def test_a_worker_that_misses_heartbeats_and_comes_back_is_not_lost(tmp_path: Path) -> None:
    """A worker frozen (SIGSTOP) long enough to be marked missing, then thawed: it rejoins the run."""
    reports = tmp_path / "reports"
    master, workers = _master_and_two_workers(tmp_path, reports, run_time="25s")
    try:
        _wait_for_rows(reports, at_least=200)
        workers[0].send_signal(signal.SIGSTOP)
        wait_until(
            lambda: "is lost" in (tmp_path / "stderr.txt").read_text(),
            15.0,
            0.2,
            what="the worker marked lost",
        )
        workers[0].send_signal(signal.SIGCONT)
        code = master.wait(timeout=90)
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
    stderr = (tmp_path / "stderr.txt").read_text()
    assert code == 0, stderr[-3000:]
    assert "is lost" in stderr  # it was marked missing ...
    assert "sends heartbeats again: it is back in the run" in stderr  # ... and taken back
    run_dir = only_run_dir(reports)
    rows = _valid_rows(run_dir)
    run = _check_reports(run_dir, len(rows))
    assert run["lost_workers"] == []
    assert len({row["worker"] for row in rows}) == 2
    assert len(rows) == _locust_total(tmp_path / "locust")  # its last batch was awaited: nothing lost
