"""A mergeable histogram for live figures: a DDSketch (``ddsketch``) plus exact count, sum, min and max.

DDSketch (Masson et al., VLDB 2019; the library Datadog maintains) answers quantiles with a relative
error bound: the value returned for quantile q is within ``RELATIVE_ACCURACY`` (1 %) of the value of
rank ``q * (n - 1)`` in the sorted data, over any range of values, with a few hundred bins for
1 ms .. 10 s. Sketches with the same accuracy merge exactly (bin counts add up), which is what lets
workers ship them and the master add them up. Memory is bounded by ``BIN_LIMIT`` bins per sketch
(the lowest bins collapse beyond it, which only the lowest quantiles would notice).

The library serializes through protobuf only; ``to_wire``/``from_wire`` write the bins as plain lists
(msgpack-friendly builtins) instead. Values below zero are counted as zero.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from ddsketch.ddsketch import BaseDDSketch
from ddsketch.mapping import LogarithmicMapping
from ddsketch.store import CollapsingLowestDenseStore, DenseStore

RELATIVE_ACCURACY = 0.01
BIN_LIMIT = 2048


@functools.cache
def _mapping(relative_accuracy: float) -> LogarithmicMapping:
    return LogarithmicMapping(relative_accuracy)


class Histogram:
    """Values in milliseconds: approximate quantiles (DDSketch), exact count, mean, min and max."""

    __slots__ = ("_sketch", "_store", "count", "high", "low", "total")

    def __init__(self, *, _store: CollapsingLowestDenseStore | None = None, _zeros: float = 0.0) -> None:
        self._store = _store if _store is not None else CollapsingLowestDenseStore(BIN_LIMIT)
        self._sketch = BaseDDSketch(_mapping(RELATIVE_ACCURACY), self._store, DenseStore(), _zeros)
        self.count = 0
        self.total = 0.0
        self.low = math.inf
        self.high = -math.inf

    def add(self, value: float) -> None:
        if value < 0.0:
            value = 0.0
        self._sketch.add(value)
        self.count += 1
        self.total += value
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value

    def merge(self, other: Histogram) -> None:
        """Add ``other``'s values to this histogram (``other`` is left as it was)."""
        if other.count == 0:
            return
        self._sketch.merge(other._sketch)
        self.count += other.count
        self.total += other.total
        self.low = min(self.low, other.low)
        self.high = max(self.high, other.high)

    def quantile(self, q: float) -> float | None:
        """The value at quantile ``q`` (0..1), within the sketch's relative accuracy; None when empty.

        p0 and p100 are the exact min and max; the others are clamped to them.
        """
        if self.count == 0:
            return None
        if q <= 0.0 or q >= 1.0:
            return self.low if q <= 0.0 else self.high
        value = self._sketch.get_quantile_value(q)
        if value is None:
            return None
        return min(max(float(value), self.low), self.high)

    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    @property
    def bins(self) -> int:
        """Bins held (for memory checks)."""
        return len(self._store.bins)

    def to_wire(self) -> list[Any]:
        """``[count, sum, min, max, zeros, first_key, [bin counts ...]]``: builtins only."""
        store = self._store
        if store.count:
            start, stop = store.min_key - store.offset, store.max_key - store.offset + 1
            first_key, counts = int(store.min_key), [int(c) for c in store.bins[start:stop]]
        else:
            first_key, counts = 0, []
        zeros = self.count - int(store.count)
        return [self.count, self.total, self.low, self.high, zeros, first_key, counts]

    @classmethod
    def from_wire(cls, data: list[Any]) -> Histogram:
        count, total, low, high, zeros, first_key, counts = data
        store = CollapsingLowestDenseStore(BIN_LIMIT)
        for offset, n in enumerate(counts):
            if n:
                store.add(first_key + offset, float(n))
        histogram = cls(_store=store, _zeros=float(zeros))
        histogram.count, histogram.total = int(count), float(total)
        histogram.low, histogram.high = float(low), float(high)
        return histogram
