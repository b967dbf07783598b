"""The capacity model: ``slots`` concurrent executions behind a bounded queue, and service times.

Known capacity = slots / mean service time (slots 4, fixed 20 ms -> 200 requests/s), so capacity
planning can be checked against a known answer. A request that would wait while ``queue_limit``
others already wait is throttled at once.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import math
import random
import time
from collections.abc import Callable

from bench.emulator.config import ServiceTimeConfig

# z-score of the 99th percentile of the standard normal distribution.
Z_P99 = 2.3263478740408408


def service_time_sampler(config: ServiceTimeConfig, rng: random.Random) -> Callable[[], float]:
    """A function returning one service time in seconds per call."""
    if config.distribution == "lognormal":
        mu = math.log(config.median_ms / 1000.0)
        sigma = math.log(config.p99_ms / config.median_ms) / Z_P99
        lognormvariate = rng.lognormvariate
        return lambda: lognormvariate(mu, sigma)
    fixed_s = config.ms / 1000.0
    return lambda: fixed_s


class Slots:
    """Concurrent executions of one endpoint variant, scheduled on virtual time.

    Each slot has the time it becomes free. A request takes the slot free first, starts at
    ``max(now, free_at)`` and ends ``duration_s`` later; it sleeps until then. Starts and ends come
    from the schedule, not from when the event loop happened to wake the previous request, so timer
    lateness never accumulates and a saturated variant serves exactly slots / mean service time
    (an ``asyncio.Semaphore`` loses about 1 ms per request to timer rounding: ~10 % at 20 ms).
    Requests are served first come, first served.
    """

    __slots__ = ("_free_at", "_starts", "queue_limit", "slots")

    def __init__(self, slots: int, queue_limit: int) -> None:
        self.slots = slots
        self.queue_limit = queue_limit
        self._free_at = [0.0] * slots  # a heap: when each slot is next free (time.monotonic)
        self._starts: collections.deque[float] = collections.deque()  # future starts, non-decreasing

    def waiting(self, now: float) -> int:
        """Requests admitted but not yet started (waiting for a slot)."""
        starts = self._starts
        while starts and starts[0] <= now:
            starts.popleft()
        return len(starts)

    def full(self) -> bool:
        """True when a new request must be throttled: every slot busy and the queue at its limit."""
        now = time.monotonic()
        return self._free_at[0] > now and self.waiting(now) >= self.queue_limit

    async def run(self, duration_s: float) -> None:
        """Hold the earliest free slot for ``duration_s``, waiting for it first when all are busy."""
        now = time.monotonic()  # the clock of asyncio's event loop
        start = max(now, self._free_at[0])
        end = start + duration_s
        heapq.heapreplace(self._free_at, end)
        if start > now:
            self._starts.append(start)
        if end > now:
            await asyncio.sleep(end - now)
