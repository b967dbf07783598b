"""The open loop's live figures (``--arrival-rate``, ``--rates``): what the Inference tabs show of it.

From ``LiveStats`` (approximate percentiles, exact counts; the definitions are the exact summary's,
``bench.analysis.openloop``): the target rate against the achieved send rate, over the last window
and since a cut (the warm-up end, or the current step's start in a rate-stepped run); the schedule
lag p99 and the late requests (``schedule_lag_ms > LATE_LAG_MS``); effective latency p95/p99 (from the
intended send) next to the service latency p95/p99; and the users it needed by Little's law.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.analysis.openloop import in_flight, users_advised
from bench.config import LATE_RATE_LIMIT
from bench.live.stats import LiveStats


@dataclass(frozen=True)
class ArrivalState:
    """What the harness knows of a run's open loop, read on each poll (None: a closed-loop run)."""

    target_rate_per_s: float | None  # the whole run's; a rate-stepped run: the current step's (None before)
    distribution: str  # poisson | constant
    users: int | None  # users available to send: the most requests in flight (-u, the form's count)
    since_s: float | None  # where the "run" figures start: the warm-up end, or the current step's start
    since_label: str = "measured run"  # what ``since_s`` is, in words ("step 3" in a --rates run)
    warning: str | None = None  # e.g. the event loop's timers are coarse (a rate set in the web UI)


@dataclass(frozen=True)
class OpenLoopFigures:
    """The open loop since a cut (``run``) and over the last window (``recent``); None where unmeasured."""

    target_rate_per_s: float | None
    sent: int  # sends since the cut (those whose request completed)
    sent_rate_per_s: float | None  # achieved send rate since the cut
    recent_sent: int  # sends in the last window
    recent_rate_per_s: float | None  # achieved send rate over the last window
    requests: int  # requests completed since the cut (every status)
    late: int
    lag_p99_ms: float | None
    effective_ms: tuple[float | None, float | None]  # p95, p99 (successful requests)
    latency_ms: tuple[float | None, float | None]  # p95, p99: the service latency, for comparison
    latency_mean_ms: float | None

    @property
    def late_rate(self) -> float | None:
        return self.late / self.requests if self.requests else None

    @property
    def too_late(self) -> bool:
        """More than ``LATE_RATE_LIMIT`` late: the run did not offer the load asked for."""
        rate = self.late_rate
        return rate is not None and rate > LATE_RATE_LIMIT

    @property
    def achieved_fraction(self) -> float | None:
        """Achieved over target since the cut."""
        if self.sent_rate_per_s is None or not self.target_rate_per_s:
            return None
        return self.sent_rate_per_s / self.target_rate_per_s

    def in_flight(self) -> float | None:
        """Little's law at the target (else achieved) rate and the mean latency: requests in flight."""
        rate = self.target_rate_per_s or self.sent_rate_per_s
        if rate is None or self.latency_mean_ms is None:
            return None
        return in_flight(rate, self.latency_mean_ms)

    def users_advised(self) -> int | None:
        rate = self.target_rate_per_s or self.sent_rate_per_s
        if rate is None or self.latency_mean_ms is None:
            return None
        return users_advised(rate, self.latency_mean_ms)


def open_loop_figures(live: LiveStats, arrival: ArrivalState, *, now_s: float) -> OpenLoopFigures:
    """The open loop's figures of ``live`` since ``arrival.since_s`` and over the window before ``now_s``."""
    query = live.query(since_s=arrival.since_s)
    sends = live.sends(since_s=arrival.since_s)
    recent = live.sends(now_s=now_s)
    return OpenLoopFigures(
        target_rate_per_s=arrival.target_rate_per_s,
        sent=sends.count,
        sent_rate_per_s=sends.rate_per_s,
        recent_sent=recent.count,
        recent_rate_per_s=recent.rate_per_s,
        requests=query.count,
        late=query.late,
        lag_p99_ms=query.quantile("lag", 0.99),
        effective_ms=(query.quantile("effective", 0.95), query.quantile("effective", 0.99)),
        latency_ms=(query.quantile("latency", 0.95), query.quantile("latency", 0.99)),
        latency_mean_ms=query.mean("latency"),
    )
