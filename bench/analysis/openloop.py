"""Open-loop (arrival-rate) figures: what the run was asked to send, what it sent, and whether on time.

Pure: numpy only. Definitions (``summary.csv``, the gates and the closing lines use these):

- a request is **late** when ``schedule_lag_ms`` (actual send minus intended send) is more than
  ``LATE_LAG_MS`` (1 ms, perf_analyzer's tolerance), whatever its status; a run with a ``late_rate``
  (late / requests) above ``LATE_RATE_LIMIT`` (1%) did not offer the load asked for.
- **achieved rate** (``achieved_rps``): of the n requests of the measured window, sent at
  ``timestamp_s`` t(1) <= ... <= t(n), ``(n - 1) / (t(n) - t(1))``: the gaps between consecutive sends
  over the time they span (a constant schedule of rate R gives exactly R; NaN for fewer than two
  sends or no span). Every request sent counts (ok, error and unfinished rows alike); scheduled sends
  that were never sent are not requests (``ArrivalOutcome.not_sent``). A part of the requests (one
  row of ``summary.csv``) is given its share: achieved rate x its requests / n, so the rows add up.
- **Little's law**: a steady system serving ``rate`` requests per second for a mean of ``W`` seconds
  holds ``L = rate x W`` requests in flight on average (``in_flight``); an open-loop run needs at least
  that many users free to send, and more for bursts (``users_advised``).

``ArrivalOutcome`` is ``run.json``'s ``"arrival"`` object (``from_run_info``); None is a closed-loop run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.config import LATE_LAG_MS, LATE_RATE_LIMIT

Floats = npt.NDArray[np.float64]
# Poisson arrivals come in bursts: L = rate x W is only the mean in flight; at any moment it is about
# Poisson(L), whose spread is sqrt(L). With c users a send waits (is late) with Erlang C's probability
# (M/M/c): twice L gives 1e-8 at L = 41 (82 users) but 0.17 at L = 2 (4 users), so at small L the
# advice is L + 3 sqrt(L) + 1 users when that is more (8 users at L = 2: 0.001).
USERS_HEADROOM = 2.0


@dataclass(frozen=True)
class ArrivalOutcome:
    """What an open-loop run was asked to send and what became of it (``run.json``'s ``"arrival"``).

    ``rate_per_s`` None: a rate-stepped run (``--rates``), whose target differs per step;
    ``not_sent``: scheduled send times before the end of the run that were never sent (not rows).
    """

    rate_per_s: float | None
    distribution: str
    sent: int
    not_sent: int


def from_run_info(info: Mapping[str, Any]) -> ArrivalOutcome | None:
    """``run.json``'s ``"arrival"`` object as an ``ArrivalOutcome``; None for a closed-loop run (no
    such object). A value of the wrong kind reads as missing (no rate, no counts): the records decide."""
    arrival = info.get("arrival")
    if not isinstance(arrival, Mapping):
        return None
    rate = _number(arrival.get("rate_per_s"))
    distribution = arrival.get("distribution")
    return ArrivalOutcome(
        rate_per_s=rate if rate is not None and rate > 0 else None,
        distribution=distribution if isinstance(distribution, str) else "",
        sent=_count(arrival.get("sent")),
        not_sent=_count(arrival.get("not_sent")),
    )


def is_late(schedule_lag_ms: Floats) -> npt.NDArray[np.bool_]:
    """Per request, whether it was sent more than ``LATE_LAG_MS`` after its intended time."""
    return schedule_lag_ms > LATE_LAG_MS


def too_late(late_rate: float) -> bool:
    """Whether so many requests were late that the run did not offer the load asked for."""
    return not math.isnan(late_rate) and late_rate > LATE_RATE_LIMIT


def achieved_rate_per_s(sent_s: Floats) -> float:
    """The achieved send rate of requests sent at ``sent_s`` (see the module docstring)."""
    present = sent_s[~np.isnan(sent_s)]
    if present.size < 2:
        return math.nan
    span = float(present.max() - present.min())
    return (present.size - 1) / span if span > 0 else math.nan


def in_flight(rate_per_s: float, latency_mean_ms: float) -> float:
    """Little's law: the mean number of requests in flight at ``rate_per_s`` and that mean latency."""
    return rate_per_s * latency_mean_ms / 1000.0


def users_advised(rate_per_s: float, latency_mean_ms: float) -> int:
    """Users enough to send on time at ``rate_per_s``: about ``USERS_HEADROOM`` x Little's L (the
    comment at ``USERS_HEADROOM`` says why), at least 1."""
    mean = in_flight(rate_per_s, latency_mean_ms)
    return max(1, math.ceil(max(USERS_HEADROOM * mean, mean + 3 * math.sqrt(mean) + 1) - 1e-9))


@dataclass(frozen=True)
class MeasuredLoad:
    """What the closing advice reads from the measured window (NaN when nothing measured it)."""

    users_max: float  # the most users seen (the ``users`` column)
    latency_mean_ms: float  # mean service latency (``latency_ms``) of every request that has one

    @classmethod
    def of(cls, users: Floats, latency_ms: Floats) -> MeasuredLoad:
        return cls(_nan_reduce(users, np.max), _nan_reduce(latency_ms, np.mean))


def _nan_reduce(values: Floats, reduce: Any) -> float:
    present = values[~np.isnan(values)]
    return float(reduce(present)) if present.size else math.nan


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _count(value: object) -> int:
    number = _number(value)
    return int(number) if number is not None and number >= 0 else 0
