"""``requests.csv``: rows streamed to disk in completion order, flushed at least once a second.

The harness calls ``flush`` from a timer every second, so a burst of records followed by silence is on
disk within a second too (``write`` alone flushes only when a later record arrives). ``offset`` is the
byte length of what has reached the file: everything before it is whole lines, which is what the
glue's tail reader reads (per-step statistics and ``--gate-abort`` confirmation) without re-reading
the file from its start.

Memory stays constant: records wait in a bounded batch (at most ``PENDING_RECORDS``, never longer
than the flush interval), then are formatted and handed to the file's buffer together, in completion
order. Formatting a batch at once rather than each record as it arrives gives the same bytes at a
fraction of the CPU inside a busy load generator (the formatting code stays in the CPU's caches
instead of being evicted by the HTTP and SDK code between two requests). A row is written whole or
not at all (``csv.writer`` writes one line per row), so a run stopped at any moment leaves a valid
file up to its last flush.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

from bench.collect.record import COLUMNS, RequestRecord

PENDING_RECORDS = 256


class CsvRecordWriter:
    def __init__(self, path: Path, *, flush_interval_s: float = 1.0) -> None:
        self.path = path
        self.rows = 0
        self._pending: list[RequestRecord] = []
        self._file = path.open("w", newline="", encoding="utf-8", buffering=1 << 20)
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._writer.writerow(COLUMNS)
        self._file.flush()
        self.offset = self._file.tell()  # bytes on disk: the header now, whole rows later
        self.header_bytes = self.offset
        self._flush_interval_s = flush_interval_s
        self._next_flush = time.monotonic() + flush_interval_s

    def write(self, record: RequestRecord) -> None:
        pending = self._pending
        pending.append(record)
        self.rows += 1
        if len(pending) >= PENDING_RECORDS:
            self._write_pending()
        self._flush_when_due()

    def write_records(self, records: list[RequestRecord]) -> None:
        """A batch of records at once (a Locust worker's batch, received by the master)."""
        self._pending.extend(records)
        self.rows += len(records)
        if len(self._pending) >= PENDING_RECORDS:
            self._write_pending()
        self._flush_when_due()

    def _write_pending(self) -> None:
        pending, self._pending = self._pending, []
        self._writer.writerows([record.to_row() for record in pending])

    def _flush_when_due(self) -> None:
        now = time.monotonic()
        if now >= self._next_flush:
            self.flush()
            self._next_flush = now + self._flush_interval_s

    def flush(self) -> None:
        if not self._file.closed:
            if self._pending:
                self._write_pending()
            self._file.flush()
            self.offset = self._file.tell()

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            self._file.close()


class RecordBatch:
    """A Locust worker's sink: records kept until the next shipment to the master (about every 0.5 s),
    handed over by ``drain`` as plain values (``RequestRecord.values``): the master stores them once,
    typed, in its own ``CsvRecordWriter``."""

    def __init__(self) -> None:
        self.rows = 0
        self._pending: list[RequestRecord] = []

    def write(self, record: RequestRecord) -> None:
        self._pending.append(record)
        self.rows += 1

    def drain(self) -> list[tuple[Any, ...]]:
        pending, self._pending = self._pending, []
        return [record.values() for record in pending]

    def flush(self) -> None:
        """Nothing to flush locally: the plugin ships ``drain()`` to the master."""

    def close(self) -> None:
        """Nothing to close: the plugin ships the last ``drain()`` to the master."""
