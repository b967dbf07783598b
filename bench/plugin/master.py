"""The master part (``locust --master`` or ``--processes``): the workers' records into the one CSV.

Each ``bench_records`` message from a worker is written at once through the run's own writer: the
shipped values become records once, with what only the master knows (its user count across workers,
and the load step the request started in). Once a second the master looks at Locust's heartbeat
state (``WorkerRoster``): a lost worker, or one that is back, is logged and written to ``run.json``
at once; the run goes on with the others. At the end it waits (up to ``FINAL_BATCH_WAIT_S``) for
every live worker's last batch and combines the workers' health verdicts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import STATE_MISSING

from bench.collect.health import combine, report_from_dict
from bench.collect.record import RequestRecord, record_from_values
from bench.collect.shipping import FINAL_BATCH_WAIT_S, RECORDS_MESSAGE, RecordReceiver, WorkerRoster
from bench.plugin.run import Run, RunPart
from bench.plugin.session import Session
from bench.report.provenance import iso_time

logger = logging.getLogger("bench")
ROSTER_INTERVAL_S = 1.0


ExtrasListener = Callable[[str, dict[str, Any]], None]


class MasterPart:
    def __init__(
        self, session: Session, run_part: RunPart, extras_listeners: Sequence[ExtrasListener] = ()
    ) -> None:
        """``extras_listeners`` see every worker batch's extras (the arrivals part: the last one's counts)."""
        self.session = session
        self._run_part = run_part
        self._extras_listeners = tuple(extras_listeners)
        self.receiver = RecordReceiver(adopt=self._adopt)
        self._roster = WorkerRoster(self.receiver)
        self._watch: gevent.Greenlet | None = None

    def register(self, environment: Environment) -> None:
        self.session.runner.register_message(RECORDS_MESSAGE, self.on_records)
        environment.events.test_start.add_listener(self.on_test_start)

    def _adopt(self, values: list[Any]) -> RequestRecord:
        shape = self.session.shape
        return record_from_values(
            values,
            users=self.session.runner.user_count,
            step_of=shape.step_at if shape is not None else (lambda started_s: None),
        )

    def on_test_start(self, **_: Any) -> None:
        run = self.session.run
        if run is None or run.ended:  # the run part refused the options: no run
            return
        self.receiver.begin(run.collector)
        self.receiver.on_extras = lambda node_id, data: self._on_extras(run, node_id, data)
        self._roster = WorkerRoster(self.receiver)
        run.lost_workers = self._roster.lost
        self._watch = gevent.spawn(self._watch_workers, run)

    def _on_extras(self, run: Run, node_id: str, data: dict[str, Any]) -> None:
        if data.get("live"):
            run.live.merge(data["live"])
        for listener in self._extras_listeners:
            listener(node_id, data)

    def on_records(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.receiver.receive(str(msg.node_id), msg.data or {})

    def missing(self) -> dict[str, bool]:
        """Each worker Locust knows -> whether it is marked missing."""
        clients = getattr(self.session.runner, "clients", {})
        return {str(c.id): c.state == STATE_MISSING for c in clients.values()}

    def _watch_workers(self, run: Run) -> None:
        while not run.ended:
            gevent.sleep(ROSTER_INTERVAL_S)
            missing = self.missing()
            lost, back = self._roster.update(missing, time.time())
            for worker in back:
                logger.warning("worker %s sends heartbeats again: it is back in the run", worker)
            for gone in lost:
                logger.warning(
                    "worker %s is lost (no heartbeat; last records at %s): its unsent records are lost, "
                    "the run goes on with %d worker(s)",
                    gone.worker,
                    iso_time(gone.last_records_at) or "never",
                    sum(not m for m in missing.values()),
                )
            if lost or back:
                self._run_part.write_info(run)

    def wait_for_workers(self, run: Run) -> None:
        """Before the files close: every live worker's last batch, then the workers' health verdicts."""
        if self._watch is not None:
            self._watch.kill(block=False)
            self._watch = None
        expected = self._roster.expected(self.missing())  # a worker drains its requests before its last batch
        missing = self._wait_for_last_batches(expected, FINAL_BATCH_WAIT_S + run.config.drain_s)
        if missing:
            logger.warning(
                "no final batch of records from workers %s: their last records are lost", ", ".join(missing)
            )
        reports = {worker: report_from_dict(data) for worker, data in self.receiver.health.items()}
        run.health_report = combine(reports) if reports else None
        run.processes = max(1, len(reports))

    def _wait_for_last_batches(self, expected: list[str], timeout_s: float) -> list[str]:
        """Wait for each worker's last batch; the workers still missing at the deadline.

        At a timed end Locust's master tells the workers to quit and stops listening half a second
        later, while they may still be draining requests in flight: once its listener is gone, the
        messages that still arrive are read here, and the workers' records among them are written.
        """
        runner = self.session.runner
        server = getattr(runner, "server", None)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not set(expected) <= self.receiver.finals:
            listening = len(getattr(runner, "greenlet", ())) > 0
            if listening or server is None:
                gevent.sleep(0.05)
                continue
            try:
                received = gevent.with_timeout(0.2, server.recv_from_client, timeout_value=None)
            except Exception:
                break
            if received is not None and received[1].type == RECORDS_MESSAGE:
                self.on_records(self.session.environment, received[1])
        return sorted(set(expected) - self.receiver.finals)

    def files_closed(self, run: Run) -> None:
        """What still arrives is counted and logged, not written."""
        self.receiver.end()
