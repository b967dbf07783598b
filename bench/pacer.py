"""The arrival schedule of the open-loop (arrival-rate) mode: when each request is sent, independent of
when earlier ones complete.

Pure: numpy only (no Locust, gevent or boto3), so a schedule is tested without a clock.

A run of ``rate_per_s`` requests per second split over ``processes`` load-generator processes gives each
process a schedule of ``rate_per_s / processes``:

- ``poisson``: independent exponential gaps of mean ``processes / rate_per_s`` from a random stream
  seeded by ``(seed, process_index)`` (numpy ``SeedSequence(seed, spawn_key=(process_index,))``, the
  stream ``SeedSequence(seed).spawn(processes)[process_index]`` would give). Independent Poisson
  processes superpose to a Poisson process of the summed rate, so the union over all processes is a
  Poisson process of ``rate_per_s``. The first send is one gap after the start (not at 0).
- ``constant``: fixed gaps of ``processes / rate_per_s``; process ``i`` starts at ``i / rate_per_s``, so
  the union is evenly spaced at ``1 / rate_per_s`` from 0. The k-th send is computed directly as
  ``(i + k x processes) / rate_per_s``, so no rounding error accumulates.

Send times are seconds (float) relative to the schedule's start, increasing, precomputed in blocks of
``block_size`` (4096) so that ``next_send_s()`` is a list look-up on the hot path.
"""

from __future__ import annotations

import math
import numbers
from collections import deque
from collections.abc import Callable, Iterator
from typing import Literal, Protocol, get_args

import numpy as np
import numpy.typing as npt

ArrivalDistribution = Literal["poisson", "constant"]


class Signal(Protocol):
    """What waiting users wait on (gevent's ``Event`` in the harness)."""

    def set(self) -> None: ...

    def wait(self, timeout: float | None = None) -> bool | None: ...


ARRIVAL_DISTRIBUTIONS: tuple[str, ...] = get_args(ArrivalDistribution)
BLOCK_SIZE = 4096


class ArrivalSchedule:
    """The send times of one load-generator process (see the module docstring)."""

    def __init__(
        self,
        rate_per_s: float,
        distribution: ArrivalDistribution,
        seed: int,
        process_index: int = 0,
        processes: int = 1,
        *,
        block_size: int = BLOCK_SIZE,
        stream: int = 0,
    ) -> None:
        if not (_is_real(rate_per_s) and rate_per_s > 0 and math.isfinite(rate_per_s)):
            raise ValueError(f"rate_per_s must be a finite number > 0, got {rate_per_s!r}")
        if distribution not in ARRIVAL_DISTRIBUTIONS:
            raise ValueError(
                f"unknown distribution {distribution!r}; use one of {', '.join(ARRIVAL_DISTRIBUTIONS)}"
            )
        if not (_is_integer(seed) and seed >= 0):
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        if not (_is_integer(processes) and processes >= 1):
            raise ValueError(f"processes must be an integer >= 1, got {processes!r}")
        if not (_is_integer(process_index) and 0 <= process_index < processes):
            raise ValueError(f"process_index must be an integer in [0, {processes}), got {process_index!r}")
        if not (_is_integer(stream) and stream >= 0):
            raise ValueError(f"stream must be an integer >= 0, got {stream!r}")
        if not (_is_integer(block_size) and block_size >= 1):
            raise ValueError(f"block_size must be an integer >= 1, got {block_size!r}")
        self.rate_per_s = float(rate_per_s)
        self.distribution: ArrivalDistribution = distribution
        self.seed = int(seed)
        self.process_index = int(process_index)
        self.processes = int(processes)
        self.block_size = int(block_size)
        self.stream = int(stream)  # one random stream per rate segment of a Pacer (0: the first)
        self._blocks = self._generate_blocks()
        self._block: list[float] = []
        self._position = 0

    @property
    def process_rate_per_s(self) -> float:
        """This process's share of the rate: ``rate_per_s / processes``."""
        return self.rate_per_s / self.processes

    @property
    def mean_gap_s(self) -> float:
        """The mean time between two sends of this process: ``processes / rate_per_s``."""
        return self.processes / self.rate_per_s

    def next_send_s(self) -> float:
        """The next send time, in seconds since the schedule's start (the first call gives the first)."""
        if self._position == len(self._block):
            self._block = next(self._blocks).tolist()
            self._position = 0
        send_s: float = self._block[self._position]
        self._position += 1
        return send_s

    def __iter__(self) -> Iterator[float]:
        return self

    def __next__(self) -> float:
        return self.next_send_s()

    def send_times(self, until_s: float) -> npt.NDArray[np.float64]:
        """Every send time in ``[0, until_s)`` from the start, independent of ``next_send_s`` (for tests
        and planning): the same values the iterator gives, from a fresh copy of the stream."""
        if not (until_s >= 0 and math.isfinite(until_s)):
            raise ValueError(f"until_s must be a finite number >= 0, got {until_s!r}")
        blocks = []
        for block in self._generate_blocks():
            blocks.append(block)
            if block[-1] >= until_s:
                break
        times = np.concatenate(blocks)
        return times[: int(np.searchsorted(times, until_s, side="left"))]

    def _generate_blocks(self) -> Iterator[npt.NDArray[np.float64]]:
        if self.distribution == "constant":
            yield from self._constant_blocks()
        else:
            yield from self._poisson_blocks()

    def _constant_blocks(self) -> Iterator[npt.NDArray[np.float64]]:
        k = np.arange(self.block_size, dtype=np.float64)
        start = 0
        while True:
            yield (self.process_index + (start + k) * self.processes) / self.rate_per_s
            start += self.block_size

    def _poisson_blocks(self) -> Iterator[npt.NDArray[np.float64]]:
        key = (self.process_index,) if self.stream == 0 else (self.process_index, self.stream)
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))
        last_s = 0.0
        while True:
            block = last_s + np.cumsum(rng.exponential(self.mean_gap_s, self.block_size))
            last_s = float(block[-1])
            yield block


class Pacer:
    """One process's open-loop sends on a clock (``perf_counter`` seconds): the schedule made absolute.

    ``start(now)`` anchors the schedule; each idle user calls ``take()`` for the next intended send
    time, waits for it (when it is ahead), sends, and calls ``sent_one()``. A send time taken after it
    has passed is sent late, never skipped: ``schedule_lag`` is the actual send minus the intended one.

    ``set_rate(rate, now)`` (a rate-stepped run) starts a new segment with its own random stream
    (``stream`` = segment index) at ``now``: the old rate's send times from ``now`` on are void. Users
    waiting on one of them are woken (``signal``, set by ``set_rate``; the caller's event type, e.g.
    gevent's) and take a time of the new segment instead (``is_void``), so a step's rate starts on
    time however many users were waiting at the old one. The old rate's times before ``now`` that no
    user had taken yet (every user was busy) are still sent first, late: never skipped.

    ``stop(now)`` freezes the count of sends due by then; ``not_sent`` = due - sent: scheduled sends
    that never started before the end of the run (no free user, or the run stopped first).
    """

    def __init__(
        self,
        rate_per_s: float,
        distribution: ArrivalDistribution,
        seed: int,
        process_index: int = 0,
        processes: int = 1,
        *,
        new_signal: Callable[[], Signal] | None = None,
    ) -> None:
        """``new_signal`` makes the event that waiting users wait on (one per segment; default: none)."""
        self.distribution: ArrivalDistribution = distribution
        self.seed = seed
        self.process_index = process_index
        self.processes = processes
        self.origin_s: float | None = None
        self.sent = 0
        self.taken = 0
        self.stopped_s: float | None = None
        self._segments: list[tuple[float, ArrivalSchedule]] = []  # (start offset from origin, schedule)
        self._schedule = self._new_schedule(rate_per_s)
        self._segment_start_s = 0.0
        self._backlog: deque[float] = deque()  # offsets of an old rate's times due before its switch
        self._new_signal = new_signal
        self.signal: Signal | None = new_signal() if new_signal is not None else None
        self.generation = 0  # segments started by set_rate

    @property
    def rate_per_s(self) -> float:
        """The whole run's current rate (this process sends ``rate_per_s / processes``)."""
        return self._schedule.rate_per_s

    def start(self, now_s: float) -> None:
        self.origin_s = now_s
        self._segments = [(0.0, self._schedule)]

    def take(self) -> float:
        """The next intended send time (absolute, on the clock of ``start``)."""
        self.taken += 1
        if self._backlog:
            return (self.origin_s or 0.0) + self._backlog.popleft()
        offset = self._segment_start_s + self._schedule.next_send_s()
        return (self.origin_s or 0.0) + offset

    def sent_one(self) -> None:
        self.sent += 1

    def set_rate(self, rate_per_s: float, now_s: float) -> None:
        """From ``now_s`` on, send at ``rate_per_s``; the users waiting on a voided time are signalled."""
        if rate_per_s == self._schedule.rate_per_s or self.origin_s is None:
            return
        start = max(now_s - self.origin_s, self._segment_start_s)
        while (offset := self._segment_start_s + self._schedule.next_send_s()) < start:
            self._backlog.append(offset)  # due before the switch and not taken yet: sent late, first
        self._schedule = self._new_schedule(rate_per_s, stream=len(self._segments))
        self._segment_start_s = start
        self._segments.append((start, self._schedule))
        self.generation += 1
        signal, self.signal = self.signal, self._new_signal() if self._new_signal is not None else None
        if signal is not None:
            signal.set()

    def is_void(self, intended_s: float, generation: int) -> bool:
        """Whether a send time taken in ``generation`` fell at or after the next segment's start (the
        end of its own segment: a later switch cannot move it)."""
        if generation + 1 >= len(self._segments):
            return False
        return intended_s >= (self.origin_s or 0.0) + self._segments[generation + 1][0]

    def stop(self, now_s: float) -> None:
        if self.stopped_s is None:
            self.stopped_s = now_s

    def due(self, now_s: float) -> int:
        """How many sends the schedule held before ``now_s`` (counted from fresh copies of the streams)."""
        if self.origin_s is None:
            return 0
        until = now_s - self.origin_s
        bounds = [start for start, _ in self._segments[1:]] + [math.inf]
        total = 0
        for (start, schedule), end in zip(self._segments, bounds, strict=True):
            if until <= start:
                break
            total += len(schedule.send_times(min(until, end) - start))
        return total

    @property
    def not_sent(self) -> int:
        """Scheduled before the stop, never sent (0 until ``stop``)."""
        if self.stopped_s is None:
            return 0
        return max(0, self.due(self.stopped_s) - self.sent)

    def _new_schedule(self, rate_per_s: float, stream: int = 0) -> ArrivalSchedule:
        return ArrivalSchedule(
            rate_per_s, self.distribution, self.seed, self.process_index, self.processes, stream=stream
        )


def _is_integer(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
