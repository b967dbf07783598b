"""Load shapes: the stepped load of capacity runs.

``StepLoadShape`` holds each step's user count for ``step_duration_s`` seconds. With a fixed plan
(``--steps 1,2,4,8``) it runs every step; with ``--steps auto`` it doubles the users (1, 2, 4, ...)
until a step breaks the SLO, throughput stops growing (less than 5%), or the bound is reached. At the
end of each step it reports the step's statistics (``on_step_end``), which the plugin prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from locust import LoadTestShape

from bench.analysis.capacity import SATURATION_GROWTH, StepStats

StepEnd = Callable[[int], StepStats | None]


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
