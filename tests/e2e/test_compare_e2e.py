"""Comparing real runs: a +3 ms service time is a significant regression, a rerun is not."""

from __future__ import annotations

from pathlib import Path

from support import only_run_dir, run_bench, run_locust

from bench.analysis.compare import Comparison, MetricComparison, compare_runs
from bench.report.comparison import format_comparison

ENDPOINT = """
seed = 5

[[endpoint]]
name = "cmp"
[endpoint.capacity]
slots = 8
queue_limit = 256
service_time = {{ distribution = "fixed", ms = {service_ms} }}
[[endpoint.model]]
name = "add_sub"
type = "add_sub"
max_batch_size = 8
input = [
  {{ name = "INPUT0", datatype = "FP32", dims = [16] }},
  {{ name = "INPUT1", datatype = "FP32", dims = [16] }},
]
output = [
  {{ name = "OUTPUT0", datatype = "FP32", dims = [16] }},
  {{ name = "OUTPUT1", datatype = "FP32", dims = [16] }},
]
"""


def _run(tmp_path: Path, label: str, service_ms: float) -> Path:
    config = tmp_path / f"{label}.toml"
    config.write_text(ENDPOINT.format(service_ms=service_ms))
    report_dir = tmp_path / label
    result = run_locust(
        "--headless", "-u", "2", "-r", "2", "-t", "4s", "TritonUser",
        "--emulator-config", str(config), "--endpoint", "cmp",
        "--input", "INPUT0:FP32:1,16", "--input", "INPUT1:FP32:1,16",
        "--report-dir", str(report_dir),
    )  # fmt: skip
    assert result.code == 0, result.stderr[-3000:]
    return only_run_dir(report_dir)


def test_slower_service_time_regresses_and_a_rerun_does_not(tmp_path: Path) -> None:
    baseline = _run(tmp_path, "baseline", 10.0)
    rerun = _run(tmp_path, "rerun", 10.0)
    slow = _run(tmp_path, "slow", 13.0)

    slower = compare_runs(baseline, slow, max_regression=0.10)
    print(format_comparison(slower))  # shown when the test fails
    p50 = _p50(slower)
    assert p50.baseline_count > 200
    assert p50.regressed
    assert slower.failed
    # +3 ms on 10 ms (plus the harness's own ~1 ms) is about +27%: the interval must exclude +10% and be
    # narrow enough to mean something (below +50%).
    assert 0.1 < p50.ci_low <= p50.change <= p50.ci_high < 0.5

    same = compare_runs(baseline, rerun, max_regression=0.10)
    print(format_comparison(same))
    assert not same.failed, same.regressions
    assert abs(_p50(same).change) < 0.1

    # The command line: exit 3 for the regression, 0 for the rerun, files in the candidate directory.
    flagged = run_bench("compare", str(baseline), str(slow), "--max-regression", "10%")
    assert flagged.code == 3, flagged.stdout + flagged.stderr
    assert (slow / "compare.csv").exists()
    assert (slow / "compare.md").exists()
    assert run_bench("compare", str(baseline), str(rerun)).code == 0
    bad = run_bench("compare", str(baseline), str(tmp_path / "nowhere"))
    assert bad.code == 2
    assert len(bad.stderr.strip().splitlines()) == 1


def _p50(comparison: Comparison) -> MetricComparison:
    return next(r for r in comparison.rows if (r.name, r.metric) == ("cmp", "latency_p50_ms"))
