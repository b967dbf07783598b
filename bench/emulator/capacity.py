"""The capacity model: ``slots`` concurrent executions behind a bounded queue.

``Slots`` (kind triton): known capacity = slots / mean service time (slots 4, fixed 20 ms -> 200
requests/s), so capacity planning can be checked against a known answer. ``SequenceSlots`` (kind llm):
concurrent sequences of continuous batching, held from admission to the last token. Either way a
request that would wait while ``queue_limit`` others already wait is throttled at once.

``stall(seconds)`` (the test route ``POST /_emulator/stall``) holds every slot for that long from now:
requests arriving meanwhile wait in the queue (throttled only past ``queue_limit``) and start when it
ends; requests admitted before it keep their schedule.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import heapq
import time


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

    def stall(self, seconds: float) -> None:
        """Hold every slot until ``seconds`` from now (or later, if it is busy longer already)."""
        until = time.monotonic() + seconds
        self._free_at = [max(free_at, until) for free_at in self._free_at]
        heapq.heapify(self._free_at)


class SequenceSlots:
    """Concurrent sequences of one LLM endpoint variant (continuous batching) behind a FIFO queue.

    A sequence holds a slot from admission to its last token. Its duration is not known when it
    starts (per-token time grows with the number of active sequences), so unlike ``Slots`` this is a
    live count. ``release`` hands the slot straight to the first waiter, which is admitted at the
    release time (returned by ``acquire``), so waiting adds no timer lateness to its schedule.
    While stalled (``stall``), no sequence is admitted, not even to a slot a finished one frees; at its
    end the waiters are admitted, first come first served, into the free slots.
    """

    __slots__ = ("_stall", "_waiters", "active", "queue_limit", "slots")

    def __init__(self, slots: int, queue_limit: int) -> None:
        self.slots = slots
        self.queue_limit = queue_limit
        self.active = 0  # sequences holding a slot
        self._waiters: collections.deque[asyncio.Future[float]] = collections.deque()
        self._stall: asyncio.TimerHandle | None = None  # the end of a stall under way

    def full(self) -> bool:
        """True when a new sequence must be throttled: no slot to admit it and the queue at its limit."""
        blocked = self.active >= self.slots or self._stall is not None
        return blocked and self.waiting() >= self.queue_limit

    def waiting(self) -> int:
        return sum(1 for waiter in self._waiters if not waiter.done())

    async def acquire(self) -> float:
        """Wait for a slot; return the admission time (event-loop clock). Pair with ``release``."""
        loop = asyncio.get_running_loop()
        if self.active < self.slots and not self._waiters and self._stall is None:
            self.active += 1
            return loop.time()
        waiter: asyncio.Future[float] = loop.create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over just before the cancellation
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        if self._stall is None and self._hand_over(asyncio.get_running_loop().time()):
            return
        self.active -= 1

    def stall(self, seconds: float) -> None:
        """Admit no sequence until ``seconds`` from now (a stall under way ends then, or later)."""
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        if self._stall is not None:
            until = max(until, self._stall.when())
            self._stall.cancel()
        self._stall = loop.call_at(until, self._end_stall)

    def _end_stall(self) -> None:
        self._stall = None
        now = asyncio.get_running_loop().time()
        while self.active < self.slots and self._hand_over(now):
            self.active += 1

    def _hand_over(self, now: float) -> bool:
        """Admit the first live waiter at ``now`` (it takes over a slot); False when none waits."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(now)
                return True
        return False
