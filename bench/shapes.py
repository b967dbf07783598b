"""Load shapes: the stepped load of capacity runs.

``StepLoadShape`` (closed loop, ``--steps``) holds each step's user count for ``step_duration_s``
seconds. With a fixed plan (``--steps 1,2,4,8``) it runs every step; with ``--steps auto`` it doubles
the users (1, 2, 4, ...) until a step breaks the SLO, throughput stops growing (less than 5%), or the
bound is reached. At the end of each step it reports the step's statistics (``on_step_end``), which the
plugin prints.

``RateLoadShape`` (open loop, ``--rates``) holds the users constant (the most requests in flight, all
started at once) and steps the arrival rate: each step lasts ``step_duration_s`` from the moment its
rate was set (``on_rate``), and its end is kept to the millisecond (not Locust's one-second tick):
the tick before it sleeps until then. Then the step is judged (``on_step_end``; meanwhile the old rate
goes on, in no step's window) and the plan (``bench.analysis.rateplan.RatePlan``: fixed, or
doubling then bisecting) gives the next rate, or ends the run.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence

import gevent
from locust import LoadTestShape

from bench.analysis.capacity import SATURATION_GROWTH, RateStep, StepStats
from bench.analysis.rateplan import RatePlan, step_passed

StepEnd = Callable[[int], StepStats | None]
TICK_S = 1.0  # Locust's shape worker ticks about once a second


class StepLoadShape(LoadTestShape):
    """Users per step from a plan (or doubling in auto mode), each held for ``step_duration_s``."""

    abstract = True

    def __init__(
        self,
        plan: tuple[int, ...],
        step_duration_s: float,
        *,
        auto: bool = False,
        has_slo: bool = False,
        on_step_end: StepEnd = lambda step: None,
    ) -> None:
        super().__init__()
        self.plan = plan
        self.step_duration_s = step_duration_s
        self.auto = auto
        self.has_slo = has_slo
        self.on_step_end = on_step_end
        self.started_at_s: float | None = None  # wall clock of step 0's start
        self._current = -1
        self._last: StepStats | None = None
        self._stopped = False

    def reset_time(self) -> None:
        super().reset_time()
        self.started_at_s = time.time()
        self._current, self._last, self._stopped = -1, None, False

    def step_at(self, timestamp_s: float) -> int | None:
        """The step (1 for the first) a request sent at ``timestamp_s`` (wall clock) belongs to."""
        if self.started_at_s is None or timestamp_s < self.started_at_s:
            return None
        return min(int((timestamp_s - self.started_at_s) // self.step_duration_s), len(self.plan) - 1) + 1

    def tick(self) -> tuple[int, float] | None:
        if self._stopped:
            return None
        step = int(self.get_run_time() // self.step_duration_s)
        if step != self._current:
            if self._current >= 0 and not self._continue_after(self._current + 1):
                self._stopped = True
                return None
            if step >= len(self.plan):
                self._stopped = True
                return None
            self._current = step
        users = self.plan[self._current]
        return users, float(max(users, 1))  # every step's users start within about a second

    def _continue_after(self, step: int) -> bool:
        """``step`` (1-based) ended: report it; in auto mode, decide whether to go on."""
        stats = self.on_step_end(step)
        if not self.auto or stats is None:
            return True
        previous, self._last = self._last, stats
        if self.has_slo and not stats.slo_ok:
            return False
        return previous is None or stats.rps >= previous.rps * (1 + SATURATION_GROWTH)


class RateLoadShape(StepLoadShape):
    """Constant ``users``, the arrival rate per step from a ``RatePlan`` (see the module docstring).

    ``on_rate(rate)`` sets the rate from the second step on (the first step's rate is the run's own,
    set when it starts); ``on_step_start(step)`` tells each step's start (its ``RateStep``);
    ``settle_s``: how long after a step's end its last requests may take to be recorded before it is
    judged. ``steps_begun`` are the steps as they ran; ``plan`` is ``(users,)``.
    """

    abstract = True

    def __init__(
        self,
        rates: Sequence[float],
        step_duration_s: float,
        *,
        users: int,
        auto: bool = False,
        on_rate: Callable[[float], None] = lambda rate_per_s: None,
        on_step_start: Callable[[RateStep], None] = lambda step: None,
        on_step_end: StepEnd = lambda step: None,
        settle_s: float = 0.0,
    ) -> None:
        super().__init__((users,), step_duration_s, auto=auto, on_step_end=on_step_end)
        self.rates = tuple(rates)
        self.users = users
        self.on_rate = on_rate
        self.on_step_start = on_step_start
        self.settle_s = settle_s
        self.rate_plan = RatePlan(self.rates, auto=auto)
        self.steps_begun: list[RateStep] = []

    def reset_time(self) -> None:
        super().reset_time()
        self.rate_plan = RatePlan(self.rates, auto=self.auto)
        self.steps_begun = []

    def step_at(self, timestamp_s: float) -> int | None:
        """The step (1 for the first) whose rate was in force at ``timestamp_s`` (wall clock)."""
        starts = [s.started_s for s in self.steps_begun]
        if not starts and self.started_at_s is not None and timestamp_s >= self.started_at_s:
            return 1
        index = bisect.bisect_right(starts, timestamp_s)
        return self.steps_begun[index - 1].step if index else None

    def tick(self) -> tuple[int, float] | None:
        if self._stopped:
            return None
        if not self.steps_begun:
            self._begin(self.rate_plan.first(), self.started_at_s or time.time(), first=True)
        else:
            ends_at = self.steps_begun[-1].started_s + self.step_duration_s
            if ends_at - time.time() <= TICK_S:  # it ends before the next tick: at its end, exactly
                gevent.sleep(max(0.0, ends_at - time.time()) + self.settle_s)
                stats = self.on_step_end(self.steps_begun[-1].step)
                rate = self.rate_plan.next(step_passed(stats))
                if rate is None:
                    self._stopped = True
                    return None
                self._begin(rate, time.time())
        return self.users, float(max(1, self.users))  # all at once: the load is the rate, not the users

    def _begin(self, rate_per_s: float, started_s: float, *, first: bool = False) -> None:
        step = RateStep(len(self.steps_begun) + 1, rate_per_s, started_s)
        if not first:
            self.on_rate(rate_per_s)
        self.steps_begun.append(step)
        self._current = step.step - 1
        self.on_step_start(step)
