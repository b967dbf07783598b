"""Gates with real ``locust`` processes: exit codes, CI files, abort, offline re-evaluation."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from clients import emulator_stats
from support import TEST_EMULATOR_CONFIG, clean_env, only_run_dir, run_bench, run_locust

from bench.emulator.process import start_emulator

TRITON = ("TritonUser", "--input", "INPUT0:FP32:1,16", "--input", "INPUT1:FP32:1,16")


def test_impossible_gate_exits_3_and_bench_gate_agrees(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    step_summary = tmp_path / "step_summary.md"
    result = run_locust(
        "--headless", "-u", "2", "-r", "2", "-t", "3s", *TRITON, "--report-dir", str(reports),
        "--gate", "p95(latency)<0.01ms", "--gate", "error_rate<1%", "--gate", "rps>=5",
        env=clean_env(GITHUB_STEP_SUMMARY=str(step_summary)),
    )  # fmt: skip
    assert result.code == 3, result.stderr[-2000:]
    assert "GATES FAILED (exit code 3)" in result.stdout
    run_dir = only_run_dir(reports)
    verdicts = json.loads((run_dir / "gates.json").read_text())
    assert [g["passed"] for g in verdicts["gates"]] == [False, True, True]
    failures = ET.parse(run_dir / "junit.xml").getroot().findall(".//failure")
    assert len(failures) == 1
    assert "p95(latency)" in (failures[0].get("message") or "") or "threshold < 0.01 ms" in (
        failures[0].get("message") or ""
    )
    assert "❌ 1 of 3 gates failed" in step_summary.read_text()
    assert (run_dir / "locust_stats.csv").exists()
    again = run_bench("gate", str(run_dir))  # the run's own gates, offline
    assert again.code == 3
    assert json.loads((run_dir / "gates.json").read_text()) == verdicts
    easy = run_bench("gate", str(run_dir), "--gate", "p95(latency)<10s", "--gate", "count>=1")
    assert easy.code == 0, easy.stdout
    assert "all gates passed" in easy.stdout


def test_passing_gates_decide_the_exit_code_despite_request_failures(tmp_path: Path) -> None:
    result = run_locust(
        "--headless", "-u", "2", "-r", "2", "-t", "3s", *TRITON, "--report-dir", str(tmp_path / "r"),
        "--emulator-config", str(TEST_EMULATOR_CONFIG), "--endpoint", "fault-mixed",
        "--gate", "error_rate<90%", "--gate", "errors>=1",
    )  # fmt: skip
    assert result.code == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "all gates passed" in result.stdout


def test_malformed_gate_exits_2_before_any_request(tmp_path: Path) -> None:
    with start_emulator(TEST_EMULATOR_CONFIG) as emulator:
        result = run_locust(
            "--headless", "-u", "2", "-r", "2", "-t", "3s", *TRITON, "--report-dir", str(tmp_path / "r"),
            "--endpoint-url", emulator.url, "--endpoint", "demo-triton", "--gate", "p95(latncy)<250ms",
        )  # fmt: skip
        stats = emulator_stats(emulator)
    assert result.code == 2
    ours = [line for line in result.stderr.splitlines() if line.startswith("bench: error:")]
    assert ours == [
        "bench: error: --gate 'p95(latncy)<250ms': 'latncy' at column 5: unknown metric; use one of latency, ttfp, ttft, itl, effective_latency, schedule_lag, rps, error_rate, count, errors, unfinished, tokens_per_s, late, late_rate"
    ]
    assert stats["requests"] == 0  # not one request reached the endpoint


def test_gate_abort_stops_the_run_early(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_locust(
        "--headless",
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "60s",
        *TRITON,
        "--report-dir",
        str(tmp_path / "r"),
        "--gate",
        "max(latency)<0.5ms",
        "--gate-abort",
    )
    elapsed = time.monotonic() - started
    assert result.code == 3, result.stderr[-2000:]
    assert elapsed < 30  # fast enough: stopped long before the 60 s run time (start-up and reports included)
    assert "stopped early (--gate-abort): max(latency)<0.5ms can no longer pass" in result.stdout


def test_gates_and_warmup_from_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "bench.conf"
    config.write_text(
        "headless = true\nusers = 2\nspawn-rate = 2\nrun-time = 3s\nwarmup = 1s\ngate = [p95(latency)<10s, count>=1]\n"
    )
    result = run_locust("--config", str(config), *TRITON, "--report-dir", str(tmp_path / "r"))
    assert result.code == 0, result.stderr[-2000:]
    run = json.loads((only_run_dir(tmp_path / "r") / "run.json").read_text())
    assert run["config"]["gates"] == ["p95(latency)<10s", "count>=1"]
    assert run["config"]["warmup_s"] == 1.0


def test_a_saturated_load_generator_is_flagged_and_require_valid_fails_it(tmp_path: Path) -> None:
    result = run_locust(
        "--headless", "-u", "32", "-r", "32", "-t", "5s", *TRITON, "--report-dir", str(tmp_path / "r"),
        "--emulator-config", str(TEST_EMULATOR_CONFIG), "--endpoint", "instant", "--require-valid",
    )  # fmt: skip
    run = json.loads((only_run_dir(tmp_path / "r") / "run.json").read_text())
    assert run["valid"] is False, run["health"]
    assert run["health"]["cpu_p95"] > 0.9
    assert "INVALID run" in result.stdout
    assert "locust --processes" in result.stdout
    assert result.code == 3
