"""Users for `bench selfbench`: the load generator's own benchmark (not a locustfile for endpoints).

- ``BareFastHttpUser``: Locust's FastHttpUser POSTing the same body, no signing, no Triton codec (the ceiling).
- ``BareBoto3User``: boto3 ``invoke_endpoint`` in a plain Locust user, the way the public samples do it,
  with the client configured as our boto3 transport configures its own (one attempt, legacy retry mode,
  the same timeouts, a pool sized to the users), so the comparison isolates our code from botocore's.
- ``BareBoto3IdUser``: the same, sending an ``InferenceId`` (``uuid4().hex``) as our users do on every
  request: the request ours sends, without our user, codec and collector.

Our own users come from locustfiles/selfbench_ours.py. ``BENCH_SELFBENCH_RATE`` (requests per second per
user, 0 = back to back) sets the wait time of every user here; ``BENCH_SELFBENCH_BODY`` is the body file.

``install_probe`` (used by both selfbench locustfiles) measures the run from inside: with
``BENCH_SELFBENCH_PROBE`` set, it waits ``BENCH_SELFBENCH_WARMUP_S`` after the test starts, then takes the
process's CPU time (user + system, every thread: ``time.process_time``), the wall clock and the request
count (and payload parts) at the start and end of a window of ``BENCH_SELFBENCH_WINDOW_S``, writes them as
JSON and stops the run. So start-up, warm-up, shut-down and the end-of-run reports stay outside.
"""

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import gevent
import locust  # noqa: F401  (first: gevent monkey-patching must precede boto3 and urllib3)
from botocore.config import Config
from locust import FastHttpUser, User, constant, constant_throughput, events, task

RATE = float(os.environ.get("BENCH_SELFBENCH_RATE", "0") or 0)
BODY = (
    Path(os.environ["BENCH_SELFBENCH_BODY"]).read_bytes() if os.environ.get("BENCH_SELFBENCH_BODY") else b"{}"
)
CONTENT_TYPE = os.environ.get("BENCH_SELFBENCH_CONTENT_TYPE", "application/json")
ENDPOINT = os.environ.get("BENCH_SELFBENCH_ENDPOINT", "bench-fast")


def install_probe(environment: Any) -> None:
    """Measure a window of the run from inside the process (see the module docstring)."""
    out = os.environ.get("BENCH_SELFBENCH_PROBE")
    if not out or environment.runner is None:
        return
    warmup_s = float(os.environ.get("BENCH_SELFBENCH_WARMUP_S", "2"))
    window_s = float(os.environ.get("BENCH_SELFBENCH_WINDOW_S", "5"))
    parts = [0]
    if os.environ.get("BENCH_SELFBENCH_PARTS") == "1":

        def count_parts(context: Any = None, **_: Any) -> None:
            parts[0] += (context or {}).get("parts") or 0

        environment.events.request.add_listener(count_parts)

    def snapshot() -> tuple[float, float, int, int]:
        return time.process_time(), time.perf_counter(), environment.stats.total.num_requests, parts[0]

    def measure() -> None:
        gevent.sleep(warmup_s)
        start = snapshot()
        gevent.sleep(window_s)
        end = snapshot()
        cpu, wall, requests, parts_seen = (b - a for a, b in zip(start, end, strict=True))
        result = {"cpu_s": cpu, "wall_s": wall, "requests": requests, "parts": parts_seen}
        Path(out).write_text(json.dumps(result), encoding="utf-8")
        environment.runner.quit()

    environment.events.test_start.add_listener(lambda **_: gevent.spawn(measure))


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    install_probe(environment)


def benchmark_wait():  # type: ignore[no-untyped-def]
    return constant_throughput(RATE) if RATE > 0 else constant(0)


class BareFastHttpUser(FastHttpUser):
    wait_time = benchmark_wait()

    @task
    def invoke(self) -> None:
        self.client.post(
            f"/endpoints/{ENDPOINT}/invocations",
            data=BODY,
            headers={"Content-Type": CONTENT_TYPE},
            name=ENDPOINT,
        )


_CLIENT = None


class BareBoto3User(User):
    wait_time = benchmark_wait()

    def on_start(self) -> None:
        global _CLIENT
        if _CLIENT is None:
            config = Config(  # as bench.transport.boto.Boto3Transport configures its client
                connect_timeout=5.0,
                read_timeout=60.0,
                retries={"total_max_attempts": 1, "mode": "legacy"},
                max_pool_connections=max(10, self.environment.parsed_options.num_users or 1),
            )
            _CLIENT = boto3.client(
                "sagemaker-runtime", endpoint_url=self.host, region_name="us-east-1", config=config
            )

    def extra(self) -> dict[str, str]:
        return {}

    @task
    def invoke(self) -> None:
        started, start_time = time.perf_counter(), time.time()
        exception = None
        length = 0
        try:
            response = _CLIENT.invoke_endpoint(
                EndpointName=ENDPOINT, Body=BODY, ContentType=CONTENT_TYPE, **self.extra()
            )
            length = len(response["Body"].read())
        except Exception as exc:  # the naive pattern: any failure is a failed sample
            exception = exc
        self.environment.events.request.fire(
            request_type="invoke", name=ENDPOINT, response_time=(time.perf_counter() - started) * 1000,
            response_length=length, exception=exception, context={}, start_time=start_time,
        )  # fmt: skip


class BareBoto3IdUser(BareBoto3User):
    def extra(self) -> dict[str, str]:
        return {"InferenceId": uuid.uuid4().hex}
