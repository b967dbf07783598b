"""``bench selfbench``'s ``report read`` line: ``bench report`` on a large synthetic ``requests.csv``.

A requests.csv byte for byte as ``CsvRecordWriter`` writes it (tensor, multi-model and stream rows from
four workers, about 1% errors, 32-hex-digit inference ids, a closed-loop run's schedule lag of 0 and
effective latency equal to the latency; checked against the writer on its first rows) and a run.json
with a 60 s warm-up cut; ``bench report`` runs in a process of its own, whose peak resident memory
(``VmHWM``) is the report's; wall and CPU seconds, rows/s and that peak against the
targets (10 million rows, a one-hour soak at about 3,000 requests/s, in at most 30 s and 1,500 MB), in
``report-read.csv`` beside ``selfbench.csv``. The scratch directory (about 2.4 GB for 10 million rows)
is deleted afterwards.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.collect.record import RequestRecord

REPORT = "report-read"
REPORT_CSV = "report-read.csv"
REPORT_ROWS, REPORT_ROWS_QUICK = 10_000_000, 200_000
REPORT_TARGET_S = 30.0  # for REPORT_ROWS rows (a one-hour soak at about 3,000 requests/s)
REPORT_TARGET_MB = 1_500.0  # peak resident memory of the process running the report
REPORT_CHUNK_ROWS = 500_000
REPORT_BYTES_PER_ROW = 280  # a generous bound of a synthetic row's length (about 234 bytes on average)
REPORT_WARMUP_S = 60.0  # the synthetic run's warm-up (run.json's measured_from_s), left out as a run's is


@dataclass(frozen=True)
class ReportRead:
    """``bench report`` on a synthetic ``requests.csv`` of ``rows`` rows, in a process of its own."""

    rows: int
    file_mb: float
    wall_s: float
    cpu_s: float
    peak_rss_mb: float  # the child's peak resident memory: the reader, pandas and the report tables
    base_rss_mb: float  # the same process with its libraries loaded, before reading anything
    target_s: float = REPORT_TARGET_S
    target_rss_mb: float = REPORT_TARGET_MB
    target_rows: int = REPORT_ROWS

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def met(self) -> bool | None:
        """Both targets met; None below ``target_rows`` rows (no measurement of them)."""
        if self.rows < self.target_rows:
            return None
        return (
            self.wall_s <= self.target_s * self.rows / self.target_rows
            and self.peak_rss_mb <= self.target_rss_mb
        )


def run_report_read(out_dir: Path, *, rows: int) -> ReportRead:
    """Measure ``bench report`` on ``rows`` synthetic requests; write ``report-read.csv`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result = measure_report_read(rows)
    write_report_read_csv(out_dir / REPORT_CSV, result)
    print(f"bench selfbench: {REPORT}: {result.rows_per_s:,.0f} rows per second", flush=True)
    return result


def measure_report_read(rows: int, *, seed: int = 0) -> ReportRead:
    """Write a synthetic run directory of ``rows`` requests into a scratch directory, time ``bench
    report`` on it in a child process (so that the peak memory is the report's own), delete it."""
    scratch_root = Path(tempfile.gettempdir())
    needed = rows * REPORT_BYTES_PER_ROW
    free = shutil.disk_usage(scratch_root).free
    if free < needed + (1 << 30):
        raise RuntimeError(
            f"selfbench {REPORT}: {rows:,} rows need about {needed / 1e9:.1f} GB in {scratch_root}, "
            f"which has {free / 1e9:.1f} GB free; give fewer --report-rows or set TMPDIR"
        )
    with tempfile.TemporaryDirectory(prefix="bench-report-read-") as scratch:
        run_dir = Path(scratch)
        first_s = write_synthetic_requests(run_dir / "requests.csv", rows, seed=seed)
        file_mb = (run_dir / "requests.csv").stat().st_size / 1e6
        info = {"config": {"warmup_s": REPORT_WARMUP_S}, "measured_from_s": first_s + REPORT_WARMUP_S}
        (run_dir / "run.json").write_text(json.dumps(info), encoding="utf-8")
        out = run_dir / "report-read.json"
        code = "from bench.reportbench import report_read_main; report_read_main()"
        done = subprocess.run(
            [sys.executable, "-c", code, str(run_dir), str(out)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"selfbench {REPORT} failed ({done.returncode}): {done.stderr[-2000:]}")
        measured = json.loads(out.read_text(encoding="utf-8"))
    return ReportRead(
        rows=rows,
        file_mb=file_mb,
        wall_s=float(measured["wall_s"]),
        cpu_s=float(measured["cpu_s"]),
        peak_rss_mb=float(measured["peak_rss_mb"]),
        base_rss_mb=float(measured["base_rss_mb"]),
    )


def report_read_main() -> None:
    """``measure_report_read``'s child: argv = run directory, result file. Runs ``bench report``."""
    import contextlib

    import bench.report.tables  # noqa: F401  (the libraries, loaded before the baseline)
    from bench.cli import main

    run_dir, out = sys.argv[1:3]
    base = _memory_mb("VmRSS")
    cpu, wall = time.process_time(), time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the summary table it prints
        code = main(["report", run_dir])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if code != 0:
        raise SystemExit(f"bench report exited {code}")
    result = {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": _memory_mb("VmHWM"), "base_rss_mb": base}
    Path(out).write_text(json.dumps(result), encoding="utf-8")


def _memory_mb(field: str) -> float:
    """This process's resident memory (``VmRSS``) or its peak (``VmHWM``), in MB.

    Linux's ``/proc/self/status``: ``ru_maxrss`` would not do, since it keeps the peak of the parent
    this process was forked from (it survives ``exec``); elsewhere ``ru_maxrss`` all the same.
    """
    import resource

    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024 / 1e6  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def write_report_read_csv(path: Path, result: ReportRead) -> None:
    names = [f.name for f in fields(ReportRead)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["variant", *names, "rows_per_s", "met"])
        met = "" if result.met is None else str(result.met).lower()
        writer.writerow([REPORT, *(getattr(result, n) for n in names), result.rows_per_s, met])


def format_report_read(result: ReportRead) -> str:
    figures = (
        f"{'report read':<28} {result.rows:,} rows ({result.file_mb:,.0f} MB) in {result.wall_s:.1f} s "
        f"({result.rows_per_s:,.0f} rows/s, {result.cpu_s:.1f} CPU-s), peak {result.peak_rss_mb:,.0f} MB "
        f"(of which {result.base_rss_mb:,.0f} MB the interpreter and libraries)"
    )
    targets = (
        f"<= {result.target_s:g} s and <= {result.target_rss_mb:,.0f} MB for {result.target_rows:,} rows"
    )
    if result.met is None:
        return f"{figures} (targets {targets}: not measured at {result.rows:,} rows)"
    return f"{figures} (targets {targets}: {'met' if result.met else 'NOT met'})"


# The synthetic run: a one-hour-soak-like mix of a Triton endpoint (two names, two variants), a
# multi-model endpoint and a streaming LLM endpoint from four Locust workers, about 1% errors.
_RATE_PER_S = 3_000.0
_START_S = 1_760_000_000.0
_WORKERS = tuple(f"ip-10-0-1-{n}_{n:02x}7c41e9b05d4a8f{n:02x}c3a1d6e2f90b4c" for n in (11, 12, 13, 14))
# (request_type, user_class, name, endpoint, target_model, request_bytes, share of the requests)
_KINDS = (
    ("invoke", "TritonUser", "demo-triton", "demo-triton", "", 602_240, 0.55),
    ("invoke", "TritonUser", "demo-mme/resnet50-v2.tar.gz", "demo-mme", "resnet50-v2.tar.gz", 602_240, 0.15),
    ("stream", "LLMStreamUser", "demo-llm", "demo-llm", "", 312, 0.30),
)
_VARIANTS = ("AllTraffic", "canary", "")  # "" where no response named one (some errors)
# (error_type, error_stage, http_status (0: none), for streams only)
_ERRORS = (
    ("Throttling", "request", 429, False),
    ("ModelError", "request", 424, False),
    ("Timeout", "request", 0, False),
    ("ModelStreamError", "mid_stream", 200, True),
)


def write_synthetic_requests(path: Path, rows: int, *, seed: int = 0) -> float:
    """A ``requests.csv`` of ``rows`` synthetic requests, byte for byte as ``CsvRecordWriter`` writes
    them (checked against it on the first rows); the first request's start time."""
    from bench.collect.record import COLUMNS

    rng = np.random.default_rng(seed)
    first_s = _START_S
    with path.open("wb") as handle:
        handle.write((",".join(COLUMNS) + "\n").encode())
        end_us = int(_START_S * 1e6) + 12_000_000  # the first completions (a timeout is 10 s)
        for start in range(0, rows, REPORT_CHUNK_ROWS):
            chunk = synthetic_chunk(min(REPORT_CHUNK_ROWS, rows - start), end_us, rng)
            end_us = int(chunk["end_us"][-1])
            data = synthetic_lines(chunk)
            if start == 0:
                first_s = float(chunk["timestamp_us"].min()) / 1e6
                _check_synthetic(chunk, data)
            handle.write(data)
    return first_s


def synthetic_chunk(rows: int, after_us: int, rng: np.random.Generator) -> dict[str, Any]:
    """Columns of ``rows`` requests completing after ``after_us`` (µs since the epoch), in completion order.

    Times are integers (µs) and text columns codes into their tables, so formatting them is exact.
    """
    end_us = after_us + np.cumsum(rng.exponential(1e6 / _RATE_PER_S, rows).astype(np.int64) + 1)
    kind = rng.choice(len(_KINDS), rows, p=[k[-1] for k in _KINDS])
    stream = kind == 2
    request_error = rng.choice(3, rows, p=[0.5, 0.3, 0.2])  # Throttling, ModelError, Timeout
    error = np.where(rng.random(rows) < 0.01, request_error, -1)  # the request-stage errors
    error = np.where(stream & (rng.random(rows) < 0.003), 3, error)  # a stream broken mid-way
    failed, request_failed = error >= 0, (error >= 0) & (error < 3)
    invoke_us = rng.lognormal(np.log(18_000), 0.35, rows)
    tokens = rng.integers(32, 257, rows)
    ttfp_us = rng.lognormal(np.log(140_000), 0.3, rows).astype(np.int64)
    itl_us = rng.lognormal(np.log(22_000), 0.2, rows).astype(np.int64)
    tokens = np.where(error == 3, tokens // 3, tokens)
    latency_us = np.where(stream, ttfp_us + tokens * itl_us, invoke_us.astype(np.int64))
    latency_us = np.where(request_failed, rng.integers(800, 30_000, rows), latency_us)
    latency_us = np.where(error == 2, 10_000_000, latency_us)  # a timeout: the whole client timeout
    measured_stream = stream & ~request_failed
    variant = np.where(rng.random(rows) < 0.2, 1, 0)
    variant = np.where(request_failed & (rng.random(rows) < 0.5), 2, variant)
    http_status = np.where(failed, np.array([e[2] for e in _ERRORS])[np.maximum(error, 0)], 200)
    response_bytes = np.where(stream, tokens * 61 + 40, rng.integers(4_096, 4_200, rows))
    response_bytes = np.where(request_failed, rng.integers(60, 200, rows), response_bytes)
    raw_ids = rng.integers(0, 256, (rows, 16), dtype=np.uint8)
    return {
        "end_us": end_us,
        "timestamp_us": end_us - latency_us,
        "worker": (rng.integers(0, len(_WORKERS), rows), _WORKERS),
        "user_class": (kind, tuple(k[1] for k in _KINDS)),
        "request_type": (kind, tuple(k[0] for k in _KINDS)),
        "name": (kind, tuple(k[2] for k in _KINDS)),
        "endpoint": (kind, tuple(k[3] for k in _KINDS)),
        "variant": (variant, _VARIANTS),
        "target_model": (kind, tuple(k[4] for k in _KINDS)),
        "inference_id": _hex_ids(raw_ids),
        "users": np.full(rows, 192),
        "status": (failed.astype(np.int64), ("ok", "error")),
        "error_type": (error + 1, ("", *(e[0] for e in _ERRORS))),
        "error_stage": (error + 1, ("", *(e[1] for e in _ERRORS))),
        "http_status": (http_status, http_status > 0),
        "latency_us": latency_us,
        "ttfp_us": (ttfp_us, measured_stream),
        "ttft_us": (ttfp_us + 310, measured_stream),
        "parts": (tokens + 1, measured_stream),
        "tokens": (tokens, measured_stream),
        "itl_mean_us": (itl_us, measured_stream),
        "itl_max_us": (itl_us * 3 + 1_234, measured_stream),
        "request_bytes": np.array([k[5] for k in _KINDS])[kind],
        "response_bytes": response_bytes,
    }


def _hex_ids(raw: npt.NDArray[np.uint8]) -> npt.NDArray[np.bytes_]:
    """32 lower-case hex digits per row of 16 bytes (``uuid.uuid4().hex``-like)."""
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    pairs = np.stack([digits[raw >> 4], digits[raw & 15]], axis=-1)
    return np.ascontiguousarray(pairs).reshape(len(raw), 32).view("S32").ravel()


def synthetic_lines(chunk: dict[str, Any]) -> bytes:
    """The rows of ``synthetic_chunk`` as ``RequestRecord.to_row`` and ``csv.writer`` format them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def fixed(cell: Any, decimals: int) -> Any:  # f"{v / 10**decimals:.{decimals}f}", "" where not valid
        values, valid = cell if isinstance(cell, tuple) else (cell, None)
        scale = 10**decimals
        whole = pc.cast(pa.array(values // scale), pa.string())
        part = pc.utf8_lpad(pc.cast(pa.array(values % scale), pa.string()), width=decimals, padding="0")
        text = pc.binary_join_element_wise(whole, part, ".")
        return text if valid is None else pc.if_else(pa.array(valid), text, "")

    def integer(cell: Any) -> Any:
        values, valid = cell if isinstance(cell, tuple) else (cell, None)
        text = pc.cast(pa.array(values), pa.string())
        return text if valid is None else pc.if_else(pa.array(valid), text, "")

    def label(codes: Any, table: tuple[str, ...]) -> Any:
        return pa.array(table, pa.string()).take(pa.array(codes))

    cells = [
        fixed(chunk["timestamp_us"], 6),
        fixed(chunk["timestamp_us"], 6),  # intended_start_s: closed loop
        *(label(*chunk[c]) for c in ("worker", "user_class", "request_type", "name", "endpoint", "variant")),
        label(*chunk["target_model"]),
        pc.cast(pa.array(chunk["inference_id"]), pa.string()),
        integer(chunk["users"]),
        pa.repeat(pa.scalar("", pa.string()), len(chunk["users"])),  # step: not a stepped run
        *(label(*chunk[c]) for c in ("status", "error_type", "error_stage")),
        integer(chunk["http_status"]),
        fixed(chunk["latency_us"], 3),
        fixed(chunk["ttfp_us"], 3),
        fixed(chunk["ttft_us"], 3),
        integer(chunk["parts"]),
        integer(chunk["tokens"]),
        fixed(chunk["itl_mean_us"], 3),
        fixed(chunk["itl_max_us"], 3),
        integer(chunk["request_bytes"]),
        integer(chunk["response_bytes"]),
        pa.repeat(pa.scalar("0.000", pa.string()), len(chunk["users"])),  # schedule_lag_ms: closed loop
        fixed(chunk["latency_us"], 3),  # effective_latency_ms: the latency, in closed loop
    ]
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*cells, ","), "\n", "")
    offsets, data = lines.buffers()[1:3]
    first, last = np.frombuffer(offsets, dtype=np.int32)[[lines.offset, lines.offset + len(lines)]]
    return bytes(memoryview(data)[int(first) : int(last)])


def synthetic_records(chunk: dict[str, Any], rows: range) -> list[RequestRecord]:
    """Rows of ``synthetic_chunk`` as the records they stand for (what the check formats)."""

    def text(column: str, i: int) -> str:
        codes, table = chunk[column]
        return str(table[int(codes[i])])

    def optional(column: str, i: int, scale: float | None = None) -> Any:
        values, valid = chunk[column]
        if not valid[i]:
            return None
        return int(values[i]) if scale is None else int(values[i]) / scale

    records = []
    for i in rows:
        started = int(chunk["timestamp_us"][i]) / 1e6
        record = RequestRecord(
            started, started, text("worker", i), text("user_class", i), text("request_type", i),
            text("name", i), text("endpoint", i), text("variant", i) or None,
            text("target_model", i) or None, chunk["inference_id"][i].decode(), int(chunk["users"][i]),
            None, text("status", i), text("error_type", i) or None, text("error_stage", i) or None,
            optional("http_status", i), int(chunk["latency_us"][i]) / 1e3, optional("ttfp_us", i, 1e3),
            optional("ttft_us", i, 1e3), optional("parts", i), optional("tokens", i),
            optional("itl_mean_us", i, 1e3), optional("itl_max_us", i, 1e3),
            int(chunk["request_bytes"][i]), int(chunk["response_bytes"][i]),
        )  # fmt: skip
        records.append(record)
    return records


def _check_synthetic(chunk: dict[str, Any], data: bytes, rows: int = 2_000) -> None:
    """The first ``rows`` lines must be what ``csv.writer`` makes of ``RequestRecord.to_row``."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(
        r.to_row() for r in synthetic_records(chunk, range(min(rows, len(chunk["end_us"]))))
    )
    expected = text.getvalue().encode()
    if not data.startswith(expected):
        raise RuntimeError(f"selfbench {REPORT}: the synthetic rows differ from the writer's format")
