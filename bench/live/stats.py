"""Live statistics per request key, in one-second slots: the last-10-s table and cumulative queries.

``LiveStats.observe(record)`` files each ``RequestRecord`` under its key ``(request_type, name,
variant)`` and the second it **completed** (``timestamp_s + latency_ms``). What one key saw in one
second is a ``Tally`` (``bench.live.tally``): requests, errors by (error_type, error_stage), tokens,
late requests, and mergeable histograms of latency, TTFP, mean gap, and in the open loop effective
latency and schedule lag. Open-loop records are also counted by the second they were **sent** in
(``bench.live.sends``), for the achieved send rate (``sends``).

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
from bench.live.sends import SendSeconds, SendTally
from bench.live.tally import METRICS, Tally

__all__ = ["METRICS", "WIRE_VERSION", "LiveQuery", "LiveStats", "SendTally", "Tally", "WindowRow"]

WIRE_VERSION = 2
_BEFORE_ANY_CUT = -(2**62)

Key = tuple[str, str, str]  # request_type, name, variant ("" when none)


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
    # the open loop (None, 0 in closed loop)
    effective_ms: tuple[float | None, float | None] = (None, None)  # p95, p99 (successful requests)
    lag_p99_ms: float | None = None  # schedule lag, every request
    late: int = 0  # requests sent more than LATE_LAG_MS after their intended time

    @property
    def late_rate(self) -> float | None:
        return self.late / self.requests if self.requests else None


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
    def late(self) -> int:
        return self.tally.late

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
        self._pending_sends: dict[int, SendTally] = {}
        self._keys: dict[Key, _KeyStats] = {}
        self._sends = SendSeconds()
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
        if record.effective_latency_ms is not None:  # the open loop: by the second it was sent in too
            sent_s = record.timestamp_s
            sends = self._pending_sends.get(int(sent_s))
            if sends is None:
                sends = self._pending_sends[int(sent_s)] = SendTally()
            sends.add(sent_s)

    def export(self) -> dict[str, Any]:
        """What was observed since the last export, as builtins; ``{}`` when nothing was."""
        if not self._pending:
            return {}
        slots = [[s, t, n, v, tally.to_wire()] for (s, t, n, v), tally in self._pending.items()]
        sends = [tally.to_wire(second) for second, tally in self._pending_sends.items()]
        self._pending, self._pending_sends = {}, {}
        return {"v": WIRE_VERSION, "slots": slots, "sends": sends}

    def merge(self, data: dict[str, Any]) -> None:
        """Add another process's ``export()`` in."""
        if not data:
            return
        if data.get("v") != WIRE_VERSION:
            raise ValueError(f"live statistics of wire version {data.get('v')!r}; expected {WIRE_VERSION}")
        self._absorb()
        for second, request_type, name, variant, wire in data["slots"]:
            self._add((str(request_type), str(name), str(variant)), int(second), Tally.from_wire(wire))
        for second, count, first_s, last_s in data.get("sends", ()):
            self._add_sends(int(second), SendTally(int(count), float(first_s), float(last_s)))
        self._fold()

    def _absorb(self) -> None:
        """Move this process's pending tallies into the slots."""
        pending, self._pending = self._pending, {}
        for (second, request_type, name, variant), tally in pending.items():
            self._add((request_type, name, variant), second, tally)
        sends, self._pending_sends = self._pending_sends, {}
        for second, send_tally in sends.items():
            self._add_sends(second, send_tally)
        self._fold()

    def _add_sends(self, second: int, tally: SendTally) -> None:
        folded = self._folded_through is not None and second <= self._folded_through
        self._sends.add(second, tally, self._block_of(second) if folded else None)

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
        self._sends.fold(horizon, self._block_of)
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

    def sends(self, *, now_s: float | None = None, since_s: float | None = None) -> SendTally:
        """The open loop's sends (every key): with ``now_s``, of the last ``window_s`` whole seconds
        before ``now_s``'s second (the window of ``window``); else since ``since_s`` (exact to the
        second, as ``query``), or all of them."""
        if now_s is not None:
            self._absorb()
            end = math.floor(now_s)
            return self._sends.between(end - self.window_s, end)
        if since_s is not None:
            self.add_cut(since_s)
        else:
            self._absorb()
        return self._sends.since(_BEFORE_ANY_CUT if since_s is None else math.ceil(since_s))

    def quantile(self, metric: str, q: float, **scope: Any) -> float | None:
        """``query(**scope).quantile(metric, q)``: q in 0..1, metric one of ``METRICS`` (ms)."""
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
        start, end, seconds = self._window_bounds(now_s)
        return [_row(key, self._window_tally([key], start, end), seconds) for key in sorted(self._keys)]

    def window_total(self, now_s: float) -> WindowRow:
        """Every key together over the window of ``window`` (type, name and variant empty)."""
        start, end, seconds = self._window_bounds(now_s)
        return _row(("", "", ""), self._window_tally(list(self._keys), start, end), seconds)

    def _window_bounds(self, now_s: float) -> tuple[int, int, int]:
        self._absorb()
        end = math.floor(now_s)  # the current second is still filling: left out
        start = end - self.window_s
        if self._oldest is not None:
            start = max(start, min(self._oldest, end - 1))
        return start, end, max(end - start, 1)

    def _window_tally(self, keys: list[Key], start: int, end: int) -> Tally:
        total = Tally()
        for key in keys:
            for second, tally in self._keys[key].slots.items():
                if start <= second < end:
                    total.merge(tally)
        return total

    def held(self) -> tuple[int, int]:
        """(tallies, histogram bins) held: what memory is spent on (for checks on long runs); the
        open loop's send tallies count as tallies."""
        self._absorb()
        tallies = bins = 0
        for stats in self._keys.values():
            for tally in [*stats.slots.values(), *stats.blocks.values()]:
                tallies += 1
                bins += sum(h.bins for h in tally.histograms())
        return tallies + len(self._sends), bins


def _row(key: Key, total: Tally, seconds: int) -> WindowRow:
    """The window's row of ``key`` from its merged tally."""

    def quantiles(metric: str, qs: tuple[float, ...]) -> tuple[float | None, ...]:
        histogram = total.histogram(metric)
        return tuple(None if histogram is None else histogram.quantile(q) for q in qs)

    t50, t95, t99 = quantiles("ttfp", (0.5, 0.95, 0.99))
    l50, l95, l99 = quantiles("latency", (0.5, 0.95, 0.99))
    g50, g99 = quantiles("gap", (0.5, 0.99))
    e95, e99 = quantiles("effective", (0.95, 0.99))
    (lag99,) = quantiles("lag", (0.99,))
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
        effective_ms=(e95, e99),
        lag_p99_ms=lag99,
        late=total.late,
    )


def _merge_into(tallies: dict[int, Tally], key: int, tally: Tally) -> None:
    mine = tallies.get(key)
    if mine is None:
        tallies[key] = tally
    else:
        mine.merge(tally)
