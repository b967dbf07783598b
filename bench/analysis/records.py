"""Reading ``requests.csv`` back: one typed, columnar reader, for a whole file or a byte range of it.

Every frame of records comes out of ``_parse`` (pyarrow's CSV reader, which parses without holding
the GIL, so a thread can read while the event loop runs), so a cell means the same wherever it was
read:

- numeric columns (every column not in ``TEXT_COLUMNS``) are float64; an empty cell is NaN;
- text columns are pandas ``category`` (categories sorted, so sorting and grouping are lexical); an
  empty cell is the empty string ``""``, never NaN or None, so grouping by ``variant`` keeps every row;
- ``inference_id`` (one distinct value per request) is read only when asked for, as plain strings;
- ``end_s`` (``timestamp_s + latency_ms / 1000``, the completion time) is always added;
- a file written before the open-loop mode lacks ``schedule_lag_ms`` and ``effective_latency_ms``
  (``DERIVED_COLUMNS``; every other column must be there): they read as a closed-loop run's, a lag of
  0 and an effective latency equal to ``latency_ms``, so ``bench report`` works on older runs.

``load_records`` reads a whole file, ``read_records_range`` the rows between two byte offsets (the CSV
writer's offsets: the live glue's tail reads), ``records_frame`` in-memory records (formatted by
``RequestRecord.to_row`` exactly as the writer formats them, then parsed the same way). A last line
without its newline (a run stopped mid-write) is left out; anything else unreadable is a
``ValueError`` of one line naming the file. Text holding a line break cannot be read back (the
harness writes none: names, variants and error classes are single-line).

Memory: the parsed blocks go straight into arrays allocated once for all the rows (one count of the
newlines first), so reading takes the frame's own size plus a block: 10 million rows of
``REPORT_COLUMNS`` are about 0.9 GB of float64 and one byte per text cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from bench.collect.record import COLUMNS, TEXT_COLUMNS, RequestRecord

NUMERIC_COLUMNS = tuple(c for c in COLUMNS if c not in TEXT_COLUMNS)
ID_COLUMNS = ("inference_id",)  # one value per request: plain strings, and only when asked for
DEFAULT_COLUMNS = tuple(c for c in COLUMNS if c not in ID_COLUMNS)
# What the reports read (summary, errors, timeseries, gates, capacity): ``bench report`` reads no more.
REPORT_COLUMNS = (
    "timestamp_s",
    "request_type",
    "name",
    "variant",
    "users",
    "step",
    "status",
    "error_type",
    "error_stage",
    "latency_ms",
    "ttfp_ms",
    "ttft_ms",
    "tokens",
    "itl_mean_ms",
    "schedule_lag_ms",
    "effective_latency_ms",
)
# Columns added after the first release (the open-loop mode): derived when a file lacks them.
DERIVED_COLUMNS = ("schedule_lag_ms", "effective_latency_ms")
END_COLUMNS = ("timestamp_s", "latency_ms")  # what ``end_s`` is derived from: always read
_BLOCK_BYTES = 1 << 20  # the CSV reader's unit of work (larger blocks only raise the peak memory)
_HEADER_MAX_BYTES = 1 << 16
_TAIL_SCAN_BYTES = 1 << 16


def load_records(path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The records of a ``requests.csv``: ``columns`` (default ``DEFAULT_COLUMNS``: all but the
    inference ids) plus ``end_s``, typed as the module docstring says."""
    names, header_end = _header(path)
    return _read_file(path, names, header_end, None, columns, label=str(path))


def read_records_range(
    path: Path, start: int, end: int | None = None, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """The rows in bytes ``[start, end)`` of a ``requests.csv`` (``end`` None: to the last whole line),
    typed as ``load_records`` types them; the names come from the file's header line.

    Both offsets are line boundaries past the header, as the CSV writer reports them after a flush;
    ``start`` may be ``header_end_offset(path)`` (or 0, the same: the first row).
    """
    names, header_end = _header(path)
    start = header_end if start == 0 else start
    if start < header_end or (end is not None and end < start):
        raise ValueError(
            f"{path}: byte range {start}..{end} is not past the header (which ends at {header_end})"
        )
    return _read_file(path, names, start, end, columns, label=f"{path} bytes {start}..{end}")


def header_end_offset(path: Path) -> int:
    """The byte offset of the first row of a ``requests.csv`` (just past its header line)."""
    return _header(path)[1]


def records_frame(records: Sequence[RequestRecord], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """In-memory records as ``load_records`` would read them back from the file the writer makes."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([record.to_row() for record in records])
    data = text.getvalue().encode("utf-8")
    source = pa.BufferReader(pa.py_buffer(data).slice(data.index(b"\n") + 1))  # past the header
    return _parse(source, COLUMNS, columns, lines=len(records), label="in-memory records")


def concat_records(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Frames of records (successive range reads, say) as one, rows renumbered, text still categorical
    (``pd.concat`` alone makes plain text of categoricals whose categories differ)."""
    if not frames:
        raise ValueError("concat_records: no frames")
    aligned = [frame.copy(deep=False) for frame in frames]
    for name in frames[0].columns:
        dtypes = [frame[name].dtype for frame in frames]
        categorical = [dtype for dtype in dtypes if isinstance(dtype, pd.CategoricalDtype)]
        if len(categorical) == len(dtypes):
            categories = sorted(set().union(*(dtype.categories for dtype in categorical)))
            for frame in aligned:
                frame[name] = frame[name].cat.set_categories(categories)
    return pd.concat(aligned, ignore_index=True)


def measured(frame: pd.DataFrame, warmup_s: float, measured_from_s: float | None = None) -> pd.DataFrame:
    """Records that started in the measured window.

    With ``measured_from_s`` (the run's warm-up cut, absolute wall-clock seconds, ``run.json``'s
    ``measured_from_s``): those that started at or after it. Without: those that started ``warmup_s``
    or more after the first record started. The frame itself when nothing is left out.
    """
    keep = _measured_rows(frame, warmup_s, measured_from_s)
    return frame if keep is None else frame[keep]


def take_measured(frame: pd.DataFrame, warmup_s: float, measured_from_s: float | None = None) -> pd.DataFrame:
    """``measured``, for a frame not needed afterwards: the kept rows are moved out of ``frame`` one
    column at a time (it is left without columns, unless nothing is left out and it is returned), so
    the records and their measured window never both fill memory. The rows are numbered anew."""
    keep = _measured_rows(frame, warmup_s, measured_from_s)
    if keep is None:
        return frame
    columns = {name: frame.pop(name).array[keep] for name in list(frame.columns)}
    return pd.DataFrame(columns, copy=False)


def _measured_rows(
    frame: pd.DataFrame, warmup_s: float, measured_from_s: float | None
) -> npt.NDArray[np.bool_] | None:
    """Which rows ``measured`` keeps; None for all of them."""
    if frame.empty:
        return None
    if measured_from_s is None:
        if warmup_s <= 0:
            return None
        measured_from_s = float(frame["timestamp_s"].min()) + warmup_s
    keep = frame["timestamp_s"].to_numpy(dtype=np.float64) >= measured_from_s
    return None if bool(keep.all()) else keep


def _header(path: Path) -> tuple[list[str], int]:
    """The column names of the header line and the offset just past it."""
    try:
        with path.open("rb") as handle:
            line = handle.readline(_HEADER_MAX_BYTES)
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    names = next(csv.reader([line.decode("utf-8", errors="replace").rstrip("\r\n")]), [])
    missing = [c for c in COLUMNS if c not in names and c not in DERIVED_COLUMNS]
    if missing:
        raise ValueError(f"{path} lacks columns {missing}; is it a requests.csv of this harness?")
    return names, len(line)


def _read_file(
    path: Path,
    names: Sequence[str],
    start: int,
    end: int | None,
    columns: Sequence[str] | None,
    *,
    label: str,
) -> pd.DataFrame:
    """Parse bytes ``[start, end)`` of ``path``; ``end`` None: up to the end of its last whole line."""
    with path.open("rb") as handle:
        size = handle.seek(0, io.SEEK_END)
        if max(start, end or 0) > size:
            raise ValueError(f"{label}: the file has only {size} bytes")
        if end is None:
            end = _last_line_end(handle, start, size)
        for offset, what in ((start, "start"), (end, "end")):
            if offset > 0 and _byte_at(handle, offset - 1) != b"\n":
                raise ValueError(f"{label}: the range does not {what} at a line boundary")
        lines = _count_lines(handle, start, end)
        handle.seek(start)
        source = _ByteRange(handle, end - start)
        return _parse(source, names, columns, lines=lines, label=label)


def _byte_at(handle: io.BufferedReader, offset: int) -> bytes:
    handle.seek(offset)
    return handle.read(1)


def _count_lines(handle: io.BufferedReader, start: int, end: int) -> int:
    """Newlines in bytes ``[start, end)``: at least the rows there (arrays are allocated once, for them)."""
    handle.seek(start)
    block = bytearray(_BLOCK_BYTES)
    lines, left = 0, end - start
    while left > 0:
        read = handle.readinto(memoryview(block)[: min(left, len(block))])
        if not read:
            break
        lines += block.count(b"\n", 0, read)
        left -= read
    return lines


def _last_line_end(handle: io.BufferedReader, start: int, size: int) -> int:
    """The offset just past the last newline at or after ``start`` (``start`` when there is none)."""
    position = size
    while position > start:
        low = max(start, position - _TAIL_SCAN_BYTES)
        handle.seek(low)
        found = handle.read(position - low).rfind(b"\n")
        if found >= 0:
            return low + found + 1
        position = low
    return start


class _ByteRange(io.RawIOBase):
    """A file read from its current position for ``length`` bytes, then at its end."""

    def __init__(self, handle: io.BufferedReader, length: int) -> None:
        super().__init__()
        self._handle = handle
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self._left)
        if size <= 0:
            return 0
        read = self._handle.readinto(memoryview(buffer)[:size])
        self._left -= read
        return read


def _parse(
    source: Any, names: Sequence[str], columns: Sequence[str] | None, *, lines: int, label: str
) -> pd.DataFrame:
    """The rows (no header line; at most ``lines``) of a requests.csv whose header is ``names``.

    pyarrow parses the bytes a block at a time (in its own threads, without the GIL); each block's
    columns go straight into arrays allocated once for all the rows, so the peak memory is the frame's
    own plus one block, never a whole Arrow table beside the frame.
    """
    wanted = _wanted(columns)
    filled = _Filled(wanted, lines, absent=[c for c in wanted if c not in names])
    present = [c for c in wanted if c in names]
    if lines:
        convert = pacsv.ConvertOptions(
            column_types={c: _arrow_type(c) for c in present},
            include_columns=present,
            null_values=[""],  # numbers only: text is never null (strings_can_be_null)
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        read = pacsv.ReadOptions(column_names=list(names), block_size=_BLOCK_BYTES)
        try:
            for batch in pacsv.open_csv(source, read_options=read, convert_options=convert):
                filled.add(batch)
        except (pa.ArrowException, OSError) as exc:
            reason = " ".join(str(exc).split())
            reason = reason if len(reason) <= 200 else reason[:200] + "..."
            raise ValueError(f"{label}: not a readable requests.csv ({reason})") from None
    return filled.frame()


class _Filled:
    """Typed columns filled a record batch at a time: float64 arrays, category codes into per-column
    tables of values (each block of the CSV reader has its own dictionary), Arrow chunks of ids."""

    def __init__(self, columns: Sequence[str], capacity: int, *, absent: Sequence[str] = ()) -> None:
        self.columns = tuple(columns)
        self.rows = 0
        self._absent = tuple(absent)  # DERIVED_COLUMNS the file lacks: derived in ``frame``
        self._numbers = {
            c: np.empty(capacity, np.float64) for c in columns if c in NUMERIC_COLUMNS and c not in absent
        }
        self._codes: dict[str, npt.NDArray[np.signedinteger[Any]]] = {
            c: np.empty(capacity, np.int8) for c in columns if _arrow_type(c) == _CATEGORY
        }
        self._values: dict[str, dict[str, int]] = {c: {} for c in self._codes}
        self._chunks: dict[str, list[pa.Array]] = {c: [] for c in columns if c in ID_COLUMNS}

    def add(self, batch: pa.RecordBatch) -> None:
        low, high = self.rows, self.rows + batch.num_rows
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            if name in self._numbers:
                self._numbers[name][low:high] = column.to_numpy(zero_copy_only=False)
            elif name in self._codes:
                codes, lookup = self._codes_for(name, column.dictionary.to_pylist(), low)
                codes[low:high] = lookup[column.indices.to_numpy(zero_copy_only=False)]
            else:
                self._chunks[name].append(column)
        self.rows = high

    def _codes_for(
        self, name: str, dictionary: list[str], filled: int
    ) -> tuple[npt.NDArray[np.signedinteger[Any]], npt.NDArray[np.int64]]:
        """The codes array of ``name`` (widened when ``dictionary`` brings more values than it holds)
        and the codes of the batch's dictionary positions."""
        values = self._values[name]
        lookup = np.array([values.setdefault(v, len(values)) for v in dictionary], dtype=np.int64)
        codes = self._codes[name]
        if len(values) - 1 > np.iinfo(codes.dtype).max:
            wide = np.int16 if len(values) <= np.iinfo(np.int16).max else np.int32
            wider: npt.NDArray[np.signedinteger[Any]] = np.empty(len(codes), wide)
            wider[:filled] = codes[:filled]
            codes = self._codes[name] = wider
        return codes, lookup

    def frame(self) -> pd.DataFrame:
        """The frame (columns in file order, then ``end_s``), each column its own array: no copies."""
        data: dict[str, Any] = {}
        for name in self.columns:
            if name in self._absent:
                data[name] = None  # its place in the column order; derived below
            elif name in self._numbers:
                data[name] = self._numbers.pop(name)[: self.rows]
            elif name in self._codes:
                data[name] = self._categorical(self._codes.pop(name)[: self.rows], self._values.pop(name))
            else:
                data[name] = pa.chunked_array(self._chunks.pop(name), pa.string()).to_pandas().array
        if "schedule_lag_ms" in self._absent:  # an older file: a closed-loop run's values
            data["schedule_lag_ms"] = np.zeros(self.rows, np.float64)
        if "effective_latency_ms" in self._absent:
            data["effective_latency_ms"] = data["latency_ms"].copy()
        data["end_s"] = data["timestamp_s"] + data["latency_ms"] / 1000.0
        return pd.DataFrame(data, copy=False)

    @staticmethod
    def _categorical(
        codes: npt.NDArray[np.signedinteger[Any]], values: dict[str, int]
    ) -> pd.Categorical[str]:
        """Categories sorted (grouping and sorting are then by value)."""
        ordered = sorted(values)
        rank = np.empty(len(values), dtype=codes.dtype)
        rank[[values[v] for v in ordered]] = np.arange(len(values), dtype=codes.dtype)
        return pd.Categorical.from_codes(rank[codes], categories=pd.Index(ordered, dtype=str), validate=False)


def _wanted(columns: Sequence[str] | None) -> tuple[str, ...]:
    """The columns to read, in file order: the ones asked for (and what ``end_s`` needs)."""
    if columns is None:
        return DEFAULT_COLUMNS
    unknown = [c for c in columns if c not in COLUMNS and c != "end_s"]
    if unknown:
        raise ValueError(f"unknown requests.csv columns {unknown}; the columns are {list(COLUMNS)}")
    asked = {*columns, *END_COLUMNS}
    return tuple(c for c in COLUMNS if c in asked)


_CATEGORY = pa.dictionary(pa.int32(), pa.string())


def _arrow_type(column: str) -> pa.DataType:
    if column in ID_COLUMNS:
        return pa.string()
    return _CATEGORY if column in TEXT_COLUMNS else pa.float64()
