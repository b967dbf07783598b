"""Load test SageMaker endpoints: Triton tensors and streaming LLMs (the built-in emulator when none is given).

    locust -f locustfiles/triton.py                       # web UI on :8089, both users, against the emulator
    locust -f locustfiles/triton.py --headless -u 8 -r 8 -t 30s TritonUser --endpoint my-triton \\
        --region us-east-1 --input INPUT0:FP32:1,16 --input INPUT1:FP32:1,16
    locust -f locustfiles/triton.py --headless -u 4 -r 4 -t 60s LLMStreamUser --stream-endpoint my-llm \\
        --region us-east-1 --prompt "Summarise this ticket" --stream-format tgi

Name a class on the command line (or use the web UI's class picker) to run one kind of user only.
Options: README.md ("Options"), or `bench invoke --help` (the same options; Locust prints its --help
before it loads a locustfile, so it cannot list them).
"""

import locust  # noqa: F401  (first: gevent monkey-patching must precede boto3 and urllib3)

from bench import plugin
from bench.users import SageMakerStreamingUser, SageMakerTritonUser

plugin.install()


class TritonUser(SageMakerTritonUser):
    """Triton tensors through InvokeEndpoint (binary+json by default)."""


class LLMStreamUser(SageMakerStreamingUser):
    """Prompts through InvokeEndpointWithResponseStream, with time to first part and token."""
