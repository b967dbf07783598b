"""Clients of the emulator for the tests: unmodified boto3, its control routes, and one in-process Locust user."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import botocore.config
from locust.env import Environment
from support import read_requests

from bench.collect import CsvRecordWriter, RequestCollector
from bench.config import StreamSpec
from bench.emulator.process import EmulatorProcess
from bench.payload.llm import build_stream_bodies
from bench.transport.base import StreamTransport
from bench.users import SageMakerStreamingUser, StreamWorkload, attach_workload


def runtime_client(endpoint_url: str | None = None) -> Any:
    """A plain boto3 ``sagemaker-runtime`` client with dummy credentials, pointed at ``endpoint_url``.

    No retries (each call is one request on the wire) and a pool big enough for the threaded tests.
    Without a URL it still has the service model (for parsers and modeled exceptions) but sends nothing.
    """
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=botocore.config.Config(retries={"total_max_attempts": 1}, max_pool_connections=16),
    )


def emulator_stats(emulator: EmulatorProcess) -> dict[str, Any]:
    """``GET /_emulator/stats``: the emulator's counters since it started (or since the last reset)."""
    with urllib.request.urlopen(f"{emulator.url}/_emulator/stats", timeout=5) as response:
        return dict(json.load(response))


def reset_emulator(emulator: EmulatorProcess) -> None:
    """``POST /_emulator/reset``: every counter back to zero."""
    request = urllib.request.Request(f"{emulator.url}/_emulator/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=5):
        pass


class _Streamer(SageMakerStreamingUser):
    pass


def run_streaming_user(
    spec: StreamSpec,
    transport: StreamTransport,
    csv_path: Path,
    *,
    count: int = 1,
    body_format: str | None = None,
) -> list[dict[str, str]]:
    """One streaming user in a real Locust Environment: ``count`` streams, then the rows of its CSV.

    The request bodies are built for ``body_format`` (default: the spec's stream format). The caller
    owns the transport and closes it.
    """
    environment = Environment(user_classes=[_Streamer])
    bodies = build_stream_bodies(spec.prompts, None, body_format or spec.stream_format, spec.max_tokens)
    attach_workload(environment, StreamWorkload(spec, bodies, transport))
    collector = RequestCollector(CsvRecordWriter(csv_path), users=lambda: 1, clock=time.time)
    environment.events.request.add_listener(collector.on_request)
    user = _Streamer(environment)
    user.on_start()
    for _ in range(count):
        user.send_stream()
    collector.close()
    return read_requests(csv_path)
