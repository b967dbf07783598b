"""Issue #13 with real ``bench`` processes: bad input is one stderr line and exit code 2 (never a
traceback), what-if gates leave the run's files alone, nothing is dropped or ignored unsaid.

The runs are written by hand (a requests.csv of this harness's columns): no load is generated.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from support import DATA, Finished, run_bench

from bench.collect import COLUMNS

SUBCOMMANDS = ("serve", "invoke", "report", "gate", "compare", "selfbench")


def _run(run_dir: Path, rows: int, *, name: str = "ep", gates: tuple[str, ...] = ()) -> Path:
    """A finished run directory with ``rows`` successful requests named ``name``."""
    run_dir.mkdir(parents=True)
    with (run_dir / "requests.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for i in range(rows):
            row = dict.fromkeys(COLUMNS, "")
            row.update(
                timestamp_s=f"{1000 + i * 0.01:.6f}",
                intended_start_s=f"{1000 + i * 0.01:.6f}",
                worker="local",
                user_class="U",
                request_type="invoke",
                name=name,
                endpoint=name,
                status="ok",
                latency_ms=f"{10 + i % 7:.3f}",
                users="2",
            )
            writer.writerow([row[c] for c in COLUMNS])
    (run_dir / "run.json").write_text(json.dumps({"config": {"warmup_s": 0.0, "gates": list(gates)}}))
    return run_dir


def _one_line_exit_2(result: Finished, command: str) -> str:
    assert result.code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = str(lines[0])
    assert line.startswith(f"bench {command}: error: ")
    return line


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_of_every_subcommand(command: str) -> None:
    result = run_bench(command, "--help")
    assert result.code == 0, result.stderr
    assert result.stdout.startswith(f"usage: bench {command}")
    assert result.stderr == ""


def test_report_and_gate_on_broken_requests_csv(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "requests.csv").write_bytes(b"")
    line = _one_line_exit_2(run_bench("report", str(empty)), "report")
    assert "requests.csv is empty (0 bytes, not even its header line)" in line

    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "requests.csv").write_bytes(np.random.default_rng(0).bytes(4096))
    line = _one_line_exit_2(run_bench("gate", str(garbage), "--gate", "p95(latency)<1s"), "gate")
    assert "requests.csv is not a requests.csv of this harness (no header line)" in line

    header_only = _run(tmp_path / "header-only", 0)
    result = run_bench("report", str(header_only))
    assert result.code == 0, result.stderr
    assert "holds no requests (only its header): the run sent none" in result.stdout

    truncated = _run(tmp_path / "truncated", 20)
    data = (truncated / "requests.csv").read_bytes()
    (truncated / "requests.csv").write_bytes(data[:-30])  # a run stopped mid-write
    result = run_bench("report", str(truncated))
    assert result.code == 0, result.stderr
    assert "from 19 requests" in result.stdout


def test_gate_what_if_writes_into_whatif(tmp_path: Path) -> None:
    run = _run(tmp_path / "run", 40, gates=("p95(latency)<250ms",))
    assert run_bench("gate", str(run)).code == 0
    own = (run / "gates.json").read_bytes()
    result = run_bench("gate", str(run), "--gate", "p95(latency)<1ms")
    assert result.code == 3, result.stderr
    assert f"bench: what-if: wrote summary.csv, gates.json, junit.xml, summary.md in {run / 'whatif'}" in (
        result.stdout
    )
    assert (run / "gates.json").read_bytes() == own
    assert json.loads((run / "whatif" / "gates.json").read_text())["passed"] is False


def test_compare_names_requests_of_one_run_only(tmp_path: Path) -> None:
    base = _run(tmp_path / "base", 30, name="gone")
    cand = _run(tmp_path / "cand", 30, name="new")
    result = run_bench("compare", str(base), str(cand))
    assert result.code == 0, result.stderr
    assert "only in baseline: invoke gone (not compared)" in result.stdout.splitlines()
    assert "only in candidate: invoke new (not compared)" in result.stdout.splitlines()
    assert "- only in candidate: `invoke new`" in (cand / "compare.md").read_text()


def test_invoke_says_where_the_emulator_came_from() -> None:
    config = DATA / "emulator.toml"
    result = run_bench("invoke", "--emulator-config", str(config), "--endpoint", "demo-triton")
    assert result.code == 0, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"bench: started the emulator from {config} at http://127.0.0.1:")
    assert line.endswith("; targeting demo-triton")
    assert "no endpoint given" not in line


def test_invoke_stream_endpoint_sends_one_stream() -> None:
    config = DATA / "emulator-stream.toml"
    result = run_bench(
        "invoke", "--emulator-config", str(config), "--stream-endpoint", "llm-tgi", "--max-tokens", "4"
    )
    assert result.code == 0, result.stderr
    assert result.stderr.strip().endswith("; targeting llm-tgi")
    document = json.loads(result.stdout)
    assert (document["endpoint"], document["status"], document["http_status"]) == ("llm-tgi", "ok", 200)
    # TGI with an empty first chunk: 5 parts, 4 tokens
    assert (document["stream_format"], document["parts"], document["tokens"]) == ("tgi", 5, 4)
    assert len(document["text"].split()) == 4
    assert 0 < document["ttfp_ms"] <= document["execution_ms"]


def test_invoke_prompt_streams_from_the_demo_llm() -> None:
    result = run_bench("invoke", "--prompt", "hello", "--max-tokens", "3")
    assert result.code == 0, result.stderr
    assert "started the built-in emulator" in result.stderr
    assert result.stderr.strip().endswith("; targeting demo-llm")
    document = json.loads(result.stdout)
    assert (document["endpoint"], document["status"], document["tokens"]) == ("demo-llm", "ok", 3)


def test_invoke_stream_failure_keeps_what_arrived_and_exits_1() -> None:
    result = run_bench(
        "invoke",
        "--emulator-config",
        str(DATA / "emulator-stream.toml"),
        "--stream-endpoint",
        "fault-internalstreamfailure",
    )
    assert result.code == 1, result.stderr
    document = json.loads(result.stdout)
    assert (document["status"], document["error_type"], document["error_stage"]) == (
        "error",
        "InternalStreamFailure",
        "mid_stream",
    )
    assert document["parts"] == 3
    assert document["text"].strip()


def test_bad_files_and_hosts_are_one_line(tmp_path: Path) -> None:
    binary = tmp_path / "emulator.toml"
    binary.write_bytes(b"\xff\xfe\x00\x01binary")
    expected = f"{binary}: not a TOML file (byte 0 is not UTF-8 text); give the emulator's TOML configuration"
    assert _one_line_exit_2(run_bench("serve", "--config", str(binary), "--port", "0"), "serve").endswith(
        expected
    )
    assert _one_line_exit_2(run_bench("invoke", "--emulator-config", str(binary)), "invoke").endswith(
        expected
    )
    line = _one_line_exit_2(run_bench("serve", "--host", "192.0.2.1", "--port", "0"), "serve")
    assert line.startswith(
        "bench serve: error: --host 192.0.2.1: 192.0.2.1 is not an address of this machine"
    )
    assert "--port" not in line
    pickled = tmp_path / "objects.npz"
    np.savez(pickled, INPUT0=np.array([{"a": 1}], dtype=object))
    line = _one_line_exit_2(run_bench("invoke", "--payload", str(pickled)), "invoke")
    assert f"--payload {pickled}: member 'INPUT0' is an object array" in line


def test_report_on_an_open_loop_run_and_on_one_from_before_it(tmp_path: Path) -> None:
    """Issue #14: an open-loop run's lag figures and verdict offline; a requests.csv without the
    open-loop columns (an older run) still reports, as a closed-loop run."""
    run = _run(tmp_path / "open", 100)
    rows = list(csv.reader((run / "requests.csv").open(newline="")))
    lag_at, effective_at = COLUMNS.index("schedule_lag_ms"), COLUMNS.index("effective_latency_ms")
    for i, row in enumerate(rows[1:]):
        lag = 2.5 if i % 10 == 0 else 0.1  # 10 of 100 requests sent 2.5 ms late
        row[lag_at], row[effective_at] = f"{lag:.3f}", f"{float(row[COLUMNS.index('latency_ms')]) + lag:.3f}"
    with (run / "requests.csv").open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    arrival = {"rate_per_s": 100.0, "distribution": "poisson", "seed": 0, "sent": 100, "not_sent": 0}
    (run / "run.json").write_text(json.dumps({"config": {"warmup_s": 0.0}, "arrival": arrival}))
    result = run_bench("report", str(run))
    assert result.code == 0, result.stderr
    assert (
        "bench: open loop (poisson): target 100 req/s, achieved 100.0 req/s; effective latency"
        in result.stdout
    )
    assert "; schedule lag p99 2.50 ms; 10 late (10%)" in result.stdout
    assert "bench: INVALID open-loop run: 10% of requests were sent more than 1 ms late: all 2 users" in (
        result.stdout
    )
    gated = run_bench("gate", str(run), "--gate", "late_rate<1%", "--gate", "p99(effective_latency)<20ms")
    assert gated.code == 3, gated.stderr
    assert "late_rate<1%" in gated.stdout
    assert "10%" in gated.stdout

    old = _run(tmp_path / "old", 30)
    kept = [i for i, c in enumerate(COLUMNS) if c not in ("schedule_lag_ms", "effective_latency_ms")]
    old_rows = list(csv.reader((old / "requests.csv").open(newline="")))
    with (old / "requests.csv").open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([[r[i] for i in kept] for r in old_rows])
    result = run_bench("report", str(old))
    assert result.code == 0, result.stderr
    assert "from 30 requests" in result.stdout
    assert "open loop" not in result.stdout
    assert run_bench("gate", str(old), "--gate", "late==0", "--gate", "max(schedule_lag)==0").code == 0
