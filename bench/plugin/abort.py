"""The abort part (``--gate-abort``): stop the run as soon as a gate can no longer pass.

Twice a second the live statistics name candidates (cheap, also across workers). Live figures file
a request by when it completed, the final evaluation by when it started (after the warm-up cut), so
a candidate is confirmed on the raw records written so far, with the final evaluation's own code,
before the run is stopped: an abort always agrees with the exit code. The records come from a
``RecordTail`` (only the new rows are parsed, off the event loop). A candidate that does not hold
is checked again at most every 10 s.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
import pandas as pd
from locust.env import Environment

from bench.analysis.gates import GateResult, confirm_abort
from bench.analysis.records import concat_records
from bench.gatespec import GateSpec
from bench.live.verdicts import abort_verdict
from bench.plugin.run import Run
from bench.plugin.session import Session
from bench.plugin.tail import RecordTail

logger = logging.getLogger("bench")
CHECK_INTERVAL_S = 0.5
RECHECK_AFTER_S = 10.0


class AbortPart:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._watch: gevent.Greenlet | None = None

    def register(self, environment: Environment) -> None:
        environment.events.test_start.add_listener(self.on_test_start)
        environment.events.test_stop.add_listener(self.on_test_stop)

    def on_test_start(self, **_: Any) -> None:
        run = self.session.run
        if (
            run is not None
            and not run.ended
            and run.config.gate_abort
            and any(g.can_abort for g in run.config.gates)
        ):
            self._watch = gevent.spawn(self.watch, run)

    def on_test_stop(self, **_: Any) -> None:
        if self._watch is not None:
            self._watch.kill(block=False)
            self._watch = None

    def watch(self, run: Run) -> None:
        gates = [g for g in run.config.gates if g.can_abort]
        tail = RecordTail(run.writer)
        measured: list[pd.DataFrame] = []  # one frame: the measured rows so far (appended, not re-joined)
        next_check: dict[str, float] = {}
        while run.aborted_by is None and not run.ended:
            gevent.sleep(CHECK_INTERVAL_S)
            for gate in gates:
                if abort_verdict(run.live, [gate], since_s=run.measured_from_s) is None:
                    continue
                if time.monotonic() < next_check.get(gate.expression, 0.0):
                    continue
                next_check[gate.expression] = time.monotonic() + RECHECK_AFTER_S

                def confirm(new: pd.DataFrame, gate: GateSpec = gate) -> GateResult | None:
                    fresh = new[new["timestamp_s"] >= run.measured_from_s]
                    measured[:] = [concat_records([*measured, fresh])]
                    return confirm_abort(measured[0], gate, warmup_s=0.0)

                verdict = tail.apply(confirm)  # read and judged off the event loop
                if verdict is None:
                    continue
                run.aborted_by = verdict
                logger.error(
                    "gate %s %s; stopping the run (--gate-abort)", verdict.gate.expression, verdict.reason
                )
                gevent.spawn_later(0, self.session.runner.quit)
                return
