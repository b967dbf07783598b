"""The run part: one ``Run`` per test, made when it starts, holding what the run's other parts share.

On the local process and the master, ``test_start`` opens the run directory and ``requests.csv``,
fixes the run's one clock (``started_s``: the load shape's start in a stepped run, else now) and
its one warm-up cut (``measured_from_s``, written to ``run.json``), starts the live statistics, the
load generator's health watch (not on the master: it sends no load) and a timer that flushes
``requests.csv`` every second. Parts registered after this one find the run in ``session.run``.
"""

from __future__ import annotations

import logging
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event
from locust.env import Environment

from bench.analysis.gates import GateResult
from bench.collect import CsvRecordWriter, RequestCollector
from bench.collect.health import HealthMonitor, HealthReport, report_summary
from bench.collect.shipping import LostWorker
from bench.config import RunConfig
from bench.live import LiveStats
from bench.plugin.session import Session
from bench.report import REQUESTS_CSV, new_run_dir, write_run_json
from bench.report.provenance import git_sha, iso_time, package_versions, run_info

logger = logging.getLogger("bench")
FLUSH_INTERVAL_S = 1.0


@dataclass(eq=False)
class Run:
    config: RunConfig
    run_dir: Path
    started_s: float
    measured_from_s: float
    writer: CsvRecordWriter
    collector: RequestCollector
    live: LiveStats
    health: HealthMonitor | None  # this process's own (None on the master: its workers watch themselves)
    lost_workers: dict[str, LostWorker] = field(default_factory=dict)  # the master's roster fills it
    aborted_by: GateResult | None = None
    final_gates: tuple[GateResult, ...] = ()
    health_report: HealthReport | None = None
    processes: int = 1  # load processes whose health was judged
    arrival: dict[str, Any] | None = None  # open loop: run.json's "arrival" (bench.plugin.arrivals)
    ended_s: float | None = None  # set when the files are closed and the reports written
    passed: bool | None = None  # the verdict for the exit code (None: nothing decides it)
    closing: list[str] = field(default_factory=list)  # printed after Locust's own tables
    finished: Event = field(default_factory=Event)  # set once the reports are written
    _flusher: gevent.Greenlet | None = None

    @property
    def ended(self) -> bool:
        return self.ended_s is not None


class RunPart:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._versions: dict[str, str | None] | None = None
        self._sha: str | None = None

    def register(self, environment: Environment) -> None:
        environment.events.test_start.add_listener(self.on_test_start)
        environment.events.test_stopping.add_listener(self.on_test_stopping)

    def on_test_stopping(self, **_: Any) -> None:
        """The load ends: the health watch judges the load, not the drain and the reports after it."""
        run = self.session.run
        if run is not None and not run.ended and run.health is not None:
            run.health.stop()

    def on_test_start(self, **_: Any) -> None:
        session = self.session
        config = session.config_for_test()
        if config is None:  # bad options from the web UI's form: no run, the load is stopped
            return
        session.environment.stop_timeout = config.drain_s  # the web UI's form may have changed it
        shape = session.shape
        started = shape.started_at_s if shape is not None and shape.started_at_s is not None else time.time()
        measured_from = started + config.warmup_s
        run_dir = new_run_dir(config.report_dir, config.run_name)
        writer = CsvRecordWriter(run_dir / REQUESTS_CSV)
        live = LiveStats()
        live.add_cut(measured_from)
        collector = RequestCollector(
            writer,
            worker=session.role,
            users=lambda: session.runner.user_count,
            clock=time.time,
            step_of=shape.step_at if shape is not None else (lambda started_s: None),
        )
        health = None if session.is_master else HealthMonitor(warmup_s=config.warmup_s)
        run = Run(config, run_dir, started, measured_from, writer, collector, live, health)
        collector.add_observer(lambda record: run.live.observe(record))  # Reset Stats replaces run.live
        session.environment.events.request.add_listener(collector.on_request)
        if health is not None:
            health.start()
        run._flusher = gevent.spawn(self._flush_every_second, run)
        session.run = run
        self.write_info(run)
        logger.info("writing %s", run_dir)

    @staticmethod
    def _flush_every_second(run: Run) -> None:
        """A burst followed by silence is on disk within a second (``write`` flushes only when due)."""
        while not run.ended:
            gevent.sleep(FLUSH_INTERVAL_S)
            run.writer.flush()

    def close(self, run: Run) -> None:
        """Stop recording: the request listener and the flush timer go, ``requests.csv`` is closed."""
        self.session.environment.events.request.remove_listener(run.collector.on_request)
        if run._flusher is not None:
            run._flusher.kill(block=False)
            run._flusher = None
        run.collector.close()

    def write_info(self, run: Run) -> None:
        """``run.json`` now: at the start, when a worker is lost or back, and at the end."""
        if self._versions is None:
            self._versions, self._sha = package_versions(), git_sha()
        options = self.session.environment.parsed_options
        lost = [
            {
                "worker": w.worker,
                "detected_at": iso_time(w.detected_at),
                "last_records_at": iso_time(w.last_records_at),
                "records_received": w.records_received,
            }
            for w in run.lost_workers.values()
        ]
        write_run_json(
            run.run_dir,
            run_info(
                config=run.config,
                run_dir=run.run_dir,
                started_s=run.started_s,
                measured_from_s=run.measured_from_s,
                ended_s=run.ended_s,
                records=run.writer.rows if run.ended else None,
                health=report_summary(run.health_report) if run.health_report is not None else None,
                lost_workers=lost,
                command_line=sys.argv,
                emulator_url=self.session.emulator_url,
                locust={
                    "users": getattr(options, "num_users", None),
                    "spawn_rate": getattr(options, "spawn_rate", None),
                    "run_time": getattr(options, "run_time", None),
                    "headless": getattr(options, "headless", None),
                    "locustfile": getattr(options, "locustfile", None),
                },
                versions=self._versions,
                sha=self._sha,
                python=platform.python_version(),
                platform=platform.platform(),
                arrival=run.arrival,
            ),
        )
