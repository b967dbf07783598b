"""Reading requests.csv back: one representation of every cell, whole files, byte ranges and records."""

from __future__ import annotations

import io
import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.analysis import summarize
from bench.analysis.records import (
    DEFAULT_COLUMNS,
    DERIVED_COLUMNS,
    NUMERIC_COLUMNS,
    concat_records,
    header_end_offset,
    load_records,
    measured,
    read_records_range,
    records_frame,
    take_measured,
)
from bench.collect.record import COLUMNS, TEXT_COLUMNS, RequestRecord
from bench.collect.writer import CsvRecordWriter


def _record(i: int, **changes: object) -> RequestRecord:
    stream = i % 3 == 0
    fields: dict[str, object] = {
        "timestamp_s": 1_760_000_000.0 + i * 0.25,
        "intended_start_s": 1_760_000_000.0 + i * 0.25,
        "worker": "local",
        "user_class": "LLMStreamUser" if stream else "TritonUser",
        "request_type": "stream" if stream else "invoke",
        "name": "demo-llm" if stream else "demo-triton",
        "endpoint": "demo-llm" if stream else "demo-triton",
        "variant": None if i % 4 == 1 else "AllTraffic",  # None: an empty cell
        "target_model": None,
        "inference_id": f"{i:032x}",
        "users": 4,
        "step": None,
        "status": "error" if i % 5 == 4 else "ok",
        "error_type": "Throttling" if i % 5 == 4 else None,
        "error_stage": "request" if i % 5 == 4 else None,
        "http_status": 429 if i % 5 == 4 else 200,
        "latency_ms": 10.0 + i,
        "ttfp_ms": 3.5 if stream else None,
        "ttft_ms": 4.25 if stream else None,
        "parts": 9 if stream else None,
        "tokens": 8 if stream else None,
        "itl_mean_ms": 1.125 if stream else None,
        "itl_max_ms": 2.5 if stream else None,
        "request_bytes": 256,
        "response_bytes": 1024,
    }
    fields.update(changes)
    return RequestRecord(**fields)  # type: ignore[arg-type]


def _write(path: Path, records: list[RequestRecord], *, flush_every: int = 0) -> list[int]:
    """``records`` through the real writer; the file's size after each ``flush_every`` records."""
    writer = CsvRecordWriter(path)
    offsets = [path.stat().st_size]
    for i, record in enumerate(records, start=1):
        writer.write(record)
        if flush_every and i % flush_every == 0:
            writer.flush()
            offsets.append(path.stat().st_size)
    writer.close()
    offsets.append(path.stat().st_size)
    return offsets


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with categorical columns as plain text (a range has only its own categories)."""
    return frame.astype({c: object for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})


def test_an_empty_cell_reads_the_same_through_every_reader(tmp_path: Path) -> None:
    records = [_record(i) for i in range(12)]
    path = tmp_path / "requests.csv"
    _write(path, records)
    whole = load_records(path)
    ranged = read_records_range(path, header_end_offset(path))
    in_memory = records_frame(records)
    pd.testing.assert_frame_equal(whole, ranged)
    pd.testing.assert_frame_equal(whole, in_memory)
    # text: the empty string, never NaN or None; numbers: NaN
    assert whole.loc[1, "variant"] == ""
    assert whole.loc[0, "variant"] == "AllTraffic"
    assert whole.loc[0, "error_type"] == ""
    assert whole.loc[4, "error_type"] == "Throttling"
    assert not any(whole[c].isna().any() for c in TEXT_COLUMNS if c in whole)
    assert math.isnan(whole.loc[1, "ttfp_ms"])
    assert whole.loc[0, "ttfp_ms"] == 3.5
    assert math.isnan(whole.loc[0, "step"])
    # grouping keeps the rows whose variant is empty
    summary = summarize(whole)
    groups = summary[summary["name"] != "ALL"]
    assert groups["count"].sum() == len(records)
    assert set(groups["variant"]) == {"", "AllTraffic"}


def test_dtypes_numbers_float_text_categorical_ids_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    _write(path, [_record(i) for i in range(6)])
    frame = load_records(path)
    assert list(frame.columns) == [*DEFAULT_COLUMNS, "end_s"]
    assert "inference_id" not in frame
    for column in (*NUMERIC_COLUMNS, "end_s"):
        assert frame[column].dtype == np.float64, column
    for column in TEXT_COLUMNS:
        if column != "inference_id":
            assert isinstance(frame[column].dtype, pd.CategoricalDtype), column
            categories = list(frame[column].cat.categories)
            assert categories == sorted(categories), column  # sorting and grouping are by value
    assert frame["end_s"].tolist() == pytest.approx(
        (frame["timestamp_s"] + frame["latency_ms"] / 1000).tolist()
    )
    ids = load_records(path, ["inference_id", "status"])
    assert list(ids.columns) == ["timestamp_s", "inference_id", "status", "latency_ms", "end_s"]
    assert pd.api.types.is_string_dtype(ids["inference_id"].dtype)
    assert not isinstance(ids["inference_id"].dtype, pd.CategoricalDtype)
    assert ids["inference_id"].tolist() == [f"{i:032x}" for i in range(6)]
    with pytest.raises(ValueError, match=r"unknown requests\.csv columns"):
        load_records(path, ["latency"])


def test_ranges_at_the_writers_offsets_are_slices_of_the_whole(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    offsets = _write(path, [_record(i) for i in range(50)], flush_every=7)
    assert offsets[0] == header_end_offset(path) == len(",".join(COLUMNS)) + 1
    whole = load_records(path, [*DEFAULT_COLUMNS, "inference_id"])
    row = 0
    for start, end in itertools.pairwise(offsets):
        part = read_records_range(path, start, end, [*DEFAULT_COLUMNS, "inference_id"])
        expected = whole.iloc[row : row + len(part)].reset_index(drop=True)
        pd.testing.assert_frame_equal(_plain(part), _plain(expected))
        row += len(part)
    assert row == len(whole) == 50
    parts = [read_records_range(path, a, b) for a, b in itertools.pairwise(offsets)]
    pd.testing.assert_frame_equal(concat_records(parts), load_records(path))  # categorical, as one read
    tail = read_records_range(path, offsets[3])  # to the end
    expected = whole.drop(columns="inference_id").iloc[21:].reset_index(drop=True)
    pd.testing.assert_frame_equal(_plain(tail), _plain(expected))
    assert read_records_range(path, 0).equals(load_records(path))  # 0: the first row, as the header's end
    assert read_records_range(path, offsets[-1]).empty
    with pytest.raises(ValueError, match="line boundary"):
        read_records_range(path, offsets[1] + 3)
    with pytest.raises(ValueError, match="not past the header"):
        read_records_range(path, 5)


def test_a_header_only_file_is_an_empty_frame_with_the_same_dtypes(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    _write(path, [])
    empty = load_records(path)
    assert empty.empty
    full = records_frame([_record(1)])
    assert list(empty.columns) == list(full.columns)
    assert [str(t) for t in empty.dtypes] == [str(t) for t in full.dtypes]
    pd.testing.assert_frame_equal(empty, records_frame([]))
    assert read_records_range(path, header_end_offset(path)).empty
    assert len(summarize(empty)) == 1  # the ALL row


def test_a_last_line_cut_mid_write_is_left_out(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    offsets = _write(path, [_record(i) for i in range(9)])
    complete = load_records(path)
    whole_line = path.read_bytes().splitlines(keepends=True)[-1]
    for cut in (5, 40, len(whole_line) - 1):  # in a number, in text, just before its newline
        path.write_bytes(path.read_bytes()[: offsets[-1]] + whole_line[:cut])
        pd.testing.assert_frame_equal(load_records(path), complete)
        pd.testing.assert_frame_equal(
            _plain(read_records_range(path, offsets[0])), _plain(complete.reset_index(drop=True))
        )
    path.write_bytes(path.read_bytes()[: offsets[0]] + whole_line[:20])  # a header and half a row
    assert load_records(path).empty


def test_a_file_of_another_kind_lacks_columns(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    path.write_text("timestamp_s,latency_ms\n1.0,2.0\n")
    with pytest.raises(
        ValueError, match=r"lacks columns \['intended_start_s', .*is it a requests.csv of this harness\?"
    ):
        load_records(path)
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="lacks columns"):
        load_records(path)


@pytest.mark.parametrize(
    "rows",
    [
        b"not,a,row\n",  # too few cells
        b"\x00\xff\xfe garbage \x01" * 40 + b"\n",
        ("x" + "," * (len(COLUMNS) - 1) + "\n").encode(),  # a timestamp that is no number
    ],
    ids=["columns", "binary", "number"],
)
def test_garbage_after_the_header_is_one_line_naming_the_file(tmp_path: Path, rows: bytes) -> None:
    path = tmp_path / "requests.csv"
    offsets = _write(path, [_record(i) for i in range(3)])
    path.write_bytes(path.read_bytes() + rows + path.read_bytes()[offsets[0] :])
    with pytest.raises(ValueError, match=r"not a readable requests\.csv") as caught:
        load_records(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert "\n" not in message
    assert caught.value.__cause__ is None  # raised from None: no pyarrow traceback
    with pytest.raises(ValueError, match=r"not a readable requests\.csv"):
        read_records_range(path, offsets[0])
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ValueError, match=f"{binary} lacks columns"):
        load_records(binary)


def test_the_measured_window_from_the_runs_cut_or_the_first_request() -> None:
    frame = records_frame([_record(i) for i in range(40)])  # one start every 0.25 s
    start = frame["timestamp_s"].min()
    assert len(measured(frame, 2.0)) == 32  # 2 s after the first start
    assert len(measured(frame, 2.0, measured_from_s=start + 5.0)) == 20  # the run's cut wins
    assert measured(frame, 0.0) is frame
    assert measured(frame, 0.0, measured_from_s=start - 1) is frame
    expected = measured(frame, 0.0, measured_from_s=start + 5.0).reset_index(drop=True)
    moved = take_measured(frame.copy(), 0.0, measured_from_s=start + 5.0)
    pd.testing.assert_frame_equal(moved, expected)
    source = frame.copy()
    take_measured(source, 3.0)
    assert source.columns.empty  # the records were moved, not copied


_TEXT = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(_TEXT, st.one_of(st.none(), _TEXT), st.one_of(st.none(), st.integers(0, 10**6))),
        min_size=1,
        max_size=20,
    )
)
def test_any_text_round_trips_through_the_writer_and_every_reader(
    tmp_path_factory: pytest.TempPathFactory, cells: list[tuple[str, str | None, int | None]]
) -> None:
    """Commas, quotes, "NaN", "null", unicode: text is what was written, "" for an empty cell."""
    records = [
        _record(i, name=name, variant=variant, tokens=tokens)
        for i, (name, variant, tokens) in enumerate(cells)
    ]
    path = tmp_path_factory.mktemp("run") / "requests.csv"
    _write(path, records)
    whole = load_records(path)
    pd.testing.assert_frame_equal(whole, records_frame(records))
    pd.testing.assert_frame_equal(whole, read_records_range(path, header_end_offset(path)))
    assert whole["name"].tolist() == [name for name, _, _ in cells]
    assert whole["variant"].tolist() == ["" if v is None else v for _, v, _ in cells]
    tokens = [float("nan") if t is None else float(t) for _, _, t in cells]
    np.testing.assert_array_equal(whole["tokens"].to_numpy(), np.array(tokens))


def test_the_selfbench_synthetic_file_is_what_the_writer_writes(tmp_path: Path) -> None:
    from bench.reportbench import (
        synthetic_chunk,
        synthetic_lines,
        synthetic_records,
        write_synthetic_requests,
    )

    chunk = synthetic_chunk(3_000, 1_760_000_000_000_000, np.random.default_rng(7))
    records = synthetic_records(chunk, range(3_000))
    path = tmp_path / "requests.csv"
    _write(path, records)
    written = path.read_bytes()
    assert written == (",".join(COLUMNS) + "\n").encode() + synthetic_lines(chunk)
    assert {r.request_type for r in records} == {"invoke", "stream"}
    assert {r.status for r in records} == {"ok", "error"}
    pd.testing.assert_frame_equal(load_records(path), records_frame(records))
    first_s = write_synthetic_requests(tmp_path / "big.csv", 1_200, seed=3)
    assert load_records(tmp_path / "big.csv")["timestamp_s"].min() == first_s


def test_reading_leaves_no_categorical_surprises_for_comparisons(tmp_path: Path) -> None:
    frame = records_frame([_record(i) for i in range(10)])
    assert int((frame["status"] == "error").sum()) == 2
    assert int((frame["status"] == "unfinished").sum()) == 0  # a value that is no category: False
    assert sorted(frame["request_type"].unique()) == ["invoke", "stream"]
    assert frame.sort_values("name", kind="stable")["name"].iloc[0] == "demo-llm"
    assert f"{frame['variant'].iloc[1]:<4}|" == "    |"
    buffer = io.StringIO()
    frame[["name", "variant"]].to_csv(buffer, index=False)
    assert buffer.getvalue().splitlines()[2] == "demo-triton,"


def test_categories_span_the_readers_blocks_and_outgrow_small_codes(tmp_path: Path) -> None:
    """The CSV reader parses 1 MB blocks, each with its own dictionary; codes widen past 127 values."""
    names = [f"name-{i % 7}" if i < 8_000 else f"name-{i % 400:03d}" for i in range(16_000)]
    records = [_record(i, name=name) for i, name in enumerate(names)]
    path = tmp_path / "requests.csv"
    _write(path, records)
    assert path.stat().st_size > 2 << 20  # several blocks; the 400 names come after the first
    frame = load_records(path)
    assert frame["name"].tolist() == names
    assert list(frame["name"].cat.categories) == sorted(set(names))
    assert frame["name"].cat.codes.dtype == np.int16
    pd.testing.assert_frame_equal(frame, records_frame(records))


def test_a_file_from_before_the_open_loop_columns_reads_as_closed_loop(tmp_path: Path) -> None:
    """A requests.csv without schedule_lag_ms and effective_latency_ms (an older run): lag 0, effective
    latency = latency, through every reader, and ``bench report`` works on it."""
    records = [_record(i) for i in range(7)]
    path = tmp_path / "requests.csv"
    _write(path, records)
    old = [c for c in COLUMNS if c not in DERIVED_COLUMNS]
    assert len(old) == len(COLUMNS) - 2
    lines = path.read_text().splitlines()
    cells = [line.split(",") for line in lines]  # no quoted commas in these rows
    keep = [COLUMNS.index(c) for c in old]
    path.write_text("".join(",".join(row[i] for i in keep) + "\n" for row in cells))
    assert header_end_offset(path) == len(",".join(old)) + 1
    frame = load_records(path)
    assert list(frame.columns) == [*DEFAULT_COLUMNS, "end_s"]  # the same columns, in the same order
    assert frame["schedule_lag_ms"].tolist() == [0.0] * 7
    assert frame["effective_latency_ms"].tolist() == [10.0 + i for i in range(7)]
    assert frame["schedule_lag_ms"].dtype == frame["effective_latency_ms"].dtype == np.float64
    pd.testing.assert_frame_equal(frame, records_frame(records))  # what the new writer writes
    pd.testing.assert_frame_equal(read_records_range(path, header_end_offset(path)), frame)
    asked = load_records(path, ["status", "effective_latency_ms"])
    assert list(asked.columns) == ["timestamp_s", "status", "latency_ms", "effective_latency_ms", "end_s"]
    assert asked["effective_latency_ms"].tolist() == asked["latency_ms"].tolist()
    assert load_records(path, ["schedule_lag_ms"])["schedule_lag_ms"].tolist() == [0.0] * 7
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(old) + "\n")
    pd.testing.assert_frame_equal(load_records(empty), records_frame([]))
    from bench.cli import main

    assert main(["report", str(tmp_path)]) == 0
    summary = pd.read_csv(tmp_path / "summary.csv").iloc[-1]
    assert (summary["late"], summary["schedule_lag_p99_ms"]) == (0, 0.0)
    assert summary["effective_latency_p50_ms"] == summary["latency_p50_ms"]
