"""What one request key observed in one second (or a folded span of seconds): a ``Tally``.

Counts (requests, errors by (error_type, error_stage), tokens, and in the open loop the late
requests) and mergeable histograms (``bench.live.histogram``) of

- ``latency``: end-to-end (service) latency of successful requests (ms);
- ``ttfp``: time to first payload part, of every record that measured it (ms);
- ``gap``: each request's **mean** gap between parts (``itl_mean_ms``): the distribution of
  per-request means, not of individual gaps (which records do not carry);
- ``effective``: open loop, end minus *intended* send (``effective_latency_ms``) of successful
  requests, as ``latency``;
- ``lag``: open loop, actual minus intended send (``schedule_lag_ms``) of every request.

A record is an open-loop one when it has an ``effective_latency_ms`` (``RequestRecord``: None when
equal to ``latency_ms``); a closed-loop record costs nothing more than before. **Late** is
``schedule_lag_ms > LATE_LAG_MS`` (``bench.analysis.openloop``), whatever the status; the count is exact.
"""

from __future__ import annotations

from typing import Any

from bench.collect.record import RequestRecord
from bench.config import LATE_LAG_MS
from bench.live.histogram import Histogram

METRICS = ("latency", "ttfp", "gap", "effective", "lag")


class Tally:
    """What one key observed in one second (or in a folded span of seconds); see the module docstring."""

    __slots__ = (
        "effective",
        "error_kinds",
        "errors",
        "gap",
        "lag",
        "late",
        "latency",
        "requests",
        "tokens",
        "ttfp",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.tokens = 0
        self.late = 0
        self.latency: Histogram | None = None
        self.ttfp: Histogram | None = None
        self.gap: Histogram | None = None
        self.effective: Histogram | None = None
        self.lag: Histogram | None = None
        self.error_kinds: dict[tuple[str, str], int] | None = None

    def observe(self, record: RequestRecord) -> None:
        self.requests += 1
        ok = record.status == "ok"
        if ok:
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
        effective_ms = record.effective_latency_ms
        if effective_ms is not None:  # the open loop
            lag_ms = record.schedule_lag_ms
            lag = self.lag
            if lag is None:
                lag = self.lag = Histogram()
            lag.add(lag_ms)
            if lag_ms > LATE_LAG_MS:
                self.late += 1
            if ok:
                effective = self.effective
                if effective is None:
                    effective = self.effective = Histogram()
                effective.add(effective_ms)

    def merge(self, other: Tally) -> None:
        """Add ``other`` in (``other`` is left as it was)."""
        self.requests += other.requests
        self.errors += other.errors
        self.tokens += other.tokens
        self.late += other.late
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

    def histograms(self) -> list[Histogram]:
        """The histograms held (for memory checks)."""
        return [h for h in (self.latency, self.ttfp, self.gap, self.effective, self.lag) if h is not None]

    def to_wire(self) -> list[Any]:
        """``[requests, errors, tokens, late, kinds, *histograms in METRICS order]``: builtins only."""
        hists = [None if h is None else h.to_wire() for h in (getattr(self, m) for m in METRICS)]
        kinds = [[t, s, n] for (t, s), n in (self.error_kinds or {}).items()]
        return [self.requests, self.errors, self.tokens, self.late, kinds, *hists]

    @classmethod
    def from_wire(cls, data: list[Any]) -> Tally:
        requests, errors, tokens, late, kinds, *hists = data
        if len(hists) != len(METRICS):
            raise ValueError(f"a live tally with {len(hists)} histograms; expected {len(METRICS)}")
        tally = cls()
        tally.requests, tally.errors = int(requests), int(errors)
        tally.tokens, tally.late = int(tokens), int(late)
        for metric, wire in zip(METRICS, hists, strict=True):
            setattr(tally, metric, None if wire is None else Histogram.from_wire(wire))
        tally.error_kinds = {(str(t), str(s)): int(n) for t, s, n in kinds} or None
        return tally
