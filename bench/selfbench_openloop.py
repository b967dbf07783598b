"""``bench selfbench``'s open-loop line: the highest arrival rate one load process holds, per transport.

For each transport (boto3, fast when available) one real ``locust --headless`` process runs our tensor
user (locustfiles/selfbench_ours.py) with ``--arrival-rate`` (so on the ``select`` event loop of
``bench.plugin.timers``) against the selfbench emulator's ``bench-fast`` endpoint (256 slots, no
service time: the load process is the bottleneck, never the endpoint). Inside that process the probe
(``install_open_loop_probe`` of the locustfile) searches the rate: after a warm-up it sets the pacer's
rate (``Pacer.set_rate``), lets it settle, then measures a window and records an ``OpenLoopTrial``:

- ``scheduled``: the sends the pacer's schedule held in the window (``Pacer.due`` at its end minus at
  its start); ``sent``: the sends made in it (``Pacer.sent``). The achieved rate is compared with the
  schedule's own count, not with ``rate x window``: a Poisson window of n expected sends holds
  n +- sqrt(n) of them (about 1.4% at 5,000), a spread of the schedule, not of the generator;
- ``lag_p50_ms``, ``lag_p99_ms``, ``late``: numpy's (linear) percentiles and the count above 1 ms
  (``LATE_LAG_MS``, perf_analyzer's tolerance) of ``schedule_lag_ms`` of the requests completed in
  the window;
- ``requests``, ``cpu_s``, ``wall_s``: Locust's request count, the process's CPU time (user + system,
  every thread) and the wall clock over the window, as the closed-loop probe measures them.

A rate is **held** (``holds``) when the achieved sends are within 1% of the scheduled ones and the lag
p99 is under 1 ms. The search (``next_rate``) starts at half the transport's closed-loop throughput
(requests per wall second of its ``ours-<transport>`` measurement), multiplies the rate by ``GROW``
while every rate held, by ``SHRINK`` while none did, and once a held rate lies below a failed one
bisects (geometric mean) until they are within ``RESOLUTION`` of each other; at most ``steps`` trials
(``--open-loop-steps``, default 8). A window is ``--seconds`` / 5 (1 to 3 s, after 0.5 s to settle),
so at the default ``--seconds`` 10 a transport's search takes at most 21 s plus about 4 s to start
and stop its process, the open-loop part about 50 s; ``--quick``: 3 trials of 0.5 s.

The process runs ``--users`` users but at least ``MIN_USERS`` (64): a send made late because every
user was busy would measure the user count, not the generator (an idle user only waits on a timer).

The line reports the highest held rate (``best_trial``): target, achieved, lag p50/p99, late, requests
per CPU-second, and two ratios to the same transport's closed-loop requests per CPU-second (the
``ours-<transport>`` row of ``selfbench.csv``): ``per_cpu_ratio`` (open-loop requests per CPU-second
over closed-loop ones: what the pacing costs a request) and ``rate_ratio`` (the held rate over the
closed-loop requests per CPU-second: how much of what a core sends closed loop one process sends on
time). Issue #14's target, "the fast transport holds at least 0.8 x its closed-loop requests per
CPU-second at that precision", is PASS when both reach 0.8 and MISS otherwise (also when no rate
held); boto3 has no target.

Every trial is a row of ``selfbench-openloop.csv`` beside ``selfbench.csv`` (a file of its own, so
``selfbench.csv`` keeps its columns): ``transport, step, arrival, rate_per_s, scheduled_per_s,
achieved_per_s, scheduled, sent, requests, wall_s, cpu_s, per_cpu_s, lag_p50_ms, lag_p99_ms, late,
held`` (1/0), ``chosen`` (1 on the reported trial of each transport), ``closed_per_cpu_s``,
``per_cpu_ratio``, ``rate_ratio`` (of that trial) and ``target_ratio`` (0.8 for fast, empty for boto3).

The search and the verdict are pure (numpy and the standard library, no Locust): the locustfile's
probe imports them; ``run_open_loop`` imports the emulator and ``bench.selfbench`` when it runs.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.config import LATE_LAG_MS

if TYPE_CHECKING:
    from bench.selfbench import Measurement

OPEN_LOOP_CSV = "selfbench-openloop.csv"
TRANSPORT_ORDER = ("boto3", "fast")
RATE_TOLERANCE = 0.01  # achieved sends within 1% of the scheduled ones
LAG_P99_LIMIT_MS = LATE_LAG_MS  # lag p99 under 1 ms: fewer than 1% of sends late
FAST_TARGET_RATIO = 0.8  # issue #14: fast holds >= 0.8 x its closed-loop requests per CPU-second
GROW, SHRINK, RESOLUTION = 1.25, 0.7, 0.05
DEFAULT_STEPS = 8
MIN_RATE_PER_S = 1.0
PLAN_ENV = "BENCH_SELFBENCH_OPENLOOP_PLAN"  # the probe's plan (JSON of ``OpenLoopPlan``)
RESULT_ENV = "BENCH_SELFBENCH_OPENLOOP"  # where the probe writes its trials (JSON)
GRACE_S = 60.0  # Locust's own time limit, past the search's planned end (the probe stops the run)
MIN_USERS = 64  # users free to send (Little's L at 5,000/s and 2 ms is 10; Poisson bursts need more)


@dataclass(frozen=True)
class OpenLoopPlan:
    """What the in-process probe does: ``steps`` trials from ``start_per_s``, each ``settle_s`` after
    the rate is set and ``window_s`` long, after ``warmup_s`` at the start rate."""

    start_per_s: float
    steps: int
    warmup_s: float
    settle_s: float
    window_s: float

    @property
    def duration_s(self) -> float:
        return self.warmup_s + self.steps * (self.settle_s + self.window_s)


def plan_for(start_per_s: float, *, seconds: float, steps: int, quick: bool) -> OpenLoopPlan:
    """Windows of ``seconds / 5`` (1 to 3 s; ``--quick``: 0.5 s and at most 3 steps)."""
    if quick:
        return OpenLoopPlan(start_per_s, min(steps, 3), warmup_s=0.5, settle_s=0.25, window_s=0.5)
    window_s = min(3.0, max(1.0, seconds / 5))
    return OpenLoopPlan(start_per_s, steps, warmup_s=1.0, settle_s=0.5, window_s=window_s)


@dataclass(frozen=True)
class OpenLoopTrial:
    """One measured window of the search at ``rate_per_s`` (see the module docstring)."""

    rate_per_s: float
    scheduled: int
    sent: int
    requests: int
    wall_s: float
    cpu_s: float
    lag_p50_ms: float
    lag_p99_ms: float
    late: int

    @property
    def held(self) -> bool:
        return holds(self.scheduled, self.sent, self.lag_p99_ms)

    @property
    def achieved_per_s(self) -> float:
        return self.sent / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def scheduled_per_s(self) -> float:
        return self.scheduled / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def per_cpu_s(self) -> float:
        return self.requests / self.cpu_s if self.cpu_s > 0 else 0.0


def holds(scheduled: int, sent: int, lag_p99_ms: float) -> bool:
    """The precision verdict: sends within ``RATE_TOLERANCE`` of the schedule, lag p99 under 1 ms."""
    if scheduled <= 0 or math.isnan(lag_p99_ms):
        return False
    return abs(sent - scheduled) <= RATE_TOLERANCE * scheduled and lag_p99_ms < LAG_P99_LIMIT_MS


def measure_trial(
    rate_per_s: float,
    *,
    scheduled: int,
    sent: int,
    requests: int,
    wall_s: float,
    cpu_s: float,
    lags_ms: Sequence[float],
) -> OpenLoopTrial:
    """A window's trial from its counts and the schedule lags (ms) of its requests."""
    lags = np.asarray(lags_ms, dtype=np.float64)
    p50, p99 = (float(v) for v in np.percentile(lags, (50, 99))) if lags.size else (math.nan, math.nan)
    return OpenLoopTrial(
        rate_per_s=rate_per_s,
        scheduled=scheduled,
        sent=sent,
        requests=requests,
        wall_s=wall_s,
        cpu_s=cpu_s,
        lag_p50_ms=p50,
        lag_p99_ms=p99,
        late=int(np.count_nonzero(lags > LATE_LAG_MS)),
    )


def next_rate(start_per_s: float, trials: Sequence[OpenLoopTrial], steps: int) -> float | None:
    """The next rate to try, or None when the search is over (see the module docstring).

    ``low`` is the highest held rate, ``high`` the lowest failed rate above it: up by ``GROW`` with no
    ``high``, down by ``SHRINK`` with no ``low``, else their geometric mean until they are within
    ``RESOLUTION``. Rates are whole requests per second; a rate tried before ends the search."""
    if len(trials) >= steps:
        return None
    if not trials:
        return _rounded(start_per_s)
    held = [t.rate_per_s for t in trials if t.held]
    low = max(held) if held else None
    failed = [t.rate_per_s for t in trials if not t.held and (low is None or t.rate_per_s > low)]
    high = min(failed) if failed else None
    if low is None:
        assert high is not None
        if high <= MIN_RATE_PER_S:
            return None
        rate = _rounded(high * SHRINK)
    elif high is None:
        rate = _rounded(low * GROW)
    elif high <= low * (1 + RESOLUTION):
        return None
    else:
        rate = _rounded(math.sqrt(low * high))
    if any(t.rate_per_s == rate for t in trials):
        return None
    return rate


def best_trial(trials: Sequence[OpenLoopTrial]) -> OpenLoopTrial | None:
    """The held trial of the highest rate (the latest of that rate); None when no rate held."""
    best = None
    for trial in trials:
        if trial.held and (best is None or trial.rate_per_s >= best.rate_per_s):
            best = trial
    return best


def _rounded(rate_per_s: float) -> float:
    return float(max(MIN_RATE_PER_S, round(rate_per_s)))


@dataclass(frozen=True)
class OpenLoopResult:
    """One transport's search: its trials, the closed loop it is compared with, the issue's target."""

    transport: str
    arrival: str
    trials: tuple[OpenLoopTrial, ...]
    closed_per_cpu_s: float
    target_ratio: float | None  # the fast transport's 0.8; None: no target

    @property
    def chosen(self) -> OpenLoopTrial | None:
        return best_trial(self.trials)

    @property
    def per_cpu_ratio(self) -> float | None:
        """The chosen rate's requests per CPU-second over the closed loop's (None: no rate held)."""
        chosen = self.chosen
        if chosen is None or self.closed_per_cpu_s <= 0:
            return None
        return chosen.per_cpu_s / self.closed_per_cpu_s

    @property
    def rate_ratio(self) -> float | None:
        """The chosen rate (requests per second) over the closed loop's requests per CPU-second."""
        chosen = self.chosen
        if chosen is None or self.closed_per_cpu_s <= 0:
            return None
        return chosen.rate_per_s / self.closed_per_cpu_s

    @property
    def verdict(self) -> str | None:
        """PASS when both ratios reach ``target_ratio``, else MISS (also when no rate held); None
        without a target. The rate's ratio is at most the per-CPU one while the process uses at most a
        core (rate = per CPU-second x cores used), so PASS means the rate's ratio reached it."""
        if self.target_ratio is None:
            return None
        ratios = (self.per_cpu_ratio, self.rate_ratio)
        met = all(r is not None and r >= self.target_ratio for r in ratios)
        return "PASS" if met else "MISS"


def start_rate(closed: Measurement) -> float:
    """Half the closed-loop throughput (requests per wall second) of the same transport."""
    wall_rate = closed.requests / closed.wall_s if closed.wall_s > 0 else 0.0
    return max(MIN_RATE_PER_S, wall_rate / 2)


def run_open_loop(
    out_dir: Path,
    closed: Sequence[Measurement],
    *,
    seconds: float,
    users: int,
    steps: int = DEFAULT_STEPS,
    arrival: str = "poisson",
    quick: bool = False,
) -> list[OpenLoopResult]:
    """Search each transport's rate (one Locust process each, against an emulator of its own);
    write ``selfbench-openloop.csv`` into ``out_dir``; the results, boto3 first."""
    from bench.cpus import apart
    from bench.emulator.process import start_emulator
    from bench.selfbench import CONFIG_FILE, prepare_scratch, variants

    by_name = {m.variant: m for m in closed}
    found = {v.name: v for v in variants()}
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        env = prepare_scratch(scratch)
        with start_emulator(scratch / CONFIG_FILE) as emulator, apart(emulator.pid):
            for transport in TRANSPORT_ORDER:
                name = f"ours-{transport}"
                if name not in by_name or name not in found:
                    continue
                plan = plan_for(start_rate(by_name[name]), seconds=seconds, steps=steps, quick=quick)
                command = _command(
                    found[name].extra, emulator.url, scratch / name, plan, max(users, MIN_USERS), arrival
                )
                trials = _search(command, env, plan, scratch / f"{name}-openloop.json", name)
                result = OpenLoopResult(
                    transport=transport,
                    arrival=arrival,
                    trials=trials,
                    closed_per_cpu_s=by_name[name].per_cpu_s,
                    target_ratio=FAST_TARGET_RATIO if transport == "fast" else None,
                )
                results.append(result)
                chosen = result.chosen
                held = "no rate held" if chosen is None else f"holds {chosen.rate_per_s:,.0f}/s"
                print(f"bench selfbench: open loop {transport}: {held}", flush=True)
    write_open_loop_csv(out_dir / OPEN_LOOP_CSV, results)
    return results


def _command(
    extra: Sequence[str], url: str, reports: Path, plan: OpenLoopPlan, users: int, arrival: str
) -> list[str]:
    from bench.selfbench import OURS

    limit_s = math.ceil(plan.duration_s + GRACE_S)  # the probe stops the run before that
    return [
        str(Path(sys.executable).parent / "locust"), "-f", str(OURS), "--headless", "OursTritonUser",
        "-u", str(users), "-r", str(4 * users), "-t", f"{limit_s}s", "--host", url, "--endpoint-url", url,
        "--only-summary", "--loglevel", "WARNING", "--report-dir", str(reports), *extra,
        "--arrival-rate", f"{plan.start_per_s:g}", "--arrival", arrival,
    ]  # fmt: skip


def _search(
    command: list[str], env: dict[str, str], plan: OpenLoopPlan, out: Path, name: str
) -> tuple[OpenLoopTrial, ...]:
    child_env = {**env, "BENCH_SELFBENCH_RATE": "0", RESULT_ENV: str(out), PLAN_ENV: json.dumps(asdict(plan))}
    done = subprocess.run(command, env=child_env, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1) or not out.exists():
        raise RuntimeError(f"selfbench open loop {name} failed ({done.returncode}): {done.stderr[-2000:]}")
    return tuple(OpenLoopTrial(**trial) for trial in json.loads(out.read_text(encoding="utf-8")))


CSV_COLUMNS = (
    "transport", "step", "arrival", "rate_per_s", "scheduled_per_s", "achieved_per_s", "scheduled", "sent",
    "requests", "wall_s", "cpu_s", "per_cpu_s", "lag_p50_ms", "lag_p99_ms", "late", "held", "chosen",
    "closed_per_cpu_s", "per_cpu_ratio", "rate_ratio", "target_ratio",
)  # fmt: skip


def write_open_loop_csv(path: Path, results: Sequence[OpenLoopResult]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for result in results:
            chosen, closed = result.chosen, result.closed_per_cpu_s
            for step, trial in enumerate(result.trials, start=1):
                ratios = (
                    ["", ""]
                    if closed <= 0
                    else [f"{trial.per_cpu_s / closed:.4f}", f"{trial.rate_per_s / closed:.4f}"]
                )
                writer.writerow(
                    [
                        result.transport, step, result.arrival, f"{trial.rate_per_s:g}",
                        round(trial.scheduled_per_s, 3), round(trial.achieved_per_s, 3), trial.scheduled,
                        trial.sent, trial.requests, trial.wall_s, trial.cpu_s, round(trial.per_cpu_s, 3),
                        trial.lag_p50_ms, trial.lag_p99_ms, trial.late, int(trial.held),
                        int(trial is chosen), round(closed, 3), *ratios,
                        "" if result.target_ratio is None else result.target_ratio,
                    ]
                )  # fmt: skip


def format_open_loop(results: Sequence[OpenLoopResult]) -> str:
    """The open-loop lines of the selfbench table (one per transport, then the ratios and verdicts)."""
    if not results:
        return ""
    arrival = results[0].arrival
    lines = [
        f"open loop ({arrival}, one process; held: sends within 1% of the schedule, schedule lag p99 < 1 ms)",
        f"{'transport':<14} {'target/s':>9} {'achieved/s':>11} {'of sched':>9} {'lag p50':>8} {'lag p99':>8} "
        f"{'late':>6} {'per CPU-s':>11} {'steps':>6}",
    ]
    for result in results:
        chosen = result.chosen
        if chosen is None:
            lowest = min(result.trials, key=lambda t: t.rate_per_s, default=None)
            tried = "" if lowest is None else f" (lowest tried {lowest.rate_per_s:,.0f}/s: lag p99 "
            tried += "" if lowest is None else f"{lowest.lag_p99_ms:.2f} ms, sent {_share(lowest)})"
            lines.append(f"{result.transport:<14} no rate held{tried}")
            continue
        lines.append(
            f"{result.transport:<14} {chosen.rate_per_s:>9,.0f} {chosen.achieved_per_s:>11,.1f} "
            f"{_share(chosen):>9} {chosen.lag_p50_ms:>8.3f} {chosen.lag_p99_ms:>8.3f} {chosen.late:>6} "
            f"{chosen.per_cpu_s:>11,.0f} {len(result.trials):>6}"
        )
    lines.append("")
    for result in results:
        label = f"open / closed {result.transport}"
        if result.chosen is None:
            ratios = "-"
        else:
            ratios = (
                f"per CPU-s {_ratio(result.per_cpu_ratio)}, rate {_ratio(result.rate_ratio)} "
                f"(of {result.closed_per_cpu_s:,.0f} per CPU-s closed loop)"
            )
        verdict = "" if result.verdict is None else f"  (target >= {result.target_ratio:g}: {result.verdict})"
        lines.append(f"{label:<28} {ratios}{verdict}")
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _share(trial: OpenLoopTrial) -> str:
    return f"{100 * trial.sent / trial.scheduled:.1f}%" if trial.scheduled else "-"
