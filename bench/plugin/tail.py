"""Reading what the run has written so far: the rows appended to ``requests.csv`` since the last read.

The writer knows its byte offset (``CsvRecordWriter.offset``: whole lines only), so each read parses
just the new bytes, in gevent's thread pool: the load-generating loop keeps running meanwhile.
Step statistics and ``--gate-abort``'s confirmation use it, each with a tail of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import gevent
import pandas as pd

from bench.analysis.records import read_records_range
from bench.collect import CsvRecordWriter

T = TypeVar("T")


class RecordTail:
    def __init__(self, writer: CsvRecordWriter) -> None:
        self._writer = writer
        self.offset = writer.header_bytes

    def read_new(self) -> pd.DataFrame:
        """The records written since the last read (all of them the first time), typed."""
        return self.apply(lambda frame: frame)

    def apply(self, analyse: Callable[[pd.DataFrame], T]) -> T:
        """``analyse`` of the records written since the last read, read and analysed in the thread pool:
        under the GIL the loop still gets its turn every few milliseconds, while on the loop itself a
        long analysis would hold every request of the run back for its whole length."""
        self._writer.flush()
        start, end = self.offset, self._writer.offset
        self.offset = end
        path = self._writer.path
        result: T = gevent.get_hub().threadpool.apply(lambda: analyse(read_records_range(path, start, end)))
        return result
