"""The open-loop arrival schedule (bench.pacer): rate, gap statistics, reproducibility, the union over
processes, and the fit of Poisson gaps to the exponential distribution. Pure numpy, no clock."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from bench.pacer import ARRIVAL_DISTRIBUTIONS, ArrivalSchedule

RATE_PER_S = 1000.0
HORIZON_S = 1000.0  # ~1e6 sends: the Poisson count has SD sqrt(1e6) = 1000, 0.1% of the mean
RATE_REL_TOLERANCE = 0.01  # ~10 SD for Poisson; constant is exact to one send (1e-6 here)
CV_TOLERANCE = 0.02  # the CV of 1e6 exponential gaps has SE ~ 1 / sqrt(n) = 0.001
# Chi-square on 20 equiprobable bins of the exponential with the known mean: 19 degrees of freedom;
# the 0.999 quantile of chi2(19) is 43.820 (tables; scipy.stats.chi2.ppf(0.999, 19) = 43.8202).
CHI2_BINS = 20
CHI2_19_P999 = 43.820
KS_P_MIN = 0.001


def _gaps(times: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.diff(np.concatenate(([0.0], times)))


def _cv(gaps: npt.NDArray[np.float64]) -> float:
    return float(np.std(gaps) / np.mean(gaps))


def _chi_square_exponential(gaps: npt.NDArray[np.float64], mean_s: float) -> float:
    """Pearson's statistic of ``gaps`` against Exp(mean) on equiprobable bins (edges -mean ln(1 - j/k))."""
    inner = -mean_s * np.log1p(-np.arange(1, CHI2_BINS) / CHI2_BINS)
    observed = np.bincount(np.searchsorted(inner, gaps, side="right"), minlength=CHI2_BINS)
    expected = len(gaps) / CHI2_BINS
    return float(np.sum((observed - expected) ** 2) / expected)


@pytest.mark.parametrize("distribution", ARRIVAL_DISTRIBUTIONS)
def test_the_achieved_rate_matches_the_target(distribution: Any) -> None:
    times = ArrivalSchedule(RATE_PER_S, distribution, seed=1).send_times(HORIZON_S)
    achieved_per_s = len(times) / HORIZON_S
    assert abs(achieved_per_s / RATE_PER_S - 1) < RATE_REL_TOLERANCE, achieved_per_s
    assert np.all(np.diff(times) > 0)
    assert times[0] >= 0
    assert times[-1] < HORIZON_S


def test_poisson_gaps_have_a_coefficient_of_variation_of_one() -> None:
    gaps = _gaps(ArrivalSchedule(RATE_PER_S, "poisson", seed=2).send_times(HORIZON_S))
    assert abs(_cv(gaps) - 1) < CV_TOLERANCE
    assert abs(np.mean(gaps) * RATE_PER_S - 1) < RATE_REL_TOLERANCE


def test_constant_gaps_have_no_variation_and_start_at_zero() -> None:
    times = ArrivalSchedule(RATE_PER_S, "constant", seed=2).send_times(HORIZON_S)
    assert len(times) == int(RATE_PER_S * HORIZON_S)
    assert times[0] == 0.0
    assert _cv(np.diff(times)) < 1e-9
    np.testing.assert_allclose(np.diff(times), 1 / RATE_PER_S, rtol=1e-6)


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another() -> None:
    first = ArrivalSchedule(50.0, "poisson", seed=11).send_times(100.0)
    again = ArrivalSchedule(50.0, "poisson", seed=11).send_times(100.0)
    other = ArrivalSchedule(50.0, "poisson", seed=12).send_times(100.0)
    np.testing.assert_array_equal(first, again)
    assert len(first) != len(other) or not np.array_equal(first, other)
    assert not np.allclose(first[:100], other[:100])


def test_each_process_has_its_own_stream_from_seed_and_index() -> None:
    zero = ArrivalSchedule(50.0, "poisson", seed=11, process_index=0, processes=2).send_times(100.0)
    one = ArrivalSchedule(50.0, "poisson", seed=11, process_index=1, processes=2).send_times(100.0)
    assert not np.allclose(zero[:100], one[:100])
    # The documented derivation: SeedSequence(seed).spawn(processes)[index] gives the same gaps.
    spawned = np.random.SeedSequence(11).spawn(2)[1]
    expected = np.cumsum(np.random.default_rng(spawned).exponential(2 / 50.0, 100))
    np.testing.assert_allclose(one[:100], expected, rtol=1e-12)


@pytest.mark.parametrize("distribution", ARRIVAL_DISTRIBUTIONS)
def test_the_iterator_gives_the_send_times_across_block_boundaries(distribution: Any) -> None:
    expected = ArrivalSchedule(200.0, distribution, seed=5, process_index=1, processes=3).send_times(100.0)
    schedule = ArrivalSchedule(200.0, distribution, seed=5, process_index=1, processes=3, block_size=7)
    got = [schedule.next_send_s() for _ in range(len(expected))]
    assert all(type(t) is float for t in got)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    default = ArrivalSchedule(200.0, distribution, seed=5, process_index=1, processes=3)
    iterated = [t for _, t in zip(range(5000), default, strict=False)]  # > one block of 4096
    np.testing.assert_allclose(iterated, expected[:5000], rtol=1e-12)
    assert len(expected) >= 5000


def test_send_times_does_not_consume_the_iterator() -> None:
    schedule = ArrivalSchedule(10.0, "poisson", seed=3)
    first = schedule.next_send_s()
    times = schedule.send_times(10.0)
    assert times[0] == first
    assert schedule.next_send_s() == times[1]
    assert len(schedule.send_times(0.0)) == 0


@pytest.mark.parametrize("processes", [2, 4, 7])
def test_the_union_of_constant_processes_is_evenly_spaced_at_the_whole_rate(processes: int) -> None:
    union = np.sort(
        np.concatenate(
            [
                ArrivalSchedule(
                    RATE_PER_S, "constant", seed=0, process_index=i, processes=processes
                ).send_times(10.0)
                for i in range(processes)
            ]
        )
    )
    assert len(union) == int(RATE_PER_S * 10.0)
    np.testing.assert_allclose(union, np.arange(len(union)) / RATE_PER_S, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.diff(union), 1 / RATE_PER_S, rtol=1e-6)


def test_the_union_of_poisson_processes_is_poisson_at_the_whole_rate() -> None:
    processes = 4
    parts = [
        ArrivalSchedule(RATE_PER_S, "poisson", seed=9, process_index=i, processes=processes).send_times(
            HORIZON_S
        )
        for i in range(processes)
    ]
    for part in parts:
        assert abs(len(part) / HORIZON_S / (RATE_PER_S / processes) - 1) < RATE_REL_TOLERANCE
        assert abs(_cv(_gaps(part)) - 1) < CV_TOLERANCE
    union = np.sort(np.concatenate(parts))
    assert abs(len(union) / HORIZON_S / RATE_PER_S - 1) < RATE_REL_TOLERANCE
    gaps = _gaps(union)
    assert abs(_cv(gaps) - 1) < CV_TOLERANCE
    assert _chi_square_exponential(gaps[:200_000], 1 / RATE_PER_S) < CHI2_19_P999


def test_poisson_gaps_pass_a_chi_square_test_against_the_exponential() -> None:
    gaps = _gaps(ArrivalSchedule(RATE_PER_S, "poisson", seed=4).send_times(200.0))
    statistic = _chi_square_exponential(gaps, 1 / RATE_PER_S)
    assert statistic < CHI2_19_P999, statistic
    # The test has power: gamma(2) gaps of the same mean (CV 0.71) fail it by far.
    gamma = np.random.default_rng(4).gamma(2.0, 0.5 / RATE_PER_S, len(gaps))
    assert _chi_square_exponential(gamma, 1 / RATE_PER_S) > 100 * CHI2_19_P999


def test_poisson_gaps_pass_a_kolmogorov_smirnov_test_against_the_exponential() -> None:
    stats = pytest.importorskip("scipy.stats")
    for index in range(3):
        schedule = ArrivalSchedule(RATE_PER_S, "poisson", seed=4, process_index=index, processes=3)
        gaps = _gaps(schedule.send_times(300.0))
        result = stats.kstest(gaps, "expon", args=(0.0, schedule.mean_gap_s))
        assert result.pvalue > KS_P_MIN, (index, result)


def test_rate_and_gap_of_one_process() -> None:
    schedule = ArrivalSchedule(300.0, "constant", seed=0, process_index=2, processes=3)
    assert (schedule.process_rate_per_s, schedule.mean_gap_s) == (100.0, 0.01)
    assert schedule.send_times(0.05).tolist() == pytest.approx(
        [2 / 300, 2 / 300 + 0.01, 2 / 300 + 0.02, 2 / 300 + 0.03, 2 / 300 + 0.04]
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate_per_s": 0.0}, "rate_per_s must be a finite number > 0, got 0.0"),
        ({"rate_per_s": -5.0}, "rate_per_s must be a finite number > 0"),
        ({"rate_per_s": math.inf}, "rate_per_s must be a finite number > 0"),
        ({"rate_per_s": math.nan}, "rate_per_s must be a finite number > 0"),
        ({"distribution": "uniform"}, "unknown distribution 'uniform'; use one of poisson, constant"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"processes": 0}, "processes must be an integer >= 1, got 0"),
        ({"processes": 2, "process_index": 2}, r"process_index must be an integer in \[0, 2\), got 2"),
        ({"process_index": -1}, r"process_index must be an integer in \[0, 1\), got -1"),
        ({"block_size": 0}, "block_size must be an integer >= 1"),
    ],
)
def test_bad_arguments_are_value_errors(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"rate_per_s": 10.0, "distribution": "poisson", "seed": 0} | kwargs
    with pytest.raises(ValueError, match=message):
        ArrivalSchedule(**arguments)


@pytest.mark.parametrize("until_s", [-1.0, math.inf, math.nan])
def test_a_bad_horizon_is_a_value_error(until_s: float) -> None:
    with pytest.raises(ValueError, match="until_s must be a finite number >= 0"):
        ArrivalSchedule(10.0, "constant", seed=0).send_times(until_s)
