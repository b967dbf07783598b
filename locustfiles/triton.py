"""Load test a SageMaker endpoint serving NVIDIA Triton (or the built-in emulator when none is given).

    locust -f locustfiles/triton.py                       # web UI on :8089, against the emulator
    locust -f locustfiles/triton.py --headless -u 8 -r 8 -t 30s --endpoint my-triton --region us-east-1 \
        --input INPUT0:FP32:1,16 --input INPUT1:FP32:1,16

Options: `locust -f locustfiles/triton.py --help` (section "Custom arguments"), README.md.
"""

import locust  # noqa: F401  (first: gevent monkey-patching must precede boto3 and urllib3)

from bench import plugin
from bench.users import SageMakerTritonUser

plugin.install()


class TritonUser(SageMakerTritonUser):
    """Triton tensors through InvokeEndpoint (binary+json by default)."""
