"""``bench selfbench``: how much load this harness can generate, measured in one run on this machine.

Each variant runs as a real ``locust --headless`` process against one emulator (started once, its own
process, an endpoint with no service time, so the load generator is the bottleneck):

    ceiling       Locust FastHttpUser POSTing the same body (no signing, no Triton codec)
    bare-boto3    boto3 invoke_endpoint in a plain Locust user (the public samples' way)
    bare-boto3-id the same with an InferenceId on every request, as ours sends (the same request)
    ours-boto3    our tensor user, boto3 transport (codec, checks, collector included)
    ours-fast     our tensor user, fast transport (when available)
    stream-boto3  our streaming user, boto3 (parts per CPU-second)
    stream-fast   our streaming user, fast

Throughput is per CPU-second of the load-generating process, measured from inside it (the probe of
locustfiles/selfbench.py): after a warm-up (connections open, caches warm; ``--seconds``/2, 1 to 3 s) it
reads the process's CPU time (user + system, every thread), the wall clock and Locust's request count
(payload parts for streams), again ``--seconds`` later, and stops the run. Start-up, warm-up, shut-down
and our end-of-run reports (whose cost grows with the number of records) stay outside the window; the
emulator's CPU never counts. ``--trials`` (default 3) repeats that with the variants interleaved and
reports the median with the smallest and largest trial, because single figures move by up to 20-30% on
a shared 2-core machine. ``--quick`` measures one short window per variant (it checks the output, the
figures are no measurement). Latency is measured in a second, paced run at a fixed moderate rate, from
Locust's own statistics (``--json-file``; its percentiles are rounded to about two significant digits,
the same for every variant).

    master-ingest the master's side of a distributed run (issue #8: at least 50,000 records/s): rows
                  our tensor and streaming users formatted (the requests.csv of ours-boto3 and
                  stream-boto3), shipped in ``RecordShipper``-sized batches from 4 workers and
                  serialised by Locust's ``Message`` (msgpack); measured: unpacking each message,
                  ``RecordReceiver.receive`` and the rows written to a real requests.csv, in a process
                  of its own; records per CPU-second (and per wall second, printed)

    report read   ``bench report`` on a synthetic run of ``--report-rows`` requests (default 10 million,
                  a one-hour soak at about 3,000 requests/s; ``--quick``: 200,000): a requests.csv
                  byte for byte as ``CsvRecordWriter`` writes it (tensor, multi-model and stream rows
                  from four workers, about 1% errors, 32-hex-digit inference ids; checked against the
                  writer on its first rows), a run.json with a 60 s warm-up cut; ``bench report`` runs
                  in a process of its own, whose peak resident memory (``ru_maxrss``) is the report's;
                  wall and CPU seconds, rows/s and that peak against the targets (10 million rows in at
                  most 30 s and 1,500 MB), in ``report-read.csv`` beside ``selfbench.csv``. The scratch
                  directory (about 2.2 GB for 10 million rows) is deleted afterwards.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.collect.record import RequestRecord
from bench.config import TRANSPORTS, PayloadSpec, parse_tensor_spec
from bench.emulator.process import start_emulator
from bench.payload.pool import build_requests

ROOT = Path(__file__).resolve().parent.parent
BARE = ROOT / "locustfiles" / "selfbench.py"
OURS = ROOT / "locustfiles" / "selfbench_ours.py"
PROBE_GRACE_S = 60.0  # Locust's own time limit, past the probe's window (which stops the run)
INGEST = "master-ingest"
INGEST_TARGET_PER_S = 50_000.0  # issue #8: the master keeps up with at least 50,000 records/s
INGEST_RECORDS, INGEST_RECORDS_QUICK = 200_000, 20_000
INGEST_WORKERS = 4
INGEST_BATCH_ROWS = 2_500  # a worker's half-second batch (SHIP_INTERVAL_S) at 5,000 requests/s
CONFIG = """
[[endpoint]]
name = "bench-fast"
[endpoint.capacity]
slots = 256
queue_limit = 4096
service_time = { distribution = "fixed", ms = 0.0 }
[[endpoint.model]]
name = "add_sub"
type = "add_sub"
max_batch_size = 8
input = [ { name = "INPUT0", datatype = "FP32", dims = [16] }, { name = "INPUT1", datatype = "FP32", dims = [16] } ]
output = [ { name = "OUTPUT0", datatype = "FP32", dims = [16] }, { name = "OUTPUT1", datatype = "FP32", dims = [16] } ]

[[endpoint]]
name = "bench-llm"
kind = "llm"
[endpoint.capacity]
slots = 256
queue_limit = 4096
[endpoint.llm]
format = "tgi"
ttft = { distribution = "fixed", ms = 0.0 }
itl = { distribution = "fixed", ms = 0.0 }
output_tokens = { distribution = "fixed", count = 64 }
"""


@dataclass(frozen=True)
class Measurement:
    variant: str
    requests: int
    parts: int
    wall_s: float
    cpu_s: float
    per_cpu_s: (
        float  # median over trials of requests (parts for streams) per CPU-second of the load generator
    )
    per_cpu_s_min: float
    per_cpu_s_max: float
    p50_ms: float | None
    p99_ms: float | None
    target_per_cpu_s: float | None = None  # the target, where one is a rate (the ingest)


@dataclass(frozen=True)
class Variant:
    name: str
    locustfile: Path
    user_class: str
    extra: tuple[str, ...] = ()
    stream: bool = False


def variants() -> list[Variant]:
    tensor = ("--input", "INPUT0:FP32:1,16", "--input", "INPUT1:FP32:1,16", "--endpoint", "bench-fast")
    found = [
        Variant("ceiling", BARE, "BareFastHttpUser"),
        Variant("bare-boto3", BARE, "BareBoto3User"),
        Variant("bare-boto3-id", BARE, "BareBoto3IdUser"),
        Variant("ours-boto3", OURS, "OursTritonUser", (*tensor, "--transport", "boto3")),
    ]
    if "fast" in TRANSPORTS:
        found.append(Variant("ours-fast", OURS, "OursTritonUser", (*tensor, "--transport", "fast")))
    stream = ("--stream-endpoint", "bench-llm", "--endpoint", "bench-llm", "--stream-format", "tgi")
    found.append(
        Variant("stream-boto3", OURS, "OursStreamUser", (*stream, "--transport", "boto3"), stream=True)
    )
    if "fast" in TRANSPORTS:
        found.append(
            Variant("stream-fast", OURS, "OursStreamUser", (*stream, "--transport", "fast"), stream=True)
        )
    return found


def run_selfbench(
    out_dir: Path,
    *,
    seconds: float = 10.0,
    users: int = 16,
    paced_rps: float = 50.0,
    quick: bool = False,
    trials: int = 3,
) -> list[Measurement]:
    """Measure every variant and the master's ingest; write ``selfbench.csv`` into ``out_dir``; the rows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    request = build_requests(
        PayloadSpec(
            inputs=(parse_tensor_spec("INPUT0:FP32:1,16"), parse_tensor_spec("INPUT1:FP32:1,16")),
            synthetic_variants=1,
        )
    )[0]
    warmup_s = 0.5 if quick else min(3.0, max(1.0, seconds / 2))
    results = []
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        config = scratch / "selfbench.toml"
        config.write_text(CONFIG, encoding="utf-8")
        body = scratch / "body.bin"
        body.write_bytes(request.body)
        env = {
            **os.environ,
            "BENCH_SELFBENCH_BODY": str(body),
            "BENCH_SELFBENCH_CONTENT_TYPE": request.content_type,
        }
        # Every variant signs its requests (SigV4 with example credentials), as it would against AWS.
        env.update(
            AWS_EC2_METADATA_DISABLED="true",
            AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
            AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            AWS_DEFAULT_REGION="us-east-1",
        )
        with start_emulator(config) as emulator:
            runs: dict[str, list[_Run]] = {}
            for _ in range(1 if quick else trials):  # variants interleaved, so drift hits them alike
                for variant in variants():
                    run = _run(
                        variant, emulator.url, scratch, env, seconds=seconds, users=users, warmup_s=warmup_s
                    )
                    runs.setdefault(variant.name, []).append(run)
            for variant in variants():
                paced = None
                if not quick:
                    paced = _run(
                        variant,
                        emulator.url,
                        scratch,
                        env,
                        seconds=max(3.0, seconds / 2),
                        users=4,
                        rate=paced_rps / 4,
                    )
                results.append(_measurement(variant.name, runs[variant.name], paced))
                print(
                    f"bench selfbench: {variant.name}: {results[-1].per_cpu_s:,.0f} per CPU-second",
                    flush=True,
                )
        sources = [_requests_csv(scratch, name) for name in ("ours-boto3", "stream-boto3")]
        ingest = measure_ingest(
            sources, records=INGEST_RECORDS_QUICK if quick else INGEST_RECORDS, trials=1 if quick else trials
        )
        results.append(ingest)
        print(
            f"bench selfbench: {ingest.variant}: {ingest.per_cpu_s:,.0f} records per CPU-second", flush=True
        )
    write_csv(out_dir / "selfbench.csv", results)
    return results


@dataclass(frozen=True)
class _Run:
    requests: int
    parts: int
    wall_s: float
    cpu_s: float
    p50_ms: float | None = None
    p99_ms: float | None = None


def _run(
    variant: Variant,
    url: str,
    scratch: Path,
    env: dict[str, str],
    *,
    seconds: float,
    users: int,
    warmup_s: float = 0.0,
    rate: float = 0.0,
) -> _Run:
    """One Locust process. Back to back (``rate`` 0): the in-process probe measures ``seconds`` after
    ``warmup_s`` and stops the run. Paced: Locust's own statistics of the whole run (latencies)."""
    stats = scratch / f"{variant.name}-{rate:g}"
    probe = scratch / f"{variant.name}-probe.json"
    probe.unlink(missing_ok=True)
    limit = seconds if rate else warmup_s + seconds + PROBE_GRACE_S  # the probe stops it before that
    command = [
        str(Path(sys.executable).parent / "locust"), "-f", str(variant.locustfile), "--headless", variant.user_class,
        "-u", str(users), "-r", str(users), "-t", f"{math.ceil(limit)}s", "--host", url, "--json-file", str(stats),
        "--only-summary", "--loglevel", "WARNING",
    ]  # fmt: skip
    if variant.locustfile == OURS:
        command += [
            "--endpoint-url",
            url,
            "--report-dir",
            str(scratch / "reports" / variant.name),
            *variant.extra,
        ]
    child_env = {**env, "BENCH_SELFBENCH_RATE": str(rate)}
    if not rate:
        child_env.update(
            BENCH_SELFBENCH_PROBE=str(probe),
            BENCH_SELFBENCH_WARMUP_S=str(warmup_s),
            BENCH_SELFBENCH_WINDOW_S=str(seconds),
            BENCH_SELFBENCH_PARTS="1" if variant.stream else "0",
        )
    done = subprocess.run(command, env=child_env, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(
            f"selfbench variant {variant.name} failed ({done.returncode}): {done.stderr[-2000:]}"
        )
    if rate:
        entries = json.loads(Path(f"{stats}.json").read_text())
        p50, p99 = _percentiles(entries)
        requests = sum(e["num_requests"] for e in entries)
        return _Run(requests, requests, 0.0, 0.0, p50, p99)
    if not probe.exists():
        raise RuntimeError(
            f"selfbench variant {variant.name}: no measurement (stderr: {done.stderr[-2000:]})"
        )
    measured = json.loads(probe.read_text(encoding="utf-8"))
    requests = int(measured["requests"])
    parts = int(measured["parts"]) if variant.stream else requests
    return _Run(requests, parts, float(measured["wall_s"]), float(measured["cpu_s"]))


def _requests_csv(scratch: Path, variant: str) -> Path:
    """The newest requests.csv our users wrote in ``variant``'s runs."""
    found = sorted((scratch / "reports" / variant).glob("*/requests.csv"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise RuntimeError(f"selfbench: no requests.csv from {variant}")
    return found[-1]


def _percentiles(entries: list[dict[str, object]]) -> tuple[float | None, float | None]:
    """p50 and p99 from Locust's response-time histogram (rounded like Locust's own tables)."""
    histogram: dict[float, int] = {}
    for entry in entries:
        times = entry.get("response_times")
        if isinstance(times, dict):
            for key, count in times.items():
                histogram[float(key)] = histogram.get(float(key), 0) + int(count)
    total = sum(histogram.values())
    if not total:
        return None, None
    ordered = sorted(histogram.items())

    def at(q: float) -> float:
        seen = 0
        for value, count in ordered:
            seen += count
            if seen >= q * total:
                return value
        return ordered[-1][0]

    return at(0.50), at(0.99)


def _measurement(name: str, runs: list[_Run], paced: _Run | None) -> Measurement:
    """The median over trials of the units (parts for streams) per CPU-second of each measured window."""
    rates = [run.parts / run.cpu_s if run.cpu_s > 0 else 0.0 for run in runs]
    return Measurement(
        variant=name,
        requests=sum(run.requests for run in runs),
        parts=sum(run.parts for run in runs),
        wall_s=sum(run.wall_s for run in runs),
        cpu_s=sum(run.cpu_s for run in runs),
        per_cpu_s=statistics.median(rates),
        per_cpu_s_min=min(rates),
        per_cpu_s_max=max(rates),
        p50_ms=None if paced is None else paced.p50_ms,
        p99_ms=None if paced is None else paced.p99_ms,
    )


def measure_ingest(sources: list[Path], *, records: int, trials: int) -> Measurement:
    """The master's ingest in a process of its own (gevent-patched by Locust, as the master is)."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "ingest.json"
        # Locust's own message class, imported by the child (nothing in bench/ but the glue imports Locust)
        code = "from locust.rpc.protocol import Message; from bench.selfbench import ingest_main; ingest_main(Message)"
        command = [
            sys.executable,
            "-c",
            code,
            str(records),
            str(trials),
            scratch,
            str(out),
            *map(str, sources),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"selfbench ingest failed ({done.returncode}): {done.stderr[-2000:]}")
        runs = [
            _Run(r["records"], r["records"], r["wall_s"], r["cpu_s"]) for r in json.loads(out.read_text())
        ]
    return replace(_measurement(INGEST, runs, None), target_per_cpu_s=INGEST_TARGET_PER_S)


def ingest_main(message: Any) -> None:
    """``measure_ingest``'s child: argv = records, trials, scratch dir, result file, requests.csv sources;
    ``message`` is ``locust.rpc.protocol.Message``."""
    records, trials, scratch, out, *sources = sys.argv[1:]
    payloads = _worker_messages(message, [Path(s) for s in sources], int(records))
    results = []
    for trial in range(int(trials)):
        cpu, wall = _ingest(message, payloads, Path(scratch) / f"requests-{trial}.csv")
        results.append({"records": int(records), "cpu_s": cpu, "wall_s": wall})
    Path(out).write_text(json.dumps(results), encoding="utf-8")


def _worker_messages(message: Any, sources: list[Path], records: int) -> list[bytes]:
    """Records our users made (tensor and stream, interleaved), shipped as ``RecordShipper`` batches
    from ``INGEST_WORKERS`` workers and serialised as Locust's messaging does (msgpack)."""
    from bench.collect.record import COLUMNS
    from bench.collect.shipping import RECORDS_MESSAGE

    pools = []
    for source in sources:
        with source.open(newline="", encoding="utf-8") as handle:
            pools.append([row for row in csv.reader(handle)][1:])
    mixed = [row for rows in zip(*pools, strict=False) for row in rows]  # a tensor row, a stream row, ...
    if not mixed:
        raise RuntimeError("selfbench ingest: the source runs recorded no requests")
    worker = COLUMNS.index("worker")
    shipped = [_shipped_values(row) for row in mixed]
    payloads = []
    for start in range(0, records, INGEST_BATCH_ROWS):
        node = f"selfbench-worker-{(start // INGEST_BATCH_ROWS) % INGEST_WORKERS}"
        rows = []
        for i in range(start, min(records, start + INGEST_BATCH_ROWS)):
            values = list(shipped[i % len(shipped)])
            values[worker] = node
            rows.append(values)
        data = {"rows": rows, "final": False, "errors": []}
        payloads.append(message(RECORDS_MESSAGE, data, node).serialize())
    return payloads


_INTEGER_COLUMNS = ("users", "step", "http_status", "parts", "tokens", "request_bytes", "response_bytes")
_OPTIONAL_TEXT = ("variant", "target_model", "inference_id", "error_type", "error_stage")


def _shipped_values(row: list[str]) -> list[Any]:
    """A requests.csv row as a worker ships it (``RequestRecord.values``: typed, None for empty)."""
    from bench.collect.record import COLUMNS, TEXT_COLUMNS

    values: list[Any] = []
    for column, cell in zip(COLUMNS, row, strict=True):
        if column in TEXT_COLUMNS:
            values.append(None if cell == "" and column in _OPTIONAL_TEXT else cell)
        elif cell == "":
            values.append(None)
        else:
            values.append(int(cell) if column in _INTEGER_COLUMNS else float(cell))
    return values


def _ingest(message: Any, payloads: list[bytes], path: Path) -> tuple[float, float]:
    """CPU and wall seconds of the master's side: unpack each message, receive it, rows into requests.csv."""
    from bench.collect.listener import RequestCollector
    from bench.collect.shipping import RecordReceiver
    from bench.collect.writer import CsvRecordWriter

    receiver = RecordReceiver()
    collector = RequestCollector(CsvRecordWriter(path), worker="master", clock=time.time)
    receiver.begin(collector)
    cpu, wall = time.process_time(), time.perf_counter()
    for payload in payloads:
        received = message.unserialize(payload)
        receiver.receive(received.node_id, received.data)
    collector.close()
    return time.process_time() - cpu, time.perf_counter() - wall


def write_csv(path: Path, rows: list[Measurement]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([f.name for f in fields(Measurement)])
        for row in rows:
            writer.writerow([getattr(row, f.name) for f in fields(Measurement)])


def format_table(rows: list[Measurement]) -> str:
    by = {r.variant: r for r in rows}
    lines = [
        f"{'variant':<14} {'requests':>9} {'parts':>9} {'cpu s':>7} {'per CPU-s':>11} {'min..max':>17} "
        f"{'p50 ms':>7} {'p99 ms':>7}"
    ]
    for r in rows:
        if r.variant == INGEST:
            continue
        p50 = "-" if r.p50_ms is None else f"{r.p50_ms:g}"
        p99 = "-" if r.p99_ms is None else f"{r.p99_ms:g}"
        lines.append(
            f"{r.variant:<14} {r.requests:>9} {r.parts:>9} {r.cpu_s:>7.2f} {r.per_cpu_s:>11,.0f} "
            f"{f'{r.per_cpu_s_min:,.0f}..{r.per_cpu_s_max:,.0f}':>17} {p50:>7} {p99:>7}"
        )
    lines.append("")
    for label, a, b, target in (
        ("fast / ceiling", "ours-fast", "ceiling", 0.8),
        ("fast / bare boto3", "ours-fast", "bare-boto3", 4.0),
        ("ours boto3 / bare boto3", "ours-boto3", "bare-boto3", 0.95),
        ("ours boto3 / bare boto3+id", "ours-boto3", "bare-boto3-id", 0.95),
        ("stream fast / stream boto3", "stream-fast", "stream-boto3", None),
    ):
        if a in by and b in by and by[b].per_cpu_s:
            ratio = by[a].per_cpu_s / by[b].per_cpu_s
            verdict = (
                ""
                if target is None
                else f"  (target >= {target:g}: {'met' if ratio >= target else 'NOT met'})"
            )
            lines.append(f"{label:<28} {ratio:.3f}{verdict}")
    ingest = by.get(INGEST)
    if ingest is not None and ingest.target_per_cpu_s is not None:
        met = "met" if ingest.per_cpu_s_min >= ingest.target_per_cpu_s else "NOT met"
        wall = ingest.requests / ingest.wall_s if ingest.wall_s > 0 else 0.0
        lines += [
            "",
            f"{'master ingest':<28} {ingest.per_cpu_s:,.0f} records per CPU-s "
            f"({ingest.per_cpu_s_min:,.0f}..{ingest.per_cpu_s_max:,.0f}; {wall:,.0f} records/s wall) "
            f"(target >= {ingest.target_per_cpu_s:,.0f}: {met})",
        ]
    return "\n".join(lines)


# ---- report read: ``bench report`` on a large synthetic requests.csv --------------------------------

REPORT = "report-read"
REPORT_CSV = "report-read.csv"
REPORT_ROWS, REPORT_ROWS_QUICK = 10_000_000, 200_000
REPORT_TARGET_S = 30.0  # for REPORT_ROWS rows (a one-hour soak at about 3,000 requests/s)
REPORT_TARGET_MB = 1_500.0  # peak resident memory of the process running the report
REPORT_CHUNK_ROWS = 500_000
REPORT_BYTES_PER_ROW = 260  # a generous bound of a synthetic row's length (about 215 bytes on average)
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
        code = "from bench.selfbench import report_read_main; report_read_main()"
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
