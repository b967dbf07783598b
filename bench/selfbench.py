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

    report read   (bench.reportbench) ``bench report`` on a synthetic run of ``--report-rows`` requests (default 10 million,
                  a one-hour soak at about 3,000 requests/s; ``--quick``: 200,000): a requests.csv
                  byte for byte as ``CsvRecordWriter`` writes it (tensor, multi-model and stream rows
                  from four workers, about 1% errors, 32-hex-digit inference ids; checked against the
                  writer on its first rows), a run.json with a 60 s warm-up cut; ``bench report`` runs
                  in a process of its own, whose peak resident memory (``ru_maxrss``) is the report's;
                  wall and CPU seconds, rows/s and that peak against the targets (10 million rows in at
                  most 30 s and 1,500 MB), in ``report-read.csv`` beside ``selfbench.csv``. The scratch
                  directory (about 2.2 GB for 10 million rows) is deleted afterwards.

    open loop     (bench.selfbench_openloop) per transport, the highest ``--arrival-rate`` one process
                  holds (sends within 1% of its schedule, schedule lag p99 under 1 ms), found by a
                  bounded search in one Locust process (``--open-loop-steps``), and its requests per
                  CPU-second against the closed loop's; ``selfbench-openloop.csv`` beside this one.
"""

from __future__ import annotations

import csv
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from bench.config import TRANSPORTS, PayloadSpec, parse_tensor_spec
from bench.cpus import apart
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
CONFIG_FILE = "selfbench.toml"
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
    warmup_s = 0.5 if quick else min(3.0, max(1.0, seconds / 2))
    results = []
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        env = prepare_scratch(scratch)
        with start_emulator(scratch / CONFIG_FILE) as emulator, apart(emulator.pid):
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


def prepare_scratch(scratch: Path) -> dict[str, str]:
    """The emulator's configuration (``CONFIG_FILE``) and the request body into ``scratch``; the
    environment of the Locust children (body, content type, example AWS credentials)."""
    request = build_requests(
        PayloadSpec(
            inputs=(parse_tensor_spec("INPUT0:FP32:1,16"), parse_tensor_spec("INPUT1:FP32:1,16")),
            synthetic_variants=1,
        )
    )[0]
    (scratch / CONFIG_FILE).write_text(CONFIG, encoding="utf-8")
    body = scratch / "body.bin"
    body.write_bytes(request.body)
    # Every variant signs its requests (SigV4 with example credentials), as it would against AWS.
    return {
        **os.environ,
        "BENCH_SELFBENCH_BODY": str(body),
        "BENCH_SELFBENCH_CONTENT_TYPE": request.content_type,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


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
