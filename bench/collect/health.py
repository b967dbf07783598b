"""Load-generator health: is this process able to send the load it claims, on time?

A sampler wakes every ``interval_s`` and measures two things: how late it woke (event-loop lag: a
greenlet that wants to send or read a response waits that long too, and the wait lands in latencies)
and how much CPU the process used since the last wake (a gevent process runs on one core: near 100%
it cannot keep up). Every sample keeps its wall-clock time (``HealthSample``), so that any stretch of
the run can be judged on its own: a whole run after its warm-up (``assess``), or one capacity step
(``assess_window``). A stretch is *valid* when the 95th percentile of CPU stays at or under 90% of a
core and the 99th percentile of lag at or under 20 ms; otherwise the reasons say why, and how many
worker processes would spread the load (at 70% of a core each). In a distributed run every worker
watches itself and sends its verdict, with its samples, in its last batch; the master combines them
(``combine``), keeping each worker's samples apart (``HealthReport.timelines``).

The sampler is a ``threading.Thread`` waiting on a ``threading.Event``: in the Locust process both are
gevent's (Locust monkey-patches ``threading`` before anything else), so it is a greenlet and its lag is
the event loop's. Written this way the module imports nothing of gevent, and the verdict rules here
are the same ones the pure capacity analysis applies to each step (``bench.analysis.capacity``).
"""

from __future__ import annotations

import csv
import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

logger = logging.getLogger("bench")

CPU_LIMIT = 0.90
LAG_LIMIT_MS = 20.0
TARGET_CPU_PER_PROCESS = 0.70
LOCAL_WORKER = "local"  # the name of a single process's samples (``requests.csv``'s ``worker`` there)
HEALTH_CSV = "health.csv"  # in the run directory, one row a sample: written by bench.report.healthfiles
HEALTH_COLUMNS = ("timestamp_s", "cpu", "lag_ms", "worker")


class HealthSample(NamedTuple):
    """One wake of the sampler: when (wall clock, epoch seconds), CPU since the last wake (fraction of
    a core) and how late it woke (ms). Ships as a plain 3-list."""

    timestamp_s: float
    cpu: float
    lag_ms: float


Timelines = Mapping[str, Sequence[HealthSample]]


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
    # every sample, warm-up included, by worker (LOCAL_WORKER for one process): the per-step verdicts
    timelines: Mapping[str, tuple[HealthSample, ...]] = field(default_factory=dict)


@dataclass
class HealthMonitor:
    """Samples CPU and event-loop lag while a run is measured; warns once, live, when either is too high."""

    interval_s: float = 0.5
    processes: int = 1
    warmup_s: float = 0.0  # samples of the warm-up are not judged (but kept, with their time)
    worker: str = LOCAL_WORKER
    cpu: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    timeline: list[HealthSample] = field(default_factory=list)
    _stop: threading.Event | None = None
    _warned: bool = False

    def start(self) -> None:
        if self._stop is not None:  # started again without a stop: the old sampler goes
            self._stop.set()
        self.cpu.clear()
        self.lag_ms.clear()
        self.timeline.clear()
        self._warned = False
        self._stop = threading.Event()
        threading.Thread(target=self._loop, args=(self._stop,), name="bench-health", daemon=True).start()

    def _loop(self, stop: threading.Event) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        measured_from = wall + self.warmup_s
        while not stop.wait(self.interval_s):
            now_wall, now_cpu = time.perf_counter(), time.process_time()
            elapsed = now_wall - wall
            lag = max(0.0, (elapsed - self.interval_s) * 1000.0)
            used = (now_cpu - cpu) / elapsed if elapsed > 0 else 0.0
            wall, cpu = now_wall, now_cpu
            self.timeline.append(HealthSample(round(time.time(), 3), round(used, 4), round(lag, 3)))
            if now_wall < measured_from:
                continue
            self.lag_ms.append(lag)
            self.cpu.append(used)
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

    def timelines(self) -> dict[str, tuple[HealthSample, ...]]:
        """The samples so far, under this process's name (for a live verdict on a step)."""
        return {self.worker: tuple(self.timeline)} if self.timeline else {}

    def stop(self) -> HealthReport:
        """The verdict on the samples after the warm-up, carrying every sample (``timelines``)."""
        if self._stop is not None:
            self._stop.set()
            self._stop = None
        report = assess(list(self.cpu), list(self.lag_ms), processes=self.processes)
        return replace(report, timelines=self.timelines())


def combine(reports: Mapping[str, HealthReport]) -> HealthReport:
    """The verdict on a distributed run: every worker's, merged (the master itself sends no load).

    Valid when every worker was; the reasons name the worker; the processes needed add up; each
    worker's samples are kept under its name (the name in ``requests.csv``'s ``worker`` column).
    """
    if not reports:
        return HealthReport(0, 0.0, 0.0, 0.0, 0.0, 0.0, True)
    values = list(reports.values())
    timelines = {
        worker if len(r.timelines) == 1 else f"{worker}/{name}": samples
        for worker, r in reports.items()
        for name, samples in r.timelines.items()
    }
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
        timelines=timelines,
    )


def report_from_dict(data: Mapping[str, Any]) -> HealthReport:
    """A HealthReport shipped as a dict (``dataclasses.asdict``) by a worker; one from an older worker
    (no ``timelines``) has none."""
    fields = {name: data[name] for name in HealthReport.__dataclass_fields__ if name in data}
    fields["reasons"] = tuple(fields.get("reasons", ()))
    fields["timelines"] = {
        str(worker): tuple(HealthSample(*(float(v) for v in sample)) for sample in samples)
        for worker, samples in (fields.get("timelines") or {}).items()
    }
    return HealthReport(**fields)


def assess(cpu: Sequence[float], lag_ms: Sequence[float], *, processes: int = 1) -> HealthReport:
    """The verdict on a run's samples (pure; see the module docstring for the limits)."""
    if not len(cpu):
        return HealthReport(0, 0.0, 0.0, 0.0, 0.0, 0.0, True)
    cpu_array, lag_array = np.asarray(cpu, dtype=float), np.asarray(lag_ms, dtype=float)
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


def assess_window(timelines: Timelines, start_s: float, end_s: float) -> HealthReport:
    """The verdict on the samples taken within ``[start_s, end_s]`` (wall clock; pure).

    The same limits as ``assess``, applied to each worker's samples of the window; several workers are
    combined as ``combine`` does (the reasons name the worker). No sample in the window: ``samples`` is
    0 (and ``valid`` True: not a verdict against it; callers read 0 samples as "not judged").
    """
    verdicts = {}
    for worker, samples in timelines.items():
        inside = [s for s in samples if start_s <= s.timestamp_s <= end_s]
        if inside:
            verdicts[worker] = assess([s.cpu for s in inside], [s.lag_ms for s in inside])
    if len(timelines) == 1 and verdicts:  # one process: its reasons need no name
        return next(iter(verdicts.values()))
    return combine(verdicts)


def report_summary(report: HealthReport) -> dict[str, Any]:
    """The report as a dict without its samples (for ``run.json``: the samples are ``health.csv``)."""
    return {k: v for k, v in asdict(report).items() if k != "timelines"}


def read_health_csv(path: Path) -> dict[str, tuple[HealthSample, ...]] | None:
    """The samples of a run's ``health.csv`` by worker, in time order; None when the file is absent
    (a run from before it was written: its steps cannot be judged)."""
    if not path.is_file():
        return None
    timelines: dict[str, list[HealthSample]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            sample = HealthSample(float(row["timestamp_s"]), float(row["cpu"]), float(row["lag_ms"]))
            timelines.setdefault(row["worker"], []).append(sample)
    return {worker: tuple(sorted(samples)) for worker, samples in timelines.items()}
