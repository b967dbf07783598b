"""Start again while the last run still drains (the web UI's Stop, then Start): each run keeps its own rows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
from plugin_support import LocalFactory, csv_rows, parse_options, wait_until

from bench.emulator.process import EmulatorProcess, start_emulator

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def slow() -> Iterator[EmulatorProcess]:
    process = start_emulator(ROOT / "tests" / "data" / "emulator-drain.toml")
    try:
        yield process
    finally:
        process.stop()


def test_a_start_during_the_drain_waits_for_the_last_run(
    local: LocalFactory, slow: EmulatorProcess, tmp_path: Path
) -> None:
    options = parse_options(
        "--endpoint-url", slow.url, "--endpoint", "slow", "--input", "INPUT0:FP32:1,16",
        "--input", "INPUT1:FP32:1,16", "--report-dir", str(tmp_path), num_users=2,
    )  # fmt: skip
    process = local(options)
    session = process.register()
    process.runner.start(2, spawn_rate=10)
    wait_until(lambda: session.run is not None, 5.0, what="the first run started")
    first = session.run
    assert first is not None
    time.sleep(0.3)  # two 1.5 s requests in flight
    stopping = gevent.spawn(process.runner.stop)
    gevent.sleep(0.1)  # the drain is under way
    process.runner.start(2, spawn_rate=10)  # its test_start waits for the first run to finish
    wait_until(lambda: session.run is not first, 10.0, what="the second run started")
    assert first.ended  # before the second run began: its drain and reports were done
    second = session.run
    assert second is not None
    stopping.join(timeout=5)
    time.sleep(0.3)
    process.runner.quit()
    wait_until(lambda: second.ended, 10.0, what="the second run finished")
    first_rows = csv_rows(first.run_dir / "requests.csv")
    assert [r["status"] for r in first_rows] == ["ok", "ok"]  # drained, not cut, not lost
    assert first.run_dir != second.run_dir
    assert all(float(r["timestamp_s"]) >= second.started_s for r in csv_rows(second.run_dir / "requests.csv"))
