"""The only Locust glue, as small parts that each register their own handlers.

A locustfile calls ``install()`` once (explicitly; importing this package has no side effects). It
adds the harness's options to Locust's parser and, at ``init``, gives each Locust process a
``Session`` (role, configuration parsed once, current run) and the parts its role needs:

=========  ==========================================  ================================================
part       module                                      what it does
=========  ==========================================  ================================================
set-up     ``setup``                                   options, validation before any load (exit 2),
                                                       the built-in emulator
workload   ``workload``                                encoded bodies and one transport per process
run        ``run``                                     the per-test ``Run``: run dir, clock, warm-up
                                                       cut, collector, live statistics, flush timer
arrivals   ``arrivals``                                the open loop's pacer per process, its share
                                                       of the rate, rate steps, sends not made
steps      ``steps``                                   stepped capacity load, a line per step
master     ``master``                                  workers' records into the one CSV, lost workers
worker     ``worker``                                  ship records and health to the master
abort      ``abort``                                   ``--gate-abort``
web UI     ``webui``                                   the Inference tabs
finish     ``finish``                                  reports, closing lines, exit code
=========  ==========================================  ================================================

Handlers of one event run in the order the parts registered (``register_parts``): the run part's
``test_start`` comes before the parts that use ``session.run``.
"""

from __future__ import annotations

import sys
from typing import Any

import gevent
import locust
from locust.env import Environment
from locust.runners import Runner

from bench.errors import ConfigError
from bench.plugin.abort import AbortPart
from bench.plugin.arrivals import ARRIVAL_REPORT, ArrivalsPart
from bench.plugin.finish import FinishPart, Hook
from bench.plugin.master import MasterPart
from bench.plugin.run import Run, RunPart
from bench.plugin.session import Session
from bench.plugin.setup import SetupPart, add_harness_options
from bench.plugin.steps import StepsPart
from bench.plugin.timers import ensure_precise_timers
from bench.plugin.webui import WebUIPart
from bench.plugin.worker import WorkerPart
from bench.plugin.workload import WorkloadPart

_installed = False


def install() -> None:
    """Register the harness with Locust. Call once from the locustfile, after ``import locust``."""
    global _installed
    if _installed:
        return
    _installed = True
    ensure_precise_timers()  # the open loop: may start this process again, before anything has run
    locust.events.init_command_line_parser.add_listener(add_harness_options)
    locust.events.init.add_listener(_on_init)


def _on_init(environment: Environment, runner: Runner | None = None, **_: Any) -> None:
    if environment.parsed_options is None or runner is None:
        return
    try:
        register_parts(environment, runner)
    except ConfigError as exc:
        sys.stderr.write(f"bench: error: {exc}\n")
        sys.stderr.flush()
        sys.exit(2)
    # gevent's loop clock stands still until the loop first runs (it was made at `import locust`);
    # Locust arms -t's timer right after this: from the loop's stale "now", -t would end the run the
    # start-up's time early (measured: -t 6s ended 4.98 s after "Run time limit set").
    gevent.get_hub().loop.update_now()


def register_parts(environment: Environment, runner: Runner) -> Session:
    """The parts of one process, registered in order. Raises ConfigError (the emulator stopped)."""
    session = Session(environment, runner)
    workload, steps = WorkloadPart(session), StepsPart(session)
    setup = SetupPart(session, workload, steps)
    try:
        setup.prepare()
    except ConfigError:
        setup.stop_emulator()
        raise
    if not session.is_worker:  # before any part's test_start: the previous run finishes first
        environment.events.test_start.add_listener(lambda **_: session.await_previous_run())
    workload.register(environment)
    arrivals = ArrivalsPart(session, workload)
    if session.is_worker:
        WorkerPart(session, final_extras=lambda: {ARRIVAL_REPORT: arrivals.counts()}).register(environment)
        arrivals.register(environment)  # after the workload part: it paces the workloads built at test start
        return session
    run_part = RunPart(session)
    run_part.register(environment)
    arrivals.register(environment)  # after the run part: the run's arrival entry
    before_close: list[Hook] = []
    after_close: list[Hook] = []
    if session.is_master:
        master = MasterPart(session, run_part, extras_listeners=[arrivals.worker_report])
        master.register(environment)
        before_close.append(master.wait_for_workers)
        after_close.append(master.files_closed)
    AbortPart(session).register(environment)
    WebUIPart(session, check=workload.encode).register(environment)
    FinishPart(session, run_part, before_close=before_close, after_close=after_close).register(environment)
    return session


__all__ = ["Run", "Session", "install", "register_parts"]
