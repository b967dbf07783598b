"""The finish part: close the run's files, write the reports, print the closing lines, set the exit code.

``test_stop`` finishes the run (on the master after the workers' last batches: ``before_close``
hooks, in a greenlet). ``quitting`` comes before Locust stops the runner, also on SIGTERM and Ctrl-C:
a run still going is stopped there first and its reports awaited, so every record received is
written and the gates set the exit code (3 when one failed). ``quit`` prints the closing lines after
Locust's own tables.
"""

from __future__ import annotations

import csv
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gevent
import greenlet  # type: ignore[import-untyped]
from locust.env import Environment
from locust.runners import STATE_CLEANUP, STATE_RUNNING, STATE_SPAWNING, STATE_STOPPING
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

from bench.analysis.capacity import planning_inputs
from bench.analysis.openloop import from_run_info
from bench.collect.shipping import FINAL_BATCH_WAIT_S
from bench.errors import Unfinished
from bench.plugin.run import Run, RunPart
from bench.plugin.session import QUIT_AFTER_STOP, Session
from bench.report import ERROR_SAMPLES_JSON, write_tables
from bench.report.closing import closing_lines, exit_code
from bench.report.healthfiles import write_health_samples
from bench.report.provenance import json_text

logger = logging.getLogger("bench")
Hook = Callable[[Run], None]
FINISH_WAIT_S = FINAL_BATCH_WAIT_S + 30.0


class FinishPart:
    def __init__(
        self,
        session: Session,
        run_part: RunPart,
        *,
        before_close: Sequence[Hook] = (),
        after_close: Sequence[Hook] = (),
    ) -> None:
        self.session = session
        self._run_part = run_part
        self._before_close = tuple(before_close)
        self._after_close = tuple(after_close)
        self._finishing: Run | None = None
        self._interrupts = 0
        self._quitting = False
        self._stopping: Run | None = None

    def register(self, environment: Environment) -> None:
        self._main = greenlet.getcurrent()  # Locust's main code, which turns Ctrl-C into its shutdown
        signal.signal(signal.SIGINT, self._on_sigint)
        environment.events.test_stopping.add_listener(self.on_test_stopping)
        environment.events.test_stop.add_listener(self.on_test_stop)
        environment.events.quitting.add_listener(self.on_quitting)
        environment.events.quit.add_listener(self.on_quit)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        """Ctrl-C: the first is Locust's (KeyboardInterrupt: the run stops, drains, writes its reports).
        Another one while that goes on cuts the drain short, never the writing: requests still in flight
        are rows with status unfinished, and every completed row and the reports are written."""
        self._interrupts += 1
        if self._interrupts == 1 and not self._quitting:  # as Python's handler would, without a traceback
            gevent.get_hub().loop.run_callback_threadsafe(self._main.throw, KeyboardInterrupt)
            return
        sys.stderr.write(
            "bench: interrupted again: not waiting for the requests in flight (they are rows with "
            "status unfinished); writing every record and the reports\n"
        )
        sys.stderr.flush()
        gevent.get_hub().loop.run_callback_threadsafe(self._cut_drain)

    def _cut_drain(self) -> None:
        self.session.runner.user_greenlets.kill(block=False)  # GreenletExit: in-flight rows are unfinished

    def on_test_stopping(self, **_: Any) -> None:
        self._stopping = self.session.run  # its test_stop comes once the drain is over

    def on_test_stop(self, **_: Any) -> None:
        run = self.session.run
        if run is None or run.ended or self._finishing is run:
            return
        self._finishing = run
        if self._before_close:  # the workers' last batches are still on their way
            gevent.spawn(self.finish, run)
        else:
            self.finish(run)

    def finish(self, run: Run) -> None:
        try:
            for hook in self._before_close:
                hook(run)
            self._run_part.close(run)
            for hook in self._after_close:
                hook(run)
            if run.health is not None:
                run.health_report = run.health.stop()
            if run.health_report is not None:  # health.csv: the load generator's health per step
                write_health_samples(run.run_dir, run.health_report.timelines)
            (run.run_dir / ERROR_SAMPLES_JSON).write_text(
                json_text(run.collector.error_sample_list()), encoding="utf-8"
            )
            run.ended_s = time.time()
            self._run_part.write_info(run)
            self._write_locust_csvs(run.run_dir)
            self._report(run)
            logger.info("wrote %s", run.run_dir)
        finally:
            run.ended_s = run.ended_s or time.time()
            run.finished.set()

    def _report(self, run: Run) -> None:
        config = run.config
        arrival = from_run_info({"arrival": run.arrival})
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        tables = write_tables(
            run.run_dir,
            warmup_s=config.warmup_s,
            measured_from_s=run.measured_from_s,
            gates=config.gates,
            step_summary=Path(step_summary) if step_summary else None,
            planning=planning_inputs(config.capacity, run.started_s) if config.capacity is not None else None,
            endpoint=config.endpoint.name,
            arrival=arrival,
        )
        run.final_gates = tuple(tables.gates)
        health = run.health_report
        closing = closing_lines(
            tables,
            run_dir=run.run_dir,
            warmup_s=config.warmup_s,
            aborted_by=run.aborted_by,
            invalid_reasons=health.reasons if health is not None else (),
            processes_needed=health.processes_needed if health is not None else 1,
            processes=run.processes,
            cpu_mean=health.cpu_mean if health is not None else 0.0,
            require_valid=config.require_valid,
            arrival=arrival,
        )
        run.passed, run.closing = closing.passed, closing.lines

    def _write_locust_csvs(self, run_dir: Path) -> None:
        """Locust's own statistics tables, final, next to ours (``locust_stats.csv`` ...)."""
        stats = StatsCSV(self.session.environment, PERCENTILES_TO_REPORT)
        for name, write in (
            ("stats", stats.requests_csv),
            ("failures", stats.failures_csv),
            ("exceptions", stats.exceptions_csv),
        ):
            with (run_dir / f"locust_{name}.csv").open("w", newline="", encoding="utf-8") as handle:
                write(csv.writer(handle))

    def on_quitting(self, environment: Environment, **_: Any) -> None:
        """A run still going is stopped first; then its reports are awaited and the verdict sets the code."""
        self._quitting = True  # from now on a Ctrl-C cuts the drain short (Locust's shutdown is under way)
        runner = self.session.runner
        if runner.state in (STATE_SPAWNING, STATE_RUNNING):
            logger.info("stopping the run before exit: writing every record received and the reports")
            if self.session.is_master:  # before the stop: a stopped worker no longer hears Locust's quit
                runner.send_message(QUIT_AFTER_STOP)
            runner.stop()
        run = self.session.run
        if run is None:
            return
        stopping = (
            self._finishing is run or self._stopping is run or runner.state in (STATE_STOPPING, STATE_CLEANUP)
        )
        if not run.finished.is_set() and stopping:  # e.g. a signal during a timed end's drain
            run.finished.wait(timeout=FINISH_WAIT_S + run.config.drain_s)
        code = exit_code(run.passed)
        if code is None and _only_unfinished(runner):
            code = 0  # requests cut by the end of the run are not the endpoint's failures
        if code is not None and environment.process_exit_code is None:
            environment.process_exit_code = code

    def on_quit(self, **_: Any) -> None:
        """After Locust's own closing tables: the exact summary of the last run and where it is.

        Nothing here may yield to gevent: on SIGTERM, Locust's shutdown runs in a signal greenlet and
        the main greenlet, woken by the runner's end, would run a second shutdown that overwrites
        ``--json-file`` with emptied statistics. The emulator is stopped at exit (``atexit``).
        """
        run = self.session.run
        if run is not None and run.closing:
            print("\n".join(run.closing), flush=True)
            run.closing = []


def _only_unfinished(runner: Any) -> bool:
    """Whether every failure Locust counted is a request the end of the run cut (``Unfinished``; on a
    master the workers' errors arrive as their ``repr``)."""
    errors = [getattr(e, "error", None) for e in getattr(runner, "errors", {}).values()]
    if not errors or getattr(runner, "exceptions", None):
        return False
    return all(isinstance(e, Unfinished) or str(e).startswith(("Unfinished(", "Unfinished:")) for e in errors)
