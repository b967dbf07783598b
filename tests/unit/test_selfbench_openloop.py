"""The pure parts of ``bench selfbench``'s open-loop line: the precision verdict, the rate search, the
reported trial and its PASS/MISS against the closed loop, the table and the CSV."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from bench.selfbench import Measurement
from bench.selfbench_openloop import (
    CSV_COLUMNS,
    DEFAULT_STEPS,
    FAST_TARGET_RATIO,
    OpenLoopResult,
    OpenLoopTrial,
    best_trial,
    format_open_loop,
    holds,
    measure_trial,
    next_rate,
    plan_for,
    start_rate,
    write_open_loop_csv,
)


def trial(rate: float, *, held: bool = True, requests: int = 1000, cpu_s: float = 0.5) -> OpenLoopTrial:
    return OpenLoopTrial(
        rate_per_s=rate,
        scheduled=1000,
        sent=1000 if held else 900,
        requests=requests,
        wall_s=2.0,
        cpu_s=cpu_s,
        lag_p50_ms=0.1,
        lag_p99_ms=0.5,
        late=0,
    )


def search(start: float, capacity: float, steps: int = DEFAULT_STEPS) -> list[OpenLoopTrial]:
    """The search against a generator that holds every rate up to ``capacity``."""
    trials: list[OpenLoopTrial] = []
    while (rate := next_rate(start, trials, steps)) is not None:
        trials.append(trial(rate, held=rate <= capacity))
    return trials


# -- the verdict ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scheduled", "sent", "lag_p99_ms", "expected"),
    [
        (1000, 1000, 0.5, True),
        (1000, 990, 0.5, True),  # 1% short: still within
        (1000, 1010, 0.5, True),
        (1000, 989, 0.5, False),  # more than 1% short
        (1000, 1011, 0.5, False),
        (1000, 1000, 0.999, True),
        (1000, 1000, 1.0, False),  # p99 must be under 1 ms
        (1000, 1000, 3.0, False),
        (0, 0, 0.1, False),  # nothing scheduled: nothing held
        (1000, 1000, math.nan, False),  # no lag measured
    ],
)
def test_a_rate_holds_within_one_percent_of_the_schedule_and_under_one_ms_of_lag_p99(
    scheduled: int, sent: int, lag_p99_ms: float, expected: bool
) -> None:
    assert holds(scheduled, sent, lag_p99_ms) is expected


def test_a_trial_takes_its_percentiles_and_late_count_from_the_lags() -> None:
    lags = [0.0] * 97 + [0.9, 1.0, 5.0]  # late means more than 1 ms: only the 5 ms one
    measured = measure_trial(
        500.0, scheduled=100, sent=100, requests=100, wall_s=0.2, cpu_s=0.05, lags_ms=lags
    )
    assert measured.lag_p50_ms == 0.0
    assert measured.lag_p99_ms == pytest.approx(1.0 + 0.01 * (5.0 - 1.0))  # numpy's linear percentile
    assert measured.late == 1
    assert not measured.held  # p99 above 1 ms
    assert measured.achieved_per_s == pytest.approx(500.0)
    assert measured.scheduled_per_s == pytest.approx(500.0)
    assert measured.per_cpu_s == pytest.approx(2000.0)
    on_time = measure_trial(
        500.0, scheduled=100, sent=99, requests=99, wall_s=0.2, cpu_s=0.05, lags_ms=[0.2] * 99
    )
    assert on_time.held
    assert on_time.late == 0


def test_a_window_without_requests_holds_nothing() -> None:
    empty = measure_trial(100.0, scheduled=10, sent=10, requests=0, wall_s=0.1, cpu_s=0.0, lags_ms=[])
    assert math.isnan(empty.lag_p99_ms)
    assert not empty.held
    assert empty.per_cpu_s == 0.0


# -- the search ----------------------------------------------------------------------------------------
def test_the_search_starts_at_its_start_rate_rounded() -> None:
    assert next_rate(1234.4, [], 8) == 1234.0


@pytest.mark.parametrize("capacity", [300.0, 900.0, 1100.0, 1500.0, 2600.0])
def test_the_search_ends_on_the_highest_rate_held_within_its_resolution(capacity: float) -> None:
    trials = search(1000.0, capacity, steps=12)
    best = best_trial(trials)
    assert best is not None
    assert best.rate_per_s <= capacity
    failed_above = [t.rate_per_s for t in trials if not t.held]
    assert failed_above, "the search stops only once it has bracketed the capacity"
    assert min(failed_above) <= best.rate_per_s * 1.05 + 1  # bisected down to 5% (and whole rates)
    assert len(trials) <= 12


def test_the_search_grows_while_held_shrinks_while_not_and_then_bisects() -> None:
    assert next_rate(1000.0, [trial(1000.0)], 8) == 1250.0
    assert next_rate(1000.0, [trial(1000.0, held=False)], 8) == 700.0
    assert next_rate(1000.0, [trial(1000.0), trial(1250.0, held=False)], 8) == round(math.sqrt(1000 * 1250))
    assert next_rate(1000.0, [trial(1000.0), trial(1040.0, held=False)], 8) is None  # within 5%


def test_the_search_is_bounded_by_its_steps() -> None:
    assert len(search(100.0, 1e9, steps=5)) == 5  # never fails: grows until the steps are spent
    assert len(search(1e6, 0.0, steps=4)) == 4  # never holds
    assert next_rate(100.0, [trial(100.0)] * 3, 3) is None
    assert search(100.0, 1e9, steps=0) == []


def test_a_noisy_hold_above_a_failure_moves_the_bracket_up() -> None:
    trials = [trial(1000.0), trial(1250.0, held=False), trial(1118.0, held=False), trial(1300.0)]
    assert best_trial(trials) == trials[-1]
    assert next_rate(1000.0, trials, 8) == round(1300.0 * 1.25)


def test_the_search_never_retries_a_rate() -> None:
    assert next_rate(1.0, [trial(1.0, held=False)], 8) is None  # cannot go below 1 request/s
    assert next_rate(3.0, [trial(3.0), trial(4.0, held=False)], 8) is None  # the next whole rate is tried


def test_the_search_starts_at_half_the_closed_loop_throughput() -> None:
    closed = Measurement("ours-fast", 70_000, 70_000, 10.0, 9.5, 7_368.0, 7_000.0, 7_500.0, None, None)
    assert start_rate(closed) == pytest.approx(3_500.0)
    idle = Measurement("ours-fast", 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, None, None)
    assert start_rate(idle) == 1.0


def test_the_open_loop_part_stays_near_a_minute_at_the_default_seconds() -> None:
    plan = plan_for(3500.0, seconds=10.0, steps=DEFAULT_STEPS, quick=False)
    assert plan.window_s == 2.0
    assert 2 * plan.duration_s <= 50.0  # two transports, each about 5 s more to start and stop
    quick = plan_for(3500.0, seconds=10.0, steps=DEFAULT_STEPS, quick=True)
    assert quick.steps == 3
    assert quick.duration_s <= 3.0
    assert plan_for(1.0, seconds=100.0, steps=2, quick=False).window_s == 3.0


# -- the result, the table, the CSV --------------------------------------------------------------------
def result(trials: list[OpenLoopTrial], transport: str = "fast", closed: float = 2000.0) -> OpenLoopResult:
    return OpenLoopResult(
        transport=transport,
        arrival="poisson",
        trials=tuple(trials),
        closed_per_cpu_s=closed,
        target_ratio=FAST_TARGET_RATIO if transport == "fast" else None,
    )


def test_the_fast_transport_passes_when_it_holds_0_8_of_its_closed_loop_per_cpu_second() -> None:
    passing = result([trial(1600.0, requests=3200, cpu_s=2.0), trial(2000.0, held=False)])
    assert passing.chosen == passing.trials[0]
    assert passing.per_cpu_ratio == pytest.approx(0.8)  # 1,600 per CPU-s over 2,000
    assert passing.rate_ratio == pytest.approx(0.8)  # 1,600/s held over 2,000 per CPU-s
    assert passing.verdict == "PASS"
    cheap_but_slow = result([trial(1000.0, requests=2000, cpu_s=1.0)])  # 2,000 per CPU-s at 1,000/s
    assert cheap_but_slow.per_cpu_ratio == pytest.approx(1.0)
    assert cheap_but_slow.rate_ratio == pytest.approx(0.5)
    assert cheap_but_slow.verdict == "MISS"
    costly = result([trial(1700.0, requests=3000, cpu_s=2.0)])  # 1,500 per CPU-s
    assert costly.rate_ratio == pytest.approx(0.85)
    assert costly.verdict == "MISS"
    none_held = result([trial(1000.0, held=False), trial(700.0, held=False)])
    assert none_held.chosen is None
    assert none_held.per_cpu_ratio is None
    assert none_held.rate_ratio is None
    assert none_held.verdict == "MISS"
    boto3 = result([trial(500.0)], transport="boto3")
    assert boto3.verdict is None


def test_the_table_prints_the_reported_trial_and_the_verdict_from_the_figures() -> None:
    text = format_open_loop(
        [
            result([trial(400.0), trial(500.0, held=False)], transport="boto3", closed=2500.0),
            result([trial(1600.0, requests=3200, cpu_s=2.0), trial(2000.0, held=False)]),
            result([trial(900.0, held=False)], transport="fast"),
        ]
    )
    lines = text.splitlines()
    assert lines[0].startswith("open loop (poisson")
    boto3 = next(line for line in lines if line.startswith("boto3 "))
    assert boto3.split()[1] == "400"
    assert boto3.split()[-2:] == ["2,000", "2"]  # per CPU-s, steps
    assert (
        "open / closed boto3          per CPU-s 0.800, rate 0.160 (of 2,500 per CPU-s closed loop)" in lines
    )
    assert (
        "open / closed fast           per CPU-s 0.800, rate 0.800 (of 2,000 per CPU-s closed loop)"
        "  (target >= 0.8: PASS)"
    ) in lines
    assert any(line.startswith("fast") and "no rate held (lowest tried 900/s" in line for line in lines)
    assert "open / closed fast           -  (target >= 0.8: MISS)" in lines
    assert format_open_loop([]) == ""


def test_every_trial_is_a_csv_row_and_the_reported_one_is_chosen(tmp_path: Path) -> None:
    path = tmp_path / "open.csv"
    results = [
        result([trial(400.0), trial(500.0, held=False)], transport="boto3"),
        result([trial(1000.0), trial(1250.0), trial(1560.0, held=False)]),
    ]
    write_open_loop_csv(path, results)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["transport"], r["step"], r["rate_per_s"]) for r in rows] == [
        ("boto3", "1", "400"),
        ("boto3", "2", "500"),
        ("fast", "1", "1000"),
        ("fast", "2", "1250"),
        ("fast", "3", "1560"),
    ]
    assert [r["chosen"] for r in rows] == ["1", "0", "0", "1", "0"]
    assert [r["held"] for r in rows] == ["1", "0", "1", "1", "0"]
    assert [r["target_ratio"] for r in rows] == ["", "", "0.8", "0.8", "0.8"]
    fast = rows[3]
    assert float(fast["per_cpu_s"]) == pytest.approx(2000.0)
    assert float(fast["per_cpu_ratio"]) == pytest.approx(1.0)
    assert float(fast["rate_ratio"]) == pytest.approx(0.625)
    assert float(fast["achieved_per_s"]) == pytest.approx(500.0)
