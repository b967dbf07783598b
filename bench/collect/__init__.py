"""Collection: request events -> records -> ``requests.csv`` (streamed, constant memory)."""

from bench.collect.listener import RequestCollector, record_from_event
from bench.collect.record import COLUMNS, RequestRecord
from bench.collect.writer import CsvRecordWriter

__all__ = ["COLUMNS", "CsvRecordWriter", "RequestCollector", "RequestRecord", "record_from_event"]
