"""What each process loads: the emulator must not pull in gevent or tritonclient's HTTP client."""

from __future__ import annotations

import subprocess
import sys


def test_emulator_imports_neither_gevent_nor_the_triton_http_client() -> None:
    code = (
        "import sys, bench.emulator.server, bench.emulator.process, bench.payload.triton_wire;"
        "print(sorted(m for m in ('gevent', 'locust', 'boto3', 'tritonclient.http') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
