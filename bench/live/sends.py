"""The open loop's sends, by the second they were **sent** in: how many, and the first and last send time.

``LiveStats`` files each open-loop record here by ``int(timestamp_s)`` (the actual send), next to its
tally by completion second. The achieved send rate of a span is the exact summary's definition
(``bench.analysis.openloop.achieved_rate_per_s``) on the sends it holds: ``(n - 1) / (last - first)``.
A send is known once its request completed (records arrive then), so the latest sends of a window are
missing while they are in flight; the first and last send times are those of the sends counted, so
the rate of a window is not pulled down by them (only the few sent before the last counted one and
still in flight are missing). Seconds fold into one block per cut, like the tallies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


class SendTally:
    """Sends of one second (or a folded span): their number and the first and last send time (epoch s)."""

    __slots__ = ("count", "first_s", "last_s")

    def __init__(self, count: int = 0, first_s: float = math.inf, last_s: float = -math.inf) -> None:
        self.count = count
        self.first_s = first_s
        self.last_s = last_s

    def add(self, sent_s: float) -> None:
        self.count += 1
        if sent_s < self.first_s:
            self.first_s = sent_s
        if sent_s > self.last_s:
            self.last_s = sent_s

    def merge(self, other: SendTally) -> None:
        self.count += other.count
        self.first_s = min(self.first_s, other.first_s)
        self.last_s = max(self.last_s, other.last_s)

    @property
    def rate_per_s(self) -> float | None:
        """``(count - 1) / (last - first)``; None for fewer than two sends or no span."""
        span = self.last_s - self.first_s
        return (self.count - 1) / span if self.count >= 2 and span > 0 else None

    @property
    def span_s(self) -> float:
        return self.last_s - self.first_s if self.count else 0.0

    def to_wire(self, second: int) -> list[Any]:
        return [second, self.count, self.first_s, self.last_s]


class SendSeconds:
    """Send tallies by send second, folded into one block per cut (``block_of``) before a horizon."""

    def __init__(self) -> None:
        self.seconds: dict[int, SendTally] = {}
        self.blocks: dict[int, SendTally] = {}

    def add(self, second: int, tally: SendTally, block: int | None) -> None:
        """``block``: the cut's block when the second is already folded, else None."""
        target = self.seconds if block is None else self.blocks
        key = second if block is None else block
        mine = target.get(key)
        if mine is None:
            target[key] = tally
        else:
            mine.merge(tally)

    def fold(self, horizon: int, block_of: Callable[[int], int]) -> None:
        """Seconds before ``horizon`` into their cut's block."""
        for second in [s for s in self.seconds if s < horizon]:
            self.add(second, self.seconds.pop(second), block_of(second))

    def between(self, start: int, end: int) -> SendTally:
        """The sends of seconds ``start`` <= s < ``end`` (still unfolded)."""
        total = SendTally()
        for second, tally in self.seconds.items():
            if start <= second < end:
                total.merge(tally)
        return total

    def since(self, cut: int) -> SendTally:
        """The sends of every second from ``cut`` on (exact when the cut was registered in time)."""
        total = SendTally()
        for block, tally in self.blocks.items():
            if block >= cut:
                total.merge(tally)
        for second, tally in self.seconds.items():
            if second >= cut:
                total.merge(tally)
        return total

    def __len__(self) -> int:
        return len(self.seconds) + len(self.blocks)
