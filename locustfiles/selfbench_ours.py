"""Our users for `bench selfbench`, with the benchmark's wait time (``BENCH_SELFBENCH_RATE`` per user)
and its in-process measurement (``install_probe`` of locustfiles/selfbench.py, installed on import)."""

import os

import locust  # noqa: F401  (first: gevent monkey-patching must precede boto3 and urllib3)
import selfbench  # noqa: F401  (the sibling locustfile, on sys.path while Locust loads: installs the probe)
from locust import constant, constant_throughput

from bench import plugin
from bench.users import SageMakerStreamingUser, SageMakerTritonUser

plugin.install()

RATE = float(os.environ.get("BENCH_SELFBENCH_RATE", "0") or 0)


class OursTritonUser(SageMakerTritonUser):
    wait_time = constant_throughput(RATE) if RATE > 0 else constant(0)


class OursStreamUser(SageMakerStreamingUser):
    wait_time = constant_throughput(RATE) if RATE > 0 else constant(0)
