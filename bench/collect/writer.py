"""``requests.csv``: rows streamed to disk in completion order, flushed at least once a second.

Memory stays constant: a row is formatted and handed to the file's buffer as it arrives, never kept.
A row is written whole or not at all (``csv.writer`` writes one line per call), so a run stopped at
any moment leaves a valid file up to its last flush.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

from bench.collect.record import COLUMNS, RequestRecord


class CsvRecordWriter:
    def __init__(self, path: Path, *, flush_interval_s: float = 1.0) -> None:
        self.path = path
        self.rows = 0
        self._file = path.open("w", newline="", encoding="utf-8", buffering=1 << 20)
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._writer.writerow(COLUMNS)
        self._file.flush()
        self._flush_interval_s = flush_interval_s
        self._next_flush = time.monotonic() + flush_interval_s

    def write(self, record: RequestRecord) -> None:
        self.write_row(record.to_row())

    def write_row(self, row: list[str]) -> None:
        """A row formatted elsewhere (a Locust worker's record, shipped to the master)."""
        self._writer.writerow(row)
        self.rows += 1
        now = time.monotonic()
        if now >= self._next_flush:
            self._file.flush()
            self._next_flush = now + self._flush_interval_s

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            self._file.close()


class RecordBatch:
    """A Locust worker's sink: formatted rows kept until the next shipment to the master (about every 0.5 s)."""

    def __init__(self) -> None:
        self.rows = 0
        self._pending: list[list[str]] = []

    def write(self, record: RequestRecord) -> None:
        self._pending.append(record.to_row())
        self.rows += 1

    def drain(self) -> list[list[str]]:
        pending, self._pending = self._pending, []
        return pending

    def flush(self) -> None:
        """Nothing to flush locally: the plugin ships ``drain()`` to the master."""

    def close(self) -> None:
        """Nothing to close: the plugin ships the last ``drain()`` to the master."""
