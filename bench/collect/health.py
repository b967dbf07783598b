"""Load-generator health: is this process able to send the load it claims, on time?

A greenlet wakes every ``interval_s`` and measures two things: how late it woke (event-loop lag: a
greenlet that wants to send or read a response waits that long too, and the wait lands in latencies)
and how much CPU the process used since the last wake (a gevent process runs on one core: near 100%
it cannot keep up). A run is *valid* when the 95th percentile of CPU stays at or under 90% of a core and
the 99th percentile of lag at or under 20 ms; otherwise the reasons say why, and how many worker
processes would spread the load (at 70% of a core each). In a distributed run every worker watches
itself and sends its verdict with its last batch; the master combines them (``combine``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import gevent
import numpy as np

logger = logging.getLogger("bench")

CPU_LIMIT = 0.90
LAG_LIMIT_MS = 20.0
TARGET_CPU_PER_PROCESS = 0.70


@dataclass(frozen=True)
class HealthReport:
    samples: int
    cpu_mean: float
    cpu_p95: float
    cpu_max: float
    lag_p99_ms: float
    lag_max_ms: float
    valid: bool
    reasons: tuple[str, ...] = ()
    processes_needed: int = 1


@dataclass
class HealthMonitor:
    """Samples CPU and event-loop lag while a run is measured; warns once, live, when either is too high."""

    interval_s: float = 0.5
    processes: int = 1
    warmup_s: float = 0.0  # samples of the warm-up are not judged
    cpu: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    _greenlet: gevent.Greenlet | None = None
    _warned: bool = False

    def start(self) -> None:
        self.cpu.clear()
        self.lag_ms.clear()
        self._warned = False
        self._greenlet = gevent.spawn(self._loop)

    def _loop(self) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        measured_from = wall + self.warmup_s
        while True:
            gevent.sleep(self.interval_s)
            now_wall, now_cpu = time.perf_counter(), time.process_time()
            elapsed = now_wall - wall
            if now_wall < measured_from:
                wall, cpu = now_wall, now_cpu
                continue
            self.lag_ms.append(max(0.0, (elapsed - self.interval_s) * 1000.0))
            self.cpu.append((now_cpu - cpu) / elapsed if elapsed > 0 else 0.0)
            wall, cpu = now_wall, now_cpu
            self._warn_live()

    def _warn_live(self) -> None:
        recent = self.cpu[-3:]
        if self._warned or len(recent) < 3:
            return
        if min(recent) > CPU_LIMIT or max(self.lag_ms[-3:]) > 4 * LAG_LIMIT_MS:
            self._warned = True
            logger.warning(
                "the load generator is saturated (CPU %.0f%% of a core, event-loop lag up to %.0f ms): latencies "
                "now include its own queueing; run more worker processes (locust --processes N)",
                100 * recent[-1],
                max(self.lag_ms[-3:]),
            )

    def stop(self) -> HealthReport:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None
        return assess(self.cpu, self.lag_ms, processes=self.processes)


def combine(reports: Mapping[str, HealthReport]) -> HealthReport:
    """The verdict on a distributed run: every worker's, merged (the master itself sends no load).

    Valid when every worker was; the reasons name the worker; the processes needed add up.
    """
    if not reports:
        return HealthReport(0, 0.0, 0.0, 0.0, 0.0, 0.0, True)
    values = list(reports.values())
    return HealthReport(
        samples=sum(r.samples for r in values),
        cpu_mean=sum(r.cpu_mean for r in values) / len(values),
        cpu_p95=max(r.cpu_p95 for r in values),
        cpu_max=max(r.cpu_max for r in values),
        lag_p99_ms=max(r.lag_p99_ms for r in values),
        lag_max_ms=max(r.lag_max_ms for r in values),
        valid=all(r.valid for r in values),
        reasons=tuple(f"worker {worker}: {reason}" for worker, r in reports.items() for reason in r.reasons),
        processes_needed=sum(r.processes_needed for r in values),
    )


def report_from_dict(data: Mapping[str, Any]) -> HealthReport:
    """A HealthReport shipped as a dict (``dataclasses.asdict``) by a worker."""
    fields = {name: data[name] for name in HealthReport.__dataclass_fields__ if name in data}
    fields["reasons"] = tuple(fields.get("reasons", ()))
    return HealthReport(**fields)


def assess(cpu: list[float], lag_ms: list[float], *, processes: int = 1) -> HealthReport:
    """The verdict on a run's samples (pure; see the module docstring for the limits)."""
    if not cpu:
        return HealthReport(0, 0.0, 0.0, 0.0, 0.0, 0.0, True)
    cpu_array, lag_array = np.asarray(cpu), np.asarray(lag_ms)
    cpu_p95 = float(np.percentile(cpu_array, 95))
    lag_p99 = float(np.percentile(lag_array, 99))
    reasons = []
    if cpu_p95 > CPU_LIMIT:
        reasons.append(f"load generator CPU p95 {cpu_p95:.0%} of a core (limit {CPU_LIMIT:.0%})")
    if lag_p99 > LAG_LIMIT_MS:
        reasons.append(f"event-loop lag p99 {lag_p99:.1f} ms (limit {LAG_LIMIT_MS:g} ms)")
    needed = max(processes, math.ceil(processes * float(cpu_array.mean()) / TARGET_CPU_PER_PROCESS))
    return HealthReport(
        samples=len(cpu),
        cpu_mean=float(cpu_array.mean()),
        cpu_p95=cpu_p95,
        cpu_max=float(cpu_array.max()),
        lag_p99_ms=lag_p99,
        lag_max_ms=float(lag_array.max()),
        valid=not reasons,
        reasons=tuple(reasons),
        processes_needed=needed,
    )
