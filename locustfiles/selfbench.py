"""Users for `bench selfbench`: the load generator's own benchmark (not a locustfile for endpoints).

- ``BareFastHttpUser``: Locust's FastHttpUser POSTing the same body, no signing, no Triton codec (the ceiling).
- ``BareBoto3User``: boto3 ``invoke_endpoint`` in a plain Locust user, the way the public samples do it.

Our own users come from locustfiles/triton.py. ``BENCH_SELFBENCH_RATE`` (requests per second per user,
0 = back to back) sets the wait time of every user here; ``BENCH_SELFBENCH_BODY`` is the body file.
"""

import os
import time
from pathlib import Path

import boto3
import locust  # noqa: F401  (first: gevent monkey-patching must precede boto3 and urllib3)
from botocore.config import Config
from locust import FastHttpUser, User, constant, constant_throughput, task

RATE = float(os.environ.get("BENCH_SELFBENCH_RATE", "0") or 0)
BODY = (
    Path(os.environ["BENCH_SELFBENCH_BODY"]).read_bytes() if os.environ.get("BENCH_SELFBENCH_BODY") else b"{}"
)
CONTENT_TYPE = os.environ.get("BENCH_SELFBENCH_CONTENT_TYPE", "application/json")
ENDPOINT = os.environ.get("BENCH_SELFBENCH_ENDPOINT", "bench-fast")


def _wait():  # type: ignore[no-untyped-def]
    return constant_throughput(RATE) if RATE > 0 else constant(0)


class BareFastHttpUser(FastHttpUser):
    wait_time = _wait()

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
    wait_time = _wait()

    def on_start(self) -> None:
        global _CLIENT
        if _CLIENT is None:
            config = Config(retries={"total_max_attempts": 1}, max_pool_connections=64)
            _CLIENT = boto3.client(
                "sagemaker-runtime", endpoint_url=self.host, region_name="us-east-1", config=config
            )

    @task
    def invoke(self) -> None:
        started, start_time = time.perf_counter(), time.time()
        exception = None
        length = 0
        try:
            response = _CLIENT.invoke_endpoint(EndpointName=ENDPOINT, Body=BODY, ContentType=CONTENT_TYPE)
            length = len(response["Body"].read())
        except Exception as exc:  # the naive pattern: any failure is a failed sample
            exception = exc
        self.environment.events.request.fire(
            request_type="invoke", name=ENDPOINT, response_time=(time.perf_counter() - started) * 1000,
            response_length=length, exception=exception, context={}, start_time=start_time,
        )  # fmt: skip
