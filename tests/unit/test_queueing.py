"""Queueing-theory known answers (bench.analysis.queueing) against hand-derived values, and an M/D/1
(and M/M/1) simulation by the Lindley recursion that agrees with them within stated tolerances."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

from bench.analysis.queueing import erlang_c, md1_mean_response_s, mmc_mean_response_s

CUSTOMERS = 1_000_000
# Relative tolerance of the simulated mean response vs theory, measured over 20 seeds of 1e6 customers
# (SD of the estimate: M/D/1 0.14% at rho 0.5, 0.54% at 0.8; M/M/1 0.3% at 0.5, 0.9% at 0.8): >= 4 SD.
SIMULATION_REL_TOLERANCE = {("md1", 0.5): 0.01, ("md1", 0.8): 0.03, ("mm1", 0.5): 0.015, ("mm1", 0.8): 0.04}


def _erlang_c_by_sum(c: int, a: float) -> float:
    """The textbook form: C = (a^c / c!) (c / (c - a)) / (sum_{k<c} a^k / k! + (a^c / c!) (c / (c - a)))."""
    waiting = a**c / math.factorial(c) * c / (c - a)
    return waiting / (sum(a**k / math.factorial(k) for k in range(c)) + waiting)


def _lindley_mean_response_s(rate: float, service_s: float, exponential: bool, seed: int) -> float:
    """Mean response of a FIFO single-server queue with Poisson arrivals, from an empty start.

    Lindley: W_0 = 0, W_n = max(0, W_{n-1} + S_{n-1} - A_n); with P_n = sum_{k<=n} (S_{k-1} - A_k),
    P_0 = 0, that is W_n = P_n - min(0, min_{k<=n} P_k), computed at once with a running minimum.
    """
    rng = np.random.default_rng(seed)
    interarrival_s = rng.exponential(1 / rate, CUSTOMERS)
    service = rng.exponential(service_s, CUSTOMERS) if exponential else np.full(CUSTOMERS, service_s)
    steps = np.concatenate(([0.0], service[:-1] - interarrival_s[1:]))
    walk = np.cumsum(steps)
    wait_s = walk - np.minimum.accumulate(np.minimum(walk, 0.0))
    return float(np.mean(wait_s + service))


def test_mm1_is_one_over_mu_minus_lambda() -> None:
    # lambda 8/s, mu 10/s: 1 / (10 - 8) = 0.5 s; lambda 50/s, s 10 ms (mu 100/s): 1 / 50 = 20 ms.
    assert mmc_mean_response_s(8.0, 0.1, 1) == pytest.approx(0.5, rel=1e-12)
    assert mmc_mean_response_s(50.0, 0.010, 1) == pytest.approx(0.020, rel=1e-12)
    assert mmc_mean_response_s(0.0, 0.010, 1) == pytest.approx(0.010, rel=1e-12)
    # Erlang C of one server is rho: an arrival waits exactly when the server is busy.
    assert erlang_c(1, 0.7) == pytest.approx(0.7, rel=1e-12)


def test_mm2_matches_its_closed_form() -> None:
    # M/M/2, lambda 1.5/s, mu 1/s: a = 1.5 Erlangs, rho = 0.75.
    # P0 = 1 / (1 + a + a^2 / (2 (1 - rho))) = 1 / (1 + 1.5 + 4.5) = 1/7;
    # C = a^2 / (2 (1 - rho)) P0 = 4.5 / 7 = 9/14 = 0.642857 (= 2 rho^2 / (1 + rho));
    # Wq = C / (c mu - lambda) = (9/14) / 0.5 = 9/7 s; W = Wq + 1 = 16/7 = 2.285714 s (= 1 / (mu (1 - rho^2))).
    assert erlang_c(2, 1.5) == pytest.approx(9 / 14, rel=1e-12)
    assert erlang_c(2, 1.5) == pytest.approx(2 * 0.75**2 / 1.75, rel=1e-12)
    assert mmc_mean_response_s(1.5, 1.0, 2) == pytest.approx(16 / 7, rel=1e-12)
    assert mmc_mean_response_s(1.5, 1.0, 2) == pytest.approx(1 / (1 - 0.75**2), rel=1e-12)
    # In milliseconds: 150/s on 2 slots of 10 ms each is the same queue, 100x faster: 22.857 ms.
    assert mmc_mean_response_s(150.0, 0.010, 2) == pytest.approx(0.16 / 7, rel=1e-12)


@pytest.mark.parametrize(
    ("c", "a", "four_digits"),
    [(10, 8.0, 0.4092), (4, 3.0, 0.5094), (100, 90.0, 0.2169)],
)
def test_erlang_c_matches_the_textbook_sum_and_table_values(c: int, a: float, four_digits: float) -> None:
    # By hand, C(4, 3): sum_{k<4} 3^k / k! = 1 + 3 + 4.5 + 4.5 = 13, (3^4 / 4!) (4 / (4 - 3)) = 13.5,
    # C = 13.5 / 26.5 = 0.50943. C(10, 8) = 0.4092 and C(100, 90) = 0.2169 from the sum form, to 4 digits
    # (the values Erlang C calculators list). The recursion must agree with the sum form to 1e-12.
    assert erlang_c(c, a) == pytest.approx(_erlang_c_by_sum(c, a), rel=1e-12)
    assert round(erlang_c(c, a), 4) == four_digits


def test_erlang_c_of_no_load_is_zero_and_more_servers_wait_less() -> None:
    assert erlang_c(3, 0.0) == 0.0
    waits = [mmc_mean_response_s(8.0, 0.1, c) - 0.1 for c in (1, 2, 3, 4)]
    assert waits == sorted(waits, reverse=True)
    assert waits[-1] > 0


@pytest.mark.parametrize(
    ("rho", "expected_s"),
    [
        # s = 10 ms. rho 0.5: 10 + 0.5 * 10 / (2 * 0.5) = 15 ms; rho 0.8: 10 + 0.8 * 10 / (2 * 0.2) = 30 ms.
        (0.5, 0.015),
        (0.8, 0.030),
    ],
)
def test_md1_is_pollaczek_khinchine(rho: float, expected_s: float) -> None:
    assert md1_mean_response_s(rho / 0.010, 0.010) == pytest.approx(expected_s, rel=1e-12)
    # A fixed service time halves the M/M/1 wait: W_q(M/D/1) = W_q(M/M/1) / 2.
    mm1_wait_s = mmc_mean_response_s(rho / 0.010, 0.010, 1) - 0.010
    assert md1_mean_response_s(rho / 0.010, 0.010) - 0.010 == pytest.approx(mm1_wait_s / 2, rel=1e-12)


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_a_lindley_simulation_of_md1_agrees(rho: float) -> None:
    service_s = 0.010
    expected_s = md1_mean_response_s(rho / service_s, service_s)
    simulated_s = _lindley_mean_response_s(rho / service_s, service_s, exponential=False, seed=2024)
    assert simulated_s == pytest.approx(expected_s, rel=SIMULATION_REL_TOLERANCE[("md1", rho)])


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_a_lindley_simulation_of_mm1_agrees(rho: float) -> None:
    service_s = 0.010
    expected_s = mmc_mean_response_s(rho / service_s, service_s, 1)
    simulated_s = _lindley_mean_response_s(rho / service_s, service_s, exponential=True, seed=2025)
    assert simulated_s == pytest.approx(expected_s, rel=SIMULATION_REL_TOLERANCE[("mm1", rho)])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: erlang_c(2, 2.0), "utilization rho = 1 >= 1"),
        (lambda: erlang_c(2, 3.0), "utilization rho = 1.5 >= 1"),
        (lambda: erlang_c(0, 0.5), "servers must be an integer >= 1, got 0"),
        (lambda: erlang_c(1.5, 0.5), "servers must be an integer >= 1, got 1.5"),  # type: ignore[arg-type]
        (lambda: erlang_c(2, -1.0), "offered_load must be a finite number >= 0"),
        (lambda: mmc_mean_response_s(10.0, 0.1, 1), "utilization rho = 1 >= 1"),
        (lambda: mmc_mean_response_s(25.0, 0.1, 2), "utilization rho = 1.25 >= 1"),
        (lambda: mmc_mean_response_s(1.0, 0.0, 1), "service_mean_s must be a finite number > 0"),
        (lambda: mmc_mean_response_s(math.nan, 0.1, 1), "arrival_rate must be a finite number >= 0"),
        (lambda: md1_mean_response_s(100.0, 0.010), "utilization rho = 1 >= 1"),
        (lambda: md1_mean_response_s(1.0, -0.010), "service_s must be a finite number > 0"),
        (lambda: md1_mean_response_s(math.inf, 0.010), "arrival_rate must be a finite number >= 0"),
    ],
)
def test_unstable_or_bad_inputs_are_value_errors(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
