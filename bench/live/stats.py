"""Live statistics per request key, in one-second slots: the last-10-s table and cumulative queries.

``LiveStats.observe(record)`` files each ``RequestRecord`` under its key ``(request_type, name,
variant)`` and the second it **completed** (``timestamp_s + latency_ms``). What one key saw in one
second is a ``Tally``: requests, errors by (error_type, error_stage), tokens, and mergeable histograms
(``bench.live.histogram``) of

- ``latency``: end-to-end latency of successful requests (ms);
- ``ttfp``: time to first payload part, of every record that measured it (ms);
- ``gap``: each request's **mean** gap between parts (``itl_mean_ms``): the distribution of
  per-request means, not of individual gaps (which records do not carry).

Seconds older than the window (plus ``lateness_s`` for records that arrive late from workers) are
folded into one cumulative tally per key and per *cut* (a second registered with ``add_cut``, or the
first time a query asks ``since_s``), so memory stays bounded on long runs and queries ``since_s``
stay exact to the second as long as the cut was registered before the run got ``window_s +
lateness_s`` past it (the warm-up end, registered at the start, always is).

Distributed runs: a worker's ``LiveStats(for_export=True)`` only accumulates; ``export()`` hands what
it observed since the last export as builtins (msgpack-friendly) and the master's ``merge(data)``
adds it in. Figures are approximate (DDSketch, 1 % relative accuracy; counts and sums are exact); the
reports (``summary.csv``, gates) are computed from the raw records, never from here.

This module is pure: no Locust, gevent or boto3; it never reads the clock (callers pass ``now_s``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.collect.record import RequestRecord
from bench.live.histogram import Histogram

METRICS = ("latency", "ttfp", "gap")
WIRE_VERSION = 1
_BEFORE_ANY_CUT = -(2**62)

Key = tuple[str, str, str]  # request_type, name, variant ("" when none)


class Tally:
    """What one key observed in one second (or in a folded span of seconds)."""

    __slots__ = ("error_kinds", "errors", "gap", "latency", "requests", "tokens", "ttfp")

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.tokens = 0
        self.latency: Histogram | None = None
        self.ttfp: Histogram | None = None
        self.gap: Histogram | None = None
        self.error_kinds: dict[tuple[str, str], int] | None = None

    def observe(self, record: RequestRecord) -> None:
        self.requests += 1
        if record.status == "ok":
            latency = self.latency
            if latency is None:
                latency = self.latency = Histogram()
            latency.add(record.latency_ms)
        else:
            self.errors += 1
            kinds = self.error_kinds
            if kinds is None:
                kinds = self.error_kinds = {}
            kind = (record.error_type or "Unknown", record.error_stage or "request")
            kinds[kind] = kinds.get(kind, 0) + 1
        if record.ttfp_ms is not None:
            ttfp = self.ttfp
            if ttfp is None:
                ttfp = self.ttfp = Histogram()
            ttfp.add(record.ttfp_ms)
        if record.itl_mean_ms is not None:
            gap = self.gap
            if gap is None:
                gap = self.gap = Histogram()
            gap.add(record.itl_mean_ms)
        if record.tokens:
            self.tokens += record.tokens

    def merge(self, other: Tally) -> None:
        """Add ``other`` in (``other`` is left as it was)."""
        self.requests += other.requests
        self.errors += other.errors
        self.tokens += other.tokens
        for metric in METRICS:
            theirs: Histogram | None = getattr(other, metric)
            if theirs is None or theirs.count == 0:
                continue
            mine: Histogram | None = getattr(self, metric)
            if mine is None:
                mine = Histogram()
                setattr(self, metric, mine)
            mine.merge(theirs)
        if other.error_kinds:
            kinds = self.error_kinds if self.error_kinds is not None else {}
            for kind, n in other.error_kinds.items():
                kinds[kind] = kinds.get(kind, 0) + n
            self.error_kinds = kinds

    def histogram(self, metric: str) -> Histogram | None:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
        found: Histogram | None = getattr(self, metric)
        return found

    def to_wire(self) -> list[Any]:
        hists = [None if h is None else h.to_wire() for h in (self.latency, self.ttfp, self.gap)]
        kinds = [[t, s, n] for (t, s), n in (self.error_kinds or {}).items()]
        return [self.requests, self.errors, self.tokens, *hists, kinds]

    @classmethod
    def from_wire(cls, data: list[Any]) -> Tally:
        requests, errors, tokens, latency, ttfp, gap, kinds = data
        tally = cls()
        tally.requests, tally.errors, tally.tokens = int(requests), int(errors), int(tokens)
        tally.latency = None if latency is None else Histogram.from_wire(latency)
        tally.ttfp = None if ttfp is None else Histogram.from_wire(ttfp)
        tally.gap = None if gap is None else Histogram.from_wire(gap)
        tally.error_kinds = {(str(t), str(s)): int(n) for t, s, n in kinds} or None
        return tally


@dataclass
class _KeyStats:
    slots: dict[int, Tally] = field(default_factory=dict)  # recent seconds
    blocks: dict[int, Tally] = field(default_factory=dict)  # folded seconds, by the cut they start at
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)  # first and last second of a block

    def fold(self, block: int, second: int, tally: Tally) -> None:
        _merge_into(self.blocks, block, tally)
        begin, finish = self.spans.get(block, (second, second))
        self.spans[block] = (min(begin, second), max(finish, second))


@dataclass(frozen=True)
class WindowRow:
    """One key over the last window: the Inference tab's row. Times in ms; None where nothing measured."""

    request_type: str
    name: str
    variant: str
    requests: int
    errors: int
    seconds: int  # seconds the figures cover (the window, or less at the start of a run)
    rps: float
    tokens_per_s: float
    ttfp_ms: tuple[float | None, float | None, float | None]  # p50, p95, p99
    latency_ms: tuple[float | None, float | None, float | None]  # p50, p95, p99 (successful requests)
    gap_ms: tuple[float | None, float | None]  # p50, p99 of per-request mean gaps
    error_kinds: tuple[tuple[str, str, int], ...]  # (error_type, error_stage, count), most first


@dataclass(frozen=True)
class LiveQuery:
    """Cumulative figures of the keys in scope since a cut: the answer to ``LiveStats.query``."""

    tally: Tally
    first_second: int | None  # first and last completion second with data
    last_second: int | None

    @property
    def count(self) -> int:
        return self.tally.requests

    @property
    def errors(self) -> int:
        return self.tally.errors

    @property
    def tokens(self) -> int:
        return self.tally.tokens

    @property
    def seconds(self) -> int:
        """Whole seconds from the first to the last second with data (at least 1 when any)."""
        if self.first_second is None or self.last_second is None:
            return 0
        return self.last_second - self.first_second + 1

    @property
    def error_kinds(self) -> dict[tuple[str, str], int]:
        return dict(self.tally.error_kinds or {})

    def quantile(self, metric: str, q: float) -> float | None:
        histogram = self.tally.histogram(metric)
        return None if histogram is None else histogram.quantile(q)

    def mean(self, metric: str) -> float | None:
        histogram = self.tally.histogram(metric)
        return None if histogram is None else histogram.mean()

    def min(self, metric: str) -> float | None:
        histogram = self.tally.histogram(metric)
        return None if histogram is None or histogram.count == 0 else histogram.low

    def max(self, metric: str) -> float | None:
        histogram = self.tally.histogram(metric)
        return None if histogram is None or histogram.count == 0 else histogram.high

    def values(self, metric: str) -> int:
        """How many values of ``metric`` were observed."""
        histogram = self.tally.histogram(metric)
        return 0 if histogram is None else histogram.count


class LiveStats:
    """Per-key, per-second live statistics; see the module docstring."""

    def __init__(self, *, window_s: int = 10, lateness_s: int = 3, for_export: bool = False) -> None:
        if window_s < 1:
            raise ValueError("window_s must be at least 1")
        self.window_s = window_s
        self.lateness_s = lateness_s
        self.for_export = for_export
        self._pending: dict[tuple[int, str, str, str], Tally] = {}
        self._pending_second = -(2**62)
        self._keys: dict[Key, _KeyStats] = {}
        self._cuts: list[int] = []
        self._newest: int | None = None
        self._oldest: int | None = None
        self._folded_through: int | None = None

    # ---- ingest --------------------------------------------------------------------------------
    def observe(self, record: RequestRecord) -> None:
        """File one record (a ``RequestCollector`` observer); a few microseconds (README)."""
        second = int(record.timestamp_s + record.latency_ms * 0.001)
        slot = (second, record.request_type, record.name, record.variant or "")
        tally = self._pending.get(slot)
        if tally is None:
            if second > self._pending_second:
                self._pending_second = second
                if not self.for_export:
                    self._absorb()
            tally = self._pending[slot] = Tally()
        tally.observe(record)

    def export(self) -> dict[str, Any]:
        """What was observed since the last export, as builtins; ``{}`` when nothing was."""
        if not self._pending:
            return {}
        slots = [[s, t, n, v, tally.to_wire()] for (s, t, n, v), tally in self._pending.items()]
        self._pending = {}
        return {"v": WIRE_VERSION, "slots": slots}

    def merge(self, data: dict[str, Any]) -> None:
        """Add another process's ``export()`` in."""
        if not data:
            return
        if data.get("v") != WIRE_VERSION:
            raise ValueError(f"live statistics of wire version {data.get('v')!r}; expected {WIRE_VERSION}")
        self._absorb()
        for second, request_type, name, variant, wire in data["slots"]:
            self._add((str(request_type), str(name), str(variant)), int(second), Tally.from_wire(wire))
        self._fold()

    def _absorb(self) -> None:
        """Move this process's pending tallies into the slots."""
        pending, self._pending = self._pending, {}
        for (second, request_type, name, variant), tally in pending.items():
            self._add((request_type, name, variant), second, tally)
        self._fold()

    def _add(self, key: Key, second: int, tally: Tally) -> None:
        stats = self._keys.get(key)
        if stats is None:
            stats = self._keys[key] = _KeyStats()
        if self._newest is None or second > self._newest:
            self._newest = second
        if self._oldest is None or second < self._oldest:
            self._oldest = second
        if self._folded_through is not None and second <= self._folded_through:
            stats.fold(self._block_of(second), second, tally)
        else:
            _merge_into(stats.slots, second, tally)

    def _fold(self) -> None:
        if self._newest is None:
            return
        horizon = self._newest - self.window_s - self.lateness_s  # seconds before it are folded
        if self._folded_through is not None and horizon - 1 <= self._folded_through:
            return
        for stats in self._keys.values():
            for second in [s for s in stats.slots if s < horizon]:
                stats.fold(self._block_of(second), second, stats.slots.pop(second))
        self._folded_through = horizon - 1

    def _block_of(self, second: int) -> int:
        index = bisect.bisect_right(self._cuts, second)
        return self._cuts[index - 1] if index else _BEFORE_ANY_CUT

    def add_cut(self, since_s: float) -> bool:
        """Keep data before and after ``since_s`` apart from now on (whole seconds: ``ceil``).

        True when queries since it are exact: nothing straddling it was folded yet.
        """
        self._absorb()
        cut = math.ceil(since_s)
        if cut not in self._cuts:
            bisect.insort(self._cuts, cut)
        return self._folded_through is None or cut > self._folded_through

    # ---- queries -------------------------------------------------------------------------------
    def keys(self) -> list[Key]:
        self._absorb()
        return sorted(self._keys)

    @property
    def newest_second(self) -> int | None:
        """The latest completion second observed."""
        self._absorb()
        return self._newest

    def query(
        self,
        *,
        request_type: str | None = None,
        name: str | None = None,
        variant: str | None = None,
        since_s: float | None = None,
    ) -> LiveQuery:
        """Everything observed (since ``since_s``, exact to the second) by the keys in scope."""
        if since_s is not None:
            self.add_cut(since_s)
        else:
            self._absorb()
        cut = _BEFORE_ANY_CUT if since_s is None else math.ceil(since_s)
        total, first, last = Tally(), None, None
        for key in self._scope(request_type, name, variant):
            stats = self._keys[key]
            spans = [(stats.spans[b], t) for b, t in stats.blocks.items() if b >= cut]
            spans += [((s, s), t) for s, t in stats.slots.items() if s >= cut]
            for (begin, finish), tally in spans:
                if tally.requests:
                    total.merge(tally)
                    first = begin if first is None else min(first, begin)
                    last = finish if last is None else max(last, finish)
        return LiveQuery(total, first, last)

    def quantile(self, metric: str, q: float, **scope: Any) -> float | None:
        """``query(**scope).quantile(metric, q)``: q in 0..1, metric latency | ttfp | gap (ms)."""
        return self.query(**scope).quantile(metric, q)

    def count(self, **scope: Any) -> int:
        return self.query(**scope).count

    def mean(self, metric: str, **scope: Any) -> float | None:
        return self.query(**scope).mean(metric)

    def _scope(self, request_type: str | None, name: str | None, variant: str | None) -> Iterator[Key]:
        for key in self._keys:
            if (
                (request_type is None or key[0] == request_type)
                and (name is None or key[1] == name)
                and (variant is None or key[2] == variant)
            ):
                yield key

    def window(self, now_s: float) -> list[WindowRow]:
        """One row per key over the last ``window_s`` whole seconds before ``now_s``'s second."""
        self._absorb()
        end = math.floor(now_s)  # the current second is still filling: left out
        start = end - self.window_s
        if self._oldest is not None:
            start = max(start, min(self._oldest, end - 1))
        seconds = max(end - start, 1)
        return [self._row(key, start, end, seconds) for key in sorted(self._keys)]

    def _row(self, key: Key, start: int, end: int, seconds: int) -> WindowRow:
        total = Tally()
        for second, tally in self._keys[key].slots.items():
            if start <= second < end:
                total.merge(tally)

        def quantiles(metric: str, qs: tuple[float, ...]) -> tuple[float | None, ...]:
            histogram = total.histogram(metric)
            return tuple(None if histogram is None else histogram.quantile(q) for q in qs)

        t50, t95, t99 = quantiles("ttfp", (0.5, 0.95, 0.99))
        l50, l95, l99 = quantiles("latency", (0.5, 0.95, 0.99))
        g50, g99 = quantiles("gap", (0.5, 0.99))
        kinds = sorted((total.error_kinds or {}).items(), key=lambda item: (-item[1], item[0]))
        return WindowRow(
            request_type=key[0],
            name=key[1],
            variant=key[2],
            requests=total.requests,
            errors=total.errors,
            seconds=seconds,
            rps=total.requests / seconds,
            tokens_per_s=total.tokens / seconds,
            ttfp_ms=(t50, t95, t99),
            latency_ms=(l50, l95, l99),
            gap_ms=(g50, g99),
            error_kinds=tuple((t, s, n) for (t, s), n in kinds),
        )

    def held(self) -> tuple[int, int]:
        """(tallies, histogram bins) held: what memory is spent on (for checks on long runs)."""
        self._absorb()
        tallies = bins = 0
        for stats in self._keys.values():
            for tally in [*stats.slots.values(), *stats.blocks.values()]:
                tallies += 1
                bins += sum(h.bins for h in (tally.latency, tally.ttfp, tally.gap) if h is not None)
        return tallies, bins


def _merge_into(tallies: dict[int, Tally], key: int, tally: Tally) -> None:
    mine = tallies.get(key)
    if mine is None:
        tallies[key] = tally
    else:
        mine.merge(tally)
