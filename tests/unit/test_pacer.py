"""The open-loop arrival schedule (bench.pacer): rate, gap statistics, reproducibility, the union over
processes, and the fit of Poisson gaps to the exponential distribution; the Pacer that puts a schedule on
a clock: take/start offsets, rate segments (void times, no overlap), due and not_sent counts, the split
over processes. Pure numpy, no clock: times are given."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from bench.pacer import ARRIVAL_DISTRIBUTIONS, ArrivalSchedule, Pacer

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


# -- Pacer: the schedule on a clock, rate segments and the counts of a run ------------------------------------


class _Signal:
    """A stand-in for gevent's Event: remembers whether it was set."""

    def __init__(self) -> None:
        self.was_set = False

    def set(self) -> None:
        self.was_set = True

    def wait(self, timeout: float | None = None) -> bool:
        return self.was_set


def _takes(pacer: Pacer, count: int) -> list[float]:
    return [pacer.take() for _ in range(count)]


@pytest.mark.parametrize("distribution", ARRIVAL_DISTRIBUTIONS)
def test_take_gives_the_schedule_from_the_start_time(distribution: Any) -> None:
    pacer = Pacer(200.0, distribution, seed=7)
    pacer.start(1000.0)
    expected = ArrivalSchedule(200.0, distribution, seed=7).send_times(10.0)[:300]
    np.testing.assert_allclose(np.array(_takes(pacer, 300)) - 1000.0, expected, rtol=0, atol=1e-9)
    assert (pacer.origin_s, pacer.taken, pacer.sent, pacer.rate_per_s) == (1000.0, 300, 0, 200.0)
    pacer.sent_one()
    assert pacer.sent == 1


def test_the_first_constant_send_is_at_the_start_and_the_first_poisson_send_one_gap_after() -> None:
    constant, poisson = Pacer(10.0, "constant", seed=0), Pacer(10.0, "poisson", seed=0)
    constant.start(50.0)
    poisson.start(50.0)
    assert constant.take() == 50.0
    assert poisson.take() > 50.0


def test_set_rate_before_start_or_to_the_same_rate_changes_nothing() -> None:
    pacer = Pacer(10.0, "constant", seed=0)
    pacer.set_rate(20.0, 5.0)  # not started: no clock to start a segment on
    assert (pacer.rate_per_s, pacer.generation) == (10.0, 0)
    pacer.start(0.0)
    pacer.set_rate(10.0, 5.0)
    assert (pacer.rate_per_s, pacer.generation) == (10.0, 0)


def test_a_new_rate_starts_a_segment_at_its_time_with_its_own_stream() -> None:
    pacer = Pacer(10.0, "poisson", seed=3)
    pacer.start(100.0)
    _takes(pacer, 5)
    pacer.set_rate(40.0, 100.75)
    assert (pacer.rate_per_s, pacer.generation) == (40.0, 1)
    # The old rate's times before the switch that nobody took yet come first (sent late, not skipped).
    old = ArrivalSchedule(10.0, "poisson", seed=3).send_times(0.75)[5:]
    backlog = np.array(_takes(pacer, len(old)))
    np.testing.assert_allclose(backlog, 100.0 + old, rtol=0, atol=1e-9)
    new = np.array(_takes(pacer, 50))
    own = ArrivalSchedule(40.0, "poisson", seed=3, stream=1).send_times(100.0)[:50]
    np.testing.assert_allclose(new, 100.75 + own, rtol=0, atol=1e-9)
    assert not np.allclose(own[:10], ArrivalSchedule(40.0, "poisson", seed=3).send_times(10.0)[:10])


def test_the_times_still_to_be_sent_never_overlap_a_new_segment() -> None:
    """Users took times ahead of the clock; the rate changes: the taken times at or after the switch are
    void (their users take new ones), those before it stand, and the new segment's times all come after."""
    pacer = Pacer(10.0, "constant", seed=0)
    pacer.start(0.0)
    generation = pacer.generation
    taken = _takes(pacer, 6)  # 0.0 ... 0.5, taken by users waiting at 0.25
    pacer.set_rate(20.0, 0.25)
    standing = [t for t in taken if not pacer.is_void(t, generation)]
    assert standing == [0.0, 0.1, 0.2]
    assert [t for t in taken if pacer.is_void(t, generation)] == pytest.approx([0.3, 0.4, 0.5])
    new = _takes(pacer, 10)
    assert min(new) >= 0.25 > max(standing)
    assert new == pytest.approx([0.25 + k * 0.05 for k in range(10)])
    assert not any(pacer.is_void(t, pacer.generation) for t in new)  # the current segment's own times


def test_a_switch_never_starts_before_the_segment_it_follows() -> None:
    pacer = Pacer(10.0, "constant", seed=0)
    pacer.start(0.0)
    pacer.set_rate(20.0, 2.0)
    pacer.set_rate(40.0, 1.0)  # a clock read before the previous switch (another process's message)
    backlog = _takes(pacer, 20)  # the first rate's 20 times before 2.0, none taken yet: sent first
    assert backlog == pytest.approx([k * 0.1 for k in range(20)])
    assert pacer.take() == pytest.approx(2.0)


def test_a_time_is_void_after_any_later_switch() -> None:
    pacer = Pacer(10.0, "constant", seed=0)
    pacer.start(0.0)
    taken = _takes(pacer, 4)  # 0.0, 0.1, 0.2, 0.3
    pacer.set_rate(20.0, 0.1)
    pacer.set_rate(40.0, 0.25)  # before the user holding 0.2 woke up
    assert pacer.is_void(taken[2], 0)  # 0.2 >= 0.1, the first switch: an old-rate time in the new rate


def test_set_rate_wakes_the_users_waiting_on_the_old_segment() -> None:
    signals: list[_Signal] = []

    def new_signal() -> _Signal:
        signals.append(_Signal())
        return signals[-1]

    pacer = Pacer(10.0, "poisson", seed=0, new_signal=new_signal)
    pacer.start(0.0)
    first = pacer.signal
    assert first is signals[0]
    assert not signals[0].was_set
    pacer.set_rate(20.0, 1.0)
    assert signals[0].was_set
    assert pacer.signal is signals[1]
    assert not signals[1].was_set
    assert Pacer(10.0, "poisson", seed=0).signal is None  # no factory: users just sleep


@pytest.mark.parametrize("distribution", ARRIVAL_DISTRIBUTIONS)
def test_due_counts_each_segments_sends_up_to_the_next_one(distribution: Any) -> None:
    pacer = Pacer(50.0, distribution, seed=5)
    assert pacer.due(10.0) == 0  # not started
    pacer.start(10.0)
    pacer.set_rate(200.0, 12.0)
    pacer.set_rate(20.0, 13.5)
    first = ArrivalSchedule(50.0, distribution, seed=5).send_times(2.0)
    second = ArrivalSchedule(200.0, distribution, seed=5, stream=1).send_times(1.5)
    third = ArrivalSchedule(20.0, distribution, seed=5, stream=2).send_times(3.0)
    assert pacer.due(10.0) == 0
    assert pacer.due(11.0) == int(np.count_nonzero(first < 1.0))
    assert pacer.due(13.0) == len(first) + int(np.count_nonzero(second < 1.0))
    assert pacer.due(16.5) == len(first) + len(second) + len(third)
    if distribution == "constant":
        assert (pacer.due(11.0), pacer.due(13.0), pacer.due(16.5)) == (50, 100 + 200, 100 + 300 + 60)


def test_not_sent_counts_the_sends_due_by_the_stop_that_never_started() -> None:
    pacer = Pacer(10.0, "constant", seed=0)
    pacer.start(0.0)
    for _ in range(3):
        pacer.take()
        pacer.sent_one()
    pacer.take()  # taken, its user killed by the stop before it sent
    assert pacer.not_sent == 0  # not stopped yet
    pacer.stop(0.55)  # due: 0.0 ... 0.5
    assert (pacer.due(0.55), pacer.sent, pacer.not_sent) == (6, 3, 3)
    pacer.stop(5.0)  # the first stop counts
    assert (pacer.stopped_s, pacer.not_sent) == (0.55, 3)


def test_not_sent_includes_the_old_rates_sends_a_switch_leaves_untaken() -> None:
    """No user was free for the old rate's sends due before a switch; the new segment starts at the
    switch on time, so those are never sent: they are counted, not lost."""
    pacer = Pacer(10.0, "constant", seed=0)
    pacer.start(0.0)
    for _ in range(2):  # 0.0 and 0.1 sent; 0.2 ... 0.5 due, no user free
        pacer.take()
        pacer.sent_one()
    pacer.set_rate(20.0, 0.55)
    for _ in range(9):  # 0.55 ... 0.95
        pacer.take()
        pacer.sent_one()
    pacer.stop(1.0)
    assert (pacer.due(1.0), pacer.sent, pacer.not_sent) == (6 + 9, 11, 4)


@pytest.mark.parametrize("processes", [2, 3])
def test_each_process_takes_its_share_and_the_union_is_the_whole_rate(processes: int) -> None:
    pacers = [
        Pacer(300.0, "constant", seed=1, process_index=i, processes=processes) for i in range(processes)
    ]
    for pacer in pacers:
        pacer.start(0.0)
    per_process = [_takes(pacer, 300 // processes) for pacer in pacers]
    for index, times in enumerate(per_process):
        expected = (index + np.arange(len(times)) * processes) / 300.0
        np.testing.assert_allclose(times, expected, rtol=0, atol=1e-12)
    union = np.sort(np.concatenate(per_process))
    np.testing.assert_allclose(union, np.arange(300) / 300.0, rtol=0, atol=1e-12)
    assert sum(p.due(1.0) for p in pacers) == 300
    # after a switch too: each process its share of the new rate, the union evenly spaced from the switch
    for pacer in pacers:
        pacer.set_rate(600.0, 1.0)
    union = np.sort(np.concatenate([_takes(pacer, 600 // processes) for pacer in pacers]))
    np.testing.assert_allclose(union, 1.0 + np.arange(600) / 600.0, rtol=0, atol=1e-12)
    assert sum(p.due(2.0) for p in pacers) == 300 + 600


def test_poisson_processes_each_send_their_share_from_their_own_stream() -> None:
    pacers = [Pacer(1000.0, "poisson", seed=4, process_index=i, processes=4) for i in range(4)]
    for pacer in pacers:
        pacer.start(0.0)
    counts = [pacer.due(100.0) for pacer in pacers]
    for count in counts:  # 25,000 each: the Poisson SD is 158 (0.6%); 3% is ~5 SD
        assert abs(count / 25_000 - 1) < 0.03, counts
    firsts = [pacer.take() for pacer in pacers]
    assert len(set(firsts)) == 4  # four streams, not one stream four times
    assert abs(sum(counts) / 100_000 - 1) < 0.015, counts
