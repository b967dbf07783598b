"""Distributed runs: records from Locust workers reach the master's one requests.csv."""

from __future__ import annotations

import csv
import json
import socket
import subprocess
from pathlib import Path

import pytest
from support import BIN, LOCUSTFILE, ROOT, clean_env, only_run_dir, run_locust

pytestmark = pytest.mark.e2e


def _check(tmp_path: Path, workers: int) -> None:
    entries = json.loads((tmp_path / "locust.json").read_text())
    total = sum(e["num_requests"] for e in entries)
    with (only_run_dir(tmp_path / "reports") / "requests.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
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
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    common = [str(BIN / "locust"), "-f", str(LOCUSTFILE), "TritonUser"]
    workers = [
        subprocess.Popen(
            [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
            cwd=ROOT,
            env=clean_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        master = subprocess.run(
            [*common, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port), "--headless", "--expect-workers", "2",
             "-u", "4", "-r", "4", "-t", "4s", "--report-dir", str(tmp_path / "reports"), "--json-file", str(tmp_path / "locust")],
            cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
    finally:
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
    assert master.returncode == 0, master.stderr[-3000:]
    _check(tmp_path, workers=2)
