"""Reading what the run has written so far: the rows appended to ``requests.csv`` since the last read.

The writer knows its byte offset (``CsvRecordWriter.offset``: whole lines only), so each read parses
just the new bytes, in gevent's thread pool: the load-generating loop keeps running meanwhile.
Step statistics and ``--gate-abort``'s confirmation use it, each with a tail of its own.
"""

from __future__ import annotations

import gevent
import pandas as pd

from bench.analysis.records import read_records_range
from bench.collect import CsvRecordWriter


class RecordTail:
    def __init__(self, writer: CsvRecordWriter) -> None:
        self._writer = writer
        self.offset = writer.header_bytes

    def read_new(self) -> pd.DataFrame:
        """The records written since the last read (all of them the first time), typed."""
        self._writer.flush()
        start, end = self.offset, self._writer.offset
        self.offset = end
        frame: pd.DataFrame = gevent.get_hub().threadpool.apply(
            read_records_range, (self._writer.path, start, end)
        )
        return frame
