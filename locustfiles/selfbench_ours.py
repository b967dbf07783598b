"""Our users for `bench selfbench`, with the benchmark's wait time (``BENCH_SELFBENCH_RATE`` per user)
and its in-process measurement (``install_probe`` of locustfiles/selfbench.py, installed on import).

With ``BENCH_SELFBENCH_OPENLOOP`` set (an ``--arrival-rate`` run), ``install_open_loop_probe`` searches
the highest arrival rate this process holds instead (bench/selfbench_openloop.py says how): it steps
the pacer's rate, measures a window per step and writes the trials there as JSON, then stops the run.
"""

import json
import os
import time
from dataclasses import asdict
from typing import Any

import gevent
import locust  # noqa: F401  (before boto3 and urllib3: gevent monkey-patching must precede them)
import selfbench  # (the sibling locustfile, on sys.path while Locust loads: installs the probe)
from locust import events

from bench import plugin
from bench.selfbench_openloop import (
    PLAN_ENV,
    RESULT_ENV,
    OpenLoopPlan,
    OpenLoopTrial,
    measure_trial,
    next_rate,
)
from bench.users import SageMakerStreamingUser, SageMakerTritonUser, workload_of

plugin.install()


def install_open_loop_probe(environment: Any) -> None:
    """Search the rate from inside the process (see the module docstring)."""
    out = os.environ.get(RESULT_ENV)
    if not out or environment.runner is None:
        return
    plan = OpenLoopPlan(**json.loads(os.environ[PLAN_ENV]))
    lags: list[float] = []
    collecting = [False]

    def on_request(context: Any = None, **_: Any) -> None:
        if collecting[0]:
            lags.append((context or {}).get("schedule_lag_ms") or 0.0)

    environment.events.request.add_listener(on_request)

    def search() -> None:
        gevent.sleep(plan.warmup_s)
        pacer = workload_of(environment).pacer
        trials: list[OpenLoopTrial] = []
        while pacer is not None and (rate := next_rate(plan.start_per_s, trials, plan.steps)) is not None:
            pacer.set_rate(rate, time.perf_counter())
            gevent.sleep(plan.settle_s)
            lags.clear()
            collecting[0] = True
            wall, cpu = time.perf_counter(), time.process_time()
            requests, sent = environment.stats.total.num_requests, pacer.sent
            gevent.sleep(plan.window_s)
            sent, requests = pacer.sent - sent, environment.stats.total.num_requests - requests
            cpu, end = time.process_time() - cpu, time.perf_counter()
            collecting[0] = False
            scheduled = pacer.due(end) - pacer.due(wall)  # outside the CPU window
            trials.append(
                measure_trial(
                    rate, scheduled=scheduled, sent=sent, requests=requests, wall_s=end - wall,
                    cpu_s=cpu, lags_ms=lags,
                )
            )  # fmt: skip
        with open(out, "w", encoding="utf-8") as handle:
            json.dump([asdict(trial) for trial in trials], handle)
        environment.runner.quit()

    environment.events.test_start.add_listener(lambda **_: gevent.spawn(search))


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    install_open_loop_probe(environment)


class OursTritonUser(SageMakerTritonUser):
    wait_time = selfbench.benchmark_wait()


class OursStreamUser(SageMakerStreamingUser):
    wait_time = selfbench.benchmark_wait()
