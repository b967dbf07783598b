"""Our users for `bench selfbench`, with the benchmark's wait time (``BENCH_SELFBENCH_RATE`` per user)
and its in-process measurement (``install_probe`` of locustfiles/selfbench.py, installed on import)."""

import locust  # noqa: F401  (first: gevent monkey-patching must precede boto3 and urllib3)
import selfbench  # (the sibling locustfile, on sys.path while Locust loads: installs the probe)

from bench import plugin
from bench.users import SageMakerStreamingUser, SageMakerTritonUser

plugin.install()


class OursTritonUser(SageMakerTritonUser):
    wait_time = selfbench.benchmark_wait()


class OursStreamUser(SageMakerStreamingUser):
    wait_time = selfbench.benchmark_wait()
