"""Distributed runs: records from Locust workers reach the master's one requests.csv."""

from __future__ import annotations

import csv
import json
import subprocess
import time
from pathlib import Path

from support import free_port, locust_totals, only_run_dir, read_requests, run_locust, start_locust


def _check(tmp_path: Path, workers: int) -> None:
    total, _ = locust_totals(tmp_path / "locust")
    rows = read_requests(only_run_dir(tmp_path / "reports"))
    assert len(rows) == total > 100
    assert len({r["worker"] for r in rows}) == workers
    assert "master" not in {r["worker"] for r in rows}


def test_processes_2_ship_every_record_to_the_master(tmp_path: Path) -> None:
    result = run_locust(
        "--headless", "--processes", "2", "-u", "4", "-r", "4", "-t", "4s", "TritonUser",
        "--report-dir", str(tmp_path / "reports"), "--json-file", str(tmp_path / "locust"),
    )  # fmt: skip
    assert result.code == 0, result.stderr[-3000:]
    _check(tmp_path, workers=2)


def test_master_and_two_worker_processes(tmp_path: Path) -> None:
    port = free_port()
    worker_args = ("TritonUser", "--worker", "--master-host", "127.0.0.1", "--master-port", str(port))
    workers = [
        start_locust(*worker_args, stdout=subprocess.DEVNULL, stderr=(tmp_path / f"worker-{i}.txt").open("w"))
        for i in range(2)
    ]
    try:
        master = run_locust(
            "TritonUser", "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
            "--headless", "--expect-workers", "2", "-u", "4", "-r", "4", "-t", "4s",
            "--report-dir", str(tmp_path / "reports"), "--json-file", str(tmp_path / "locust"),
        )  # fmt: skip
    finally:
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
    assert master.code == 0, master.stderr[-3000:]
    _check(tmp_path, workers=2)


def _capacity_run(tmp_path: Path, name: str, *extra: str) -> tuple[Path, str]:
    result = run_locust(
        "--headless", *extra, "TritonUser", "--steps", "2,4", "--step-duration", "3s",
        "--slo", "p95(latency)<500ms", "--report-dir", str(tmp_path / name), "--only-summary",
    )  # fmt: skip
    assert result.code == 0, result.stderr[-3000:]
    return only_run_dir(tmp_path / name), result.stdout


def _columns(path: Path) -> list[str]:
    with path.open(newline="") as handle:
        return next(csv.reader(handle))


def test_a_distributed_capacity_run_gives_the_same_report_files_as_a_local_one(tmp_path: Path) -> None:
    local, _ = _capacity_run(tmp_path, "local")
    spread, stdout = _capacity_run(tmp_path, "spread", "--processes", "2")
    names = sorted(p.name for p in local.iterdir())
    assert sorted(p.name for p in spread.iterdir()) == names
    assert "capacity.csv" in names
    assert "report.html" in names
    for name in names:
        if name.endswith(".csv"):
            assert _columns(spread / name) == _columns(local / name), name
    # the master knows the steps and the users across workers: the workers' rows carry both
    with (spread / "capacity.csv").open(newline="") as handle:
        steps = [(row["step"], row["users"]) for row in csv.DictReader(handle)]
    assert steps == [("1", "2"), ("2", "4")]
    assert "step 1/2: 2 users" in stdout
    assert "step 2/2: 4 users" in stdout
    # each worker watched its own CPU and event loop and sent the verdict to the master
    health = json.loads((spread / "run.json").read_text())["health"]
    assert health["samples"] > 0
    assert health["processes_needed"] >= 2


def test_gate_abort_works_on_the_workers_merged_live_statistics(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_locust(
        "--headless", "--processes", "2", "-u", "2", "-r", "2", "-t", "60s", "TritonUser",
        "--report-dir", str(tmp_path / "r"), "--gate", "max(latency)<0.5ms", "--gate-abort",
    )  # fmt: skip
    assert result.code == 3, result.stderr[-3000:]
    # Fast enough: long before the 60 s run time, two worker processes' start-up included.
    assert time.monotonic() - started < 40
    assert "stopped early (--gate-abort): max(latency)<0.5ms can no longer pass" in result.stdout
