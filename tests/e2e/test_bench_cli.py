"""``bench invoke`` and ``bench report`` as real processes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from support import TEST_EMULATOR_CONFIG, only_run_dir, run_bench, run_locust


def test_invoke_prints_decoded_outputs() -> None:
    result = run_bench("invoke", "--input", "INPUT0:FP32:1,16:1,2", "--input", "INPUT1:FP32:1,16:0.5")
    assert result.code == 0, result.stderr
    assert "started the built-in emulator" in result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "ok"
    assert document["http_status"] == 200
    assert document["variant"] == "AllTraffic"
    assert document["execution_ms"] > 0
    outputs = {o["name"]: o for o in document["outputs"]}
    assert outputs["OUTPUT0"]["shape"] == [1, 16]
    assert np.allclose(outputs["OUTPUT0"]["data"], [1.5, 2.5] * 8)
    assert np.allclose(outputs["OUTPUT1"]["data"], [0.5, 1.5] * 8)


def test_invoke_reports_an_endpoint_error_with_exit_1() -> None:
    result = run_bench(
        "invoke",
        "--emulator-config",
        str(TEST_EMULATOR_CONFIG),
        "--endpoint",
        "demo-triton",
        "--input",
        "INPUT0:FP32:1,16",
        "--input",
        "BOGUS:FP32:1,16",
    )
    assert result.code == 1, result.stderr
    document = json.loads(result.stdout)
    assert (document["error_type"], document["original_status"]) == ("ModelError", 400)
    assert "unexpected inference input 'BOGUS'" in document["original_message"]


def test_invoke_bad_input_is_one_line_exit_2() -> None:
    result = run_bench("invoke", "--input", "INPUT0:FP99:1")
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        "bench invoke: error: --input INPUT0:FP99:1: unknown datatype 'FP99'; use one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BF16, BYTES"
    ]
    unknown = run_bench("invoke", "--no-such-flag")
    assert unknown.code == 2
    assert len(unknown.stderr.strip().splitlines()) == 1


def test_report_regenerates_tables_offline(tmp_path: Path) -> None:
    done = run_locust(
        "--headless", "-u", "2", "-r", "2", "-t", "2s", "--report-dir", str(tmp_path / "reports")
    )
    assert done.code == 0, done.stderr[-2000:]
    run_dir = only_run_dir(tmp_path / "reports")
    original = pd.read_csv(run_dir / "summary.csv")
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    for name in ("summary.csv", "errors.csv", "timeseries.csv"):
        (copy / name).unlink()
    result = run_bench("report", str(copy))
    assert result.code == 0, result.stderr
    pd.testing.assert_frame_equal(pd.read_csv(copy / "summary.csv"), original)
    assert (copy / "timeseries.csv").exists()
    warm = run_bench("report", str(copy), "--warmup", "1s")
    assert warm.code == 0
    assert pd.read_csv(copy / "summary.csv").iloc[-1]["count"] < original.iloc[-1]["count"]
    missing = run_bench("report", str(tmp_path / "nowhere"))
    assert missing.code == 2
    assert "no requests.csv there" in missing.stderr
