"""``bench selfbench``: how much load this harness can generate, measured in one run on this machine.

Each variant runs as a real ``locust --headless`` process against one emulator (started once, its own
process, an endpoint with no service time, so the load generator is the bottleneck):

    ceiling       Locust FastHttpUser POSTing the same body (no signing, no Triton codec)
    bare-boto3    boto3 invoke_endpoint in a plain Locust user (the public samples' way)
    ours-boto3    our tensor user, boto3 transport (codec, checks, collector included)
    ours-fast     our tensor user, fast transport (when available)
    stream-boto3  our streaming user, boto3 (parts per CPU-second)
    stream-fast   our streaming user, fast

Throughput is per CPU-second of the load-generating process (its user + system CPU time, from
``getrusage`` of the finished child), so it does not depend on how busy the emulator was. Each variant
runs twice, for T and 2T seconds, and the rate is the difference: (requests of the long run - of the
short run) / (CPU of the long run - of the short run), which cancels Locust's start-up and shut-down
CPU. ``--trials`` (default 3) repeats that with the variants interleaved and reports the median, with
the smallest and largest trial, because single figures move by up to 30% on a shared 2-core machine.
``--quick`` runs once (the figure then includes start-up: it checks the output, it is no measurement). Latency is
measured in a second, paced run at a fixed moderate rate, from Locust's own statistics (``--json-file``;
its percentiles are rounded to about two significant digits, the same for every variant).
"""

from __future__ import annotations

import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path

from bench.config import TRANSPORTS, PayloadSpec, parse_tensor_spec
from bench.emulator.process import start_emulator
from bench.payload.pool import build_requests

ROOT = Path(__file__).resolve().parent.parent
BARE = ROOT / "locustfiles" / "selfbench.py"
OURS = ROOT / "locustfiles" / "selfbench_ours.py"
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
    """Measure every variant; write ``selfbench.csv`` into ``out_dir`` and return the rows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    request = build_requests(
        PayloadSpec(
            inputs=(parse_tensor_spec("INPUT0:FP32:1,16"), parse_tensor_spec("INPUT1:FP32:1,16")),
            synthetic_variants=1,
        )
    )[0]
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "selfbench.toml"
        config.write_text(CONFIG, encoding="utf-8")
        body = Path(scratch) / "body.bin"
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
            runs: dict[str, list[tuple[_Run, _Run | None]]] = {}
            for _ in range(1 if quick else trials):  # variants interleaved, so drift hits them alike
                for variant in variants():
                    short = _run(
                        variant, emulator.url, Path(scratch), env, seconds=seconds, users=users, rate=0.0
                    )
                    long = None
                    if not quick:
                        long = _run(
                            variant,
                            emulator.url,
                            Path(scratch),
                            env,
                            seconds=2 * seconds,
                            users=users,
                            rate=0.0,
                        )
                    runs.setdefault(variant.name, []).append((short, long))
            for variant in variants():
                pairs = runs[variant.name]
                paced = pairs[0][0]
                if not quick:
                    pace = paced_rps / 4
                    paced = _run(
                        variant,
                        emulator.url,
                        Path(scratch),
                        env,
                        seconds=max(3.0, seconds / 2),
                        users=4,
                        rate=pace,
                    )
                results.append(_measurement(variant, pairs, paced))
                print(
                    f"bench selfbench: {variant.name}: {results[-1].per_cpu_s:,.0f} per CPU-second",
                    flush=True,
                )
    write_csv(out_dir / "selfbench.csv", results)
    return results


@dataclass(frozen=True)
class _Run:
    requests: int
    parts: int
    wall_s: float
    cpu_s: float
    p50_ms: float | None
    p99_ms: float | None


def _run(
    variant: Variant, url: str, scratch: Path, env: dict[str, str], *, seconds: float, users: int, rate: float
) -> _Run:
    stats = scratch / f"{variant.name}-{rate:g}"
    command = [
        str(Path(sys.executable).parent / "locust"), "-f", str(variant.locustfile), "--headless", variant.user_class,
        "-u", str(users), "-r", str(users), "-t", f"{seconds:g}s", "--host", url, "--json-file", str(stats),
        "--only-summary", "--loglevel", "WARNING",
    ]  # fmt: skip
    if variant.locustfile == OURS:
        command += ["--endpoint-url", url, "--report-dir", str(scratch / "reports"), *variant.extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        command, env={**env, "BENCH_SELFBENCH_RATE": str(rate)}, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise RuntimeError(
            f"selfbench variant {variant.name} failed ({done.returncode}): {done.stderr[-2000:]}"
        )
    entries = json.loads(Path(f"{stats}.json").read_text())
    requests = sum(e["num_requests"] for e in entries)
    parts = _parts(scratch / "reports") if variant.stream else requests
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    p50, p99 = _percentiles(entries)
    return _Run(requests, parts, wall, cpu, p50, p99)


def _parts(reports: Path) -> int:
    """Payload parts of the newest run (the streaming user records them per stream)."""
    newest = max(reports.iterdir(), key=lambda p: p.stat().st_mtime)
    with (newest / "requests.csv").open(newline="") as handle:
        return sum(int(row["parts"] or 0) for row in csv.DictReader(handle))


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


def _measurement(variant: Variant, pairs: list[tuple[_Run, _Run | None]], paced: _Run) -> Measurement:
    """The median over trials of the rate from the difference of each trial's two runs."""

    def units(run: _Run) -> int:
        return run.parts if variant.stream else run.requests

    rates, requests, parts, cpu, wall = [], 0, 0, 0.0, 0.0
    for short, long in pairs:
        if long is None:  # quick: one run, start-up included
            count, spent = units(short), short.cpu_s
            requests, parts, cpu, wall = (
                requests + short.requests,
                parts + short.parts,
                cpu + spent,
                wall + short.wall_s,
            )
        else:
            count, spent = units(long) - units(short), long.cpu_s - short.cpu_s
            requests += long.requests - short.requests
            parts += long.parts - short.parts
            cpu, wall = cpu + spent, wall + long.wall_s - short.wall_s
        rates.append(count / spent if spent > 0 else 0.0)
    return Measurement(
        variant=variant.name,
        requests=requests,
        parts=parts,
        wall_s=wall,
        cpu_s=cpu,
        per_cpu_s=statistics.median(rates),
        per_cpu_s_min=min(rates),
        per_cpu_s_max=max(rates),
        p50_ms=paced.p50_ms,
        p99_ms=paced.p99_ms,
    )


def write_csv(path: Path, rows: list[Measurement]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([f.name for f in fields(Measurement)])
        for row in rows:
            writer.writerow([getattr(row, f.name) for f in fields(Measurement)])


def format_table(rows: list[Measurement]) -> str:
    by = {r.variant: r for r in rows}
    lines = [
        f"{'variant':<14} {'requests':>9} {'parts':>9} {'cpu s':>7} {'per CPU-s':>11} {'p50 ms':>7} {'p99 ms':>7}"
    ]
    for r in rows:
        p50 = "-" if r.p50_ms is None else f"{r.p50_ms:g}"
        p99 = "-" if r.p99_ms is None else f"{r.p99_ms:g}"
        lines.append(
            f"{r.variant:<14} {r.requests:>9} {r.parts:>9} {r.cpu_s:>7.2f} {r.per_cpu_s:>11,.0f} "
            f"{f'{r.per_cpu_s_min:,.0f}..{r.per_cpu_s_max:,.0f}':>17} {p50:>7} {p99:>7}"
        )
    lines.append("")
    for label, a, b in (
        ("fast / ceiling", "ours-fast", "ceiling"),
        ("fast / bare boto3", "ours-fast", "bare-boto3"),
        ("ours boto3 / bare boto3", "ours-boto3", "bare-boto3"),
        ("stream fast / stream boto3", "stream-fast", "stream-boto3"),
    ):
        if a in by and b in by and by[b].per_cpu_s:
            lines.append(f"{label:<28} {by[a].per_cpu_s / by[b].per_cpu_s:.2f}")
    return "\n".join(lines)
