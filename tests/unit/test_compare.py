"""Run comparison: regressions flagged only when beyond the threshold and significant; bootstrap intervals."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.analysis.compare import MIN_SAMPLES, Comparison, MetricComparison, compare_runs
from bench.collect import COLUMNS
from bench.config import parse_percentage
from bench.errors import ConfigError
from bench.report.comparison import COMPARE_COLUMNS, format_comparison, write_comparison

LATENCY_METRICS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")


def _records(
    latencies: np.ndarray,
    *,
    errors: int = 0,
    name: str = "ep",
    request_type: str = "invoke",
    ttfp: np.ndarray | None = None,
    start: float = 1000.0,
) -> list[dict[str, str]]:
    """One record per latency, 10 ms apart; the first ``errors`` are Throttling errors."""
    rows = []
    for i, latency in enumerate(latencies):
        failed = i < errors
        row = dict.fromkeys(COLUMNS, "")
        row.update(
            timestamp_s=f"{start + i * 0.01:.6f}",
            intended_start_s=f"{start + i * 0.01:.6f}",
            worker="local",
            user_class="U",
            request_type=request_type,
            name=name,
            endpoint=name,
            status="error" if failed else "ok",
            error_type="Throttling" if failed else "",
            error_stage="request" if failed else "",
            latency_ms=f"{latency:.4f}",
            ttfp_ms="" if ttfp is None else f"{ttfp[i]:.4f}",
            users="4",
        )
        rows.append(row)
    return rows


def _run(run_dir: Path, *groups: list[dict[str, str]], warmup_s: float | None = None) -> Path:
    run_dir.mkdir(parents=True)
    with (run_dir / "requests.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for group in groups:
            writer.writerows([row[c] for c in COLUMNS] for row in group)
    if warmup_s is not None:
        (run_dir / "run.json").write_text(json.dumps({"config": {"warmup_s": warmup_s}}))
    return run_dir


def _lognormal(seed: int, n: int = 2000) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(np.log(20.0), 0.3, n)


def _row(comparison: Comparison, metric: str, request: str = "ALL") -> MetricComparison:
    (row,) = [r for r in comparison.rows if r.metric == metric and request in (r.request_type, r.name)]
    return row


def _regressed(comparison: Comparison) -> set[tuple[str, str]]:
    return {(r.name, r.metric) for r in comparison.regressions}


def test_latencies_times_1_3_regress(tmp_path: Path) -> None:
    base = _lognormal(1)
    comparison = compare_runs(
        _run(tmp_path / "base", _records(base)), _run(tmp_path / "cand", _records(base * 1.3))
    )
    assert comparison.failed
    assert _regressed(comparison) == {(name, m) for name in ("ep", "ALL") for m in LATENCY_METRICS}
    for metric in LATENCY_METRICS:
        row = _row(comparison, metric)
        assert row.change == pytest.approx(0.3, abs=1e-3)  # the csv keeps 4 decimals
        assert 0 < row.ci_low < 0.3 < row.ci_high
        assert (row.unit, row.threshold, row.baseline_count, row.candidate_count) == (
            "relative",
            0.1,
            2000,
            2000,
        )
    assert not _row(comparison, "error_rate").regressed
    same_data = _row(comparison, "latency_p95_ms", "ep")
    assert (same_data.ci_low, same_data.ci_high) == (
        _row(comparison, "latency_p95_ms").ci_low,
        _row(comparison, "latency_p95_ms").ci_high,
    )
    assert not any(r.metric.startswith("ttfp") for r in comparison.rows)  # no streams: no TTFP rows


def test_same_distribution_is_not_flagged_and_results_are_reproducible(tmp_path: Path) -> None:
    baseline = _run(tmp_path / "base", _records(_lognormal(1)))
    candidate = _run(tmp_path / "cand", _records(_lognormal(2)))
    comparison = compare_runs(baseline, candidate)
    assert not comparison.failed
    assert all(not r.note for r in comparison.rows)
    assert all(r.ci_low < 0.1 for r in comparison.rows)
    assert compare_runs(baseline, candidate) == comparison  # seeded
    assert compare_runs(baseline, candidate, seed=1) != comparison


def test_a_significant_change_within_the_threshold_is_not_flagged(tmp_path: Path) -> None:
    comparison = compare_runs(
        _run(tmp_path / "base", _records(_lognormal(1, 4000))),
        _run(tmp_path / "cand", _records(_lognormal(2, 4000) * 1.05)),
        max_regression=0.10,
    )
    p50 = _row(comparison, "latency_p50_ms")
    assert p50.ci_low > 0  # significant ...
    assert p50.change < 0.10  # ... but within the threshold
    assert not comparison.failed
    assert _regressed(compare_runs(tmp_path / "base", tmp_path / "cand", max_regression=0.02)) >= {
        ("ALL", "latency_p50_ms")
    }


def test_error_rate_from_0_to_5_percent_regresses(tmp_path: Path) -> None:
    latencies = _lognormal(1, 1000)
    comparison = compare_runs(
        _run(tmp_path / "base", _records(latencies)),
        _run(tmp_path / "cand", _records(latencies, errors=50)),
    )
    row = _row(comparison, "error_rate")
    assert (row.baseline, row.candidate, row.unit) == (0.0, 0.05, "points")
    assert row.change == pytest.approx(5.0)
    assert 0 < row.ci_low < 5.0 < row.ci_high
    assert _regressed(comparison) == {("ep", "error_rate"), ("ALL", "error_rate")}
    assert _row(comparison, "latency_p50_ms").candidate_count == 950  # latency: successful requests only


def test_bootstrap_interval_contains_the_true_change(tmp_path: Path) -> None:
    comparison = compare_runs(
        _run(tmp_path / "base", _records(_lognormal(3, 3000))),
        _run(tmp_path / "cand", _records(_lognormal(4, 3000) * 1.2)),  # every percentile is 20% higher
        confidence=0.95,
    )
    for metric in ("latency_p50_ms", "latency_p95_ms"):
        row = _row(comparison, metric)
        assert row.ci_low < 0.2 < row.ci_high
        assert row.ci_high - row.ci_low < 0.15
    wide = _row(compare_runs(tmp_path / "base", tmp_path / "cand", confidence=0.99), "latency_p50_ms")
    p50 = _row(comparison, "latency_p50_ms")
    assert wide.ci_low < p50.ci_low < p50.ci_high < wide.ci_high


def test_fast_bootstrap_matches_resampling_index_matrices() -> None:
    from bench.analysis.compare import _bootstrap

    values = np.random.default_rng(1).lognormal(3.0, 0.5, 300)
    qs = (50.0, 95.0, 99.0)
    fast = _bootstrap(values, qs, 20_000, np.random.default_rng(2))
    indices = np.random.default_rng(3).integers(0, values.size, size=(20_000, values.size))
    brute = np.percentile(values[indices], qs, axis=1).T
    for i in range(len(qs)):
        spread = float(np.std(brute[:, i]))
        for level in (2.5, 25, 50, 75, 97.5):
            assert np.percentile(fast[:, i], level) == pytest.approx(
                np.percentile(brute[:, i], level), abs=0.1 * spread
            )
        assert np.mean(fast[:, i]) == pytest.approx(np.mean(brute[:, i]), abs=0.05 * spread)


def test_streams_small_groups_unmatched_names_and_warmup(tmp_path: Path) -> None:
    ttfp = _lognormal(5, 500)
    baseline = _run(
        tmp_path / "base",
        _records(_lognormal(1, 500) * 100.0, start=990.0)[:100],  # inside the 10 s warm-up
        _records(_lognormal(1, 500) * 10, request_type="stream", name="llm", ttfp=ttfp),
        _records(_lognormal(2, 10), name="rare"),
        _records(_lognormal(2, 30), name="gone"),
        warmup_s=10.0,
    )
    candidate = _run(
        tmp_path / "cand",
        _records(_lognormal(3, 500) * 10, request_type="stream", name="llm", ttfp=ttfp * 1.5),
        _records(_lognormal(2, 10), name="rare"),
        _records(_lognormal(2, 30), name="new"),
    )
    comparison = compare_runs(baseline, candidate)
    assert (comparison.baseline_warmup_s, comparison.candidate_warmup_s) == (10.0, 0.0)
    assert comparison.baseline_only == (("invoke", "gone"),)
    assert comparison.candidate_only == (("invoke", "new"),)
    assert _row(comparison, "latency_p50_ms", "ALL").baseline_count == 540  # warm-up left out
    assert _regressed(comparison) == {
        ("llm", "ttfp_p50_ms"),
        ("llm", "ttfp_p95_ms"),
        ("ALL", "ttfp_p50_ms"),
        ("ALL", "ttfp_p95_ms"),
    }
    rare = [r for r in comparison.rows if r.name == "rare"]
    assert {r.metric for r in rare} == {*LATENCY_METRICS, "error_rate"}
    assert all(not r.regressed and r.note.startswith("not judged: 10 baseline") for r in rare)
    assert all(np.isnan(r.ci_low) for r in rare)
    assert all(r.baseline > 0 for r in rare if r.metric != "error_rate")  # values are still shown
    assert MIN_SAMPLES == 20


def test_writers(tmp_path: Path) -> None:
    base = _lognormal(1)
    comparison = compare_runs(
        _run(tmp_path / "base", _records(base, name="a|b")),
        _run(tmp_path / "cand", _records(base * 1.3, errors=1, name="a|b")),
    )
    csv_path, md_path = write_comparison(comparison, tmp_path)
    table = pd.read_csv(csv_path, keep_default_na=False)
    assert tuple(table.columns) == COMPARE_COLUMNS
    assert len(table) == len(comparison.rows) == 8
    assert table["regressed"].sum() == 6
    assert "true" in csv_path.read_text()
    markdown = md_path.read_text(encoding="utf-8")
    assert "**❌ 6 regressions in 8 metrics (latency/TTFP: worse by more than 10%" in markdown
    row = (
        r"\| invoke a\\\|b \| latency p50 \| \d+\.\d\d ms \| \d+\.\d\d ms "
        r"\| \+30\.0% \[\+\d+\.\d%, \+\d+\.\d%\] \| ❌ regressed \|"
    )
    assert re.search(row, markdown), markdown
    assert markdown.count("❌ regressed") == 6
    console = format_comparison(comparison)
    assert console.splitlines()[-1].startswith("6 regressions in 8 metrics")
    assert "error rate" in console
    assert "+0.05 pp" in console


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10%", 0.10), ("0.1", 0.10), (" 2.5 % ", 0.025), ("0", 0.0), ("150%", 1.5), (".05", 0.05)],
)
def test_parse_percentage(text: str, expected: float) -> None:
    assert parse_percentage(text, "--max-regression") == pytest.approx(expected)


@pytest.mark.parametrize("text", ["10", "1", "ten", "", "1e-1", "nan", "5%%"])
def test_parse_percentage_rejects(text: str) -> None:
    with pytest.raises(
        ConfigError, match=r"^--max-regression: .* is not a percentage; write e.g. 10% or 0.1$"
    ):
        parse_percentage(text, "--max-regression")


def test_a_negative_percentage_says_so() -> None:
    with pytest.raises(
        ConfigError, match=r"^--max-regression: '-5%' must not be negative; write e.g. 10% or 0.1$"
    ):
        parse_percentage("-5%", "--max-regression")


def test_bad_directories_are_one_line_config_errors(tmp_path: Path) -> None:
    good = _run(tmp_path / "good", _records(_lognormal(1, 50)))
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "requests.csv").write_text("a,b\n1,2\n")
    for bad in ("missing", "empty"):
        with pytest.raises(
            ConfigError, match=rf"^{tmp_path / bad}: no requests.csv there; give the directory"
        ):
            compare_runs(good, tmp_path / bad)
    with pytest.raises(ConfigError) as caught:
        compare_runs(tmp_path / "broken", good)
    assert "requests.csv: unreadable" in str(caught.value)
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="confidence"):
        compare_runs(good, good, confidence=95)


def test_a_run_from_before_the_open_loop_columns_compares_with_a_new_one(tmp_path: Path) -> None:
    """A baseline whose requests.csv lacks schedule_lag_ms and effective_latency_ms (an older run)."""
    base = _run(tmp_path / "base", _records(_lognormal(1)))
    old = [c for c in COLUMNS if c not in ("schedule_lag_ms", "effective_latency_ms")]
    with (base / "requests.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with (base / "requests.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(old)
        writer.writerows([row[c] for c in old] for row in rows)
    comparison = compare_runs(base, _run(tmp_path / "cand", _records(_lognormal(1) * 1.3)))
    assert _regressed(comparison) == {(name, m) for name in ("ep", "ALL") for m in LATENCY_METRICS}
