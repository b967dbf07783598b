"""Distributed runs: Locust workers ship their records to the master, which writes the one CSV.

A worker's collector writes into a ``RecordBatch``; ``RecordShipper`` sends the batch over Locust's
messaging (``send(message_type, data)``, the worker runner's ``send_message``) every ``interval_s`` and
a last batch, with the worker's error samples, when the run stops. Rows travel as plain typed values
(``RequestRecord.values``; msgpack keeps floats, ints, text and None). On the master, ``RecordReceiver``
turns them back into records once (``adopt``: the master's user count and load step go in), writes
them into ``requests.csv`` and tells which workers' last batches arrived.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import gevent

from bench.collect.listener import RequestCollector
from bench.collect.record import RequestRecord, record_from_values
from bench.collect.writer import CsvRecordWriter, RecordBatch

logger = logging.getLogger("bench")
RECORDS_MESSAGE = (
    "bench_records"  # {"rows": [[values], ...], "final": bool, "errors": [sample, ...], **extras}
)
SHIP_INTERVAL_S = 0.5
FINAL_BATCH_WAIT_S = 5.0


class RecordShipper:
    """Worker side: ship the collector's batch now and then, and a final one at stop."""

    def __init__(
        self,
        collector: RequestCollector,
        send: Callable[[str, dict[str, Any]], None],
        *,
        interval_s: float = SHIP_INTERVAL_S,
        extras: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        if not isinstance(collector.writer, RecordBatch):
            raise TypeError("a shipping collector writes into a RecordBatch")
        self.collector = collector
        self._batch = collector.writer
        self._send = send
        self._interval_s = interval_s
        self._extras = extras
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        def ship_forever() -> None:
            while True:
                gevent.sleep(self._interval_s)
                self.ship(final=False)

        self._greenlet = gevent.spawn(ship_forever)

    def ship(self, *, final: bool, extra: dict[str, Any] | None = None) -> None:
        rows = self._batch.drain()
        extras = self._extras() if self._extras is not None else {}
        if extra:
            extras.update(extra)
        if rows or extras or final:
            errors = self.collector.error_sample_list() if final else []
            self._send(RECORDS_MESSAGE, {**extras, "rows": rows, "final": final, "errors": errors})

    def stop(self, extra: dict[str, Any] | None = None) -> None:
        """Stop the timer and ship what is left, marked final, with ``extra`` (the worker's health)."""
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None
        self.ship(final=True, extra=extra)


class RecordReceiver:
    """Master side: rows from workers into the master's collector (its ``CsvRecordWriter``)."""

    def __init__(self, adopt: Callable[[list[Any]], RequestRecord] | None = None) -> None:
        # shipped values -> the master's record (its users and step); as shipped by default
        self.adopt = adopt or (lambda values: record_from_values(values, users=values[10], step_of=_no_step))
        self.collector: RequestCollector | None = None
        self.finals: set[str] = set()
        self.late = 0  # rows that arrived after end()
        self.last_seen: dict[str, float] = {}  # worker -> time of its last message
        self.received: dict[str, int] = {}  # worker -> records received
        self.health: dict[str, dict[str, Any]] = {}  # worker -> its HealthReport (as a dict), sent last
        # called with (node_id, message) for each message, for what the shipper's extras added
        self.on_extras: Callable[[str, dict[str, Any]], None] | None = None

    def begin(self, collector: RequestCollector) -> None:
        self.collector, self.finals = collector, set()
        self.last_seen, self.received, self.health = {}, {}, {}
        self.late = 0

    def end(self) -> None:
        """The run's files are closed: what still arrives is counted (``late``) and logged, not written."""
        self.collector = None

    def receive(self, node_id: str, data: dict[str, Any]) -> None:
        collector = self.collector
        self.last_seen[node_id] = time.time()
        rows = data.get("rows", [])
        if collector is not None and isinstance(collector.writer, CsvRecordWriter):
            adopt = self.adopt
            collector.writer.write_records([adopt(values) for values in rows])
            self.received[node_id] = self.received.get(node_id, 0) + len(rows)
            for sample in data.get("errors", []):
                key = (sample["error_type"], sample["error_stage"])
                collector.error_samples.setdefault(key, sample["message"])
        elif rows:
            self.late += len(rows)
            logger.warning(
                "%d records from worker %s arrived after the run's files were closed: not in requests.csv",
                len(rows),
                node_id,
            )
        if self.on_extras is not None:
            self.on_extras(node_id, data)
        if data.get("health"):
            self.health[node_id] = data["health"]
        if data.get("final"):
            self.finals.add(node_id)

    def wait_for(self, workers: Iterable[str], *, timeout_s: float = FINAL_BATCH_WAIT_S) -> list[str]:
        """Wait (cooperatively) until every worker's last batch arrived; the workers still missing."""
        expected = set(workers)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not expected <= self.finals:
            gevent.sleep(0.05)
        return sorted(expected - self.finals)


def _no_step(started_s: float) -> None:
    return None


@dataclass(frozen=True)
class LostWorker:
    worker: str
    detected_at: float  # when the master noticed (Locust marked it missing)
    last_records_at: float | None  # when its last batch arrived
    records_received: int


class WorkerRoster:
    """Master: which workers are lost (no heartbeats, as Locust marks them missing) and which came back.

    A lost worker's measured and shipped records are kept; its unsent batch (at most about half a
    second) is lost. A worker that was only too busy to send heartbeats and sends them again is taken
    back, as Locust takes it back: it is no longer lost, and its last batch is awaited at the end.
    """

    def __init__(self, receiver: RecordReceiver) -> None:
        self._receiver = receiver
        self.lost: dict[str, LostWorker] = {}

    def update(self, missing: Mapping[str, bool], now: float) -> tuple[list[LostWorker], list[str]]:
        """``missing``: each worker Locust knows -> whether it is marked missing. The workers lost since
        the last call, and those back. A worker Locust forgot (missing for a minute) stays lost."""
        back = [worker for worker in self.lost if missing.get(worker) is False]
        for worker in back:
            del self.lost[worker]
        lost = []
        for worker, is_missing in missing.items():
            if is_missing and worker not in self.lost:
                self.lost[worker] = LostWorker(
                    worker, now, self._receiver.last_seen.get(worker), self._receiver.received.get(worker, 0)
                )
                lost.append(self.lost[worker])
        return lost, back

    def expected(self, missing: Mapping[str, bool]) -> list[str]:
        """The workers whose last batch is worth waiting for."""
        return [
            worker for worker, is_missing in missing.items() if not is_missing and worker not in self.lost
        ]
