"""Abstract Locust users. The only module besides the plugin and shapes that subclasses Locust types.

A user takes pre-encoded bodies from the process's workload (built by ``bench.plugin`` before the
run), times exactly one attempt of the transport, decodes and checks the response outside the
timed region, and fires one Locust ``request`` event per request: end-to-end latency as
``response_time``, everything else in ``context`` (see ``bench.collect.record`` for the fields).
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from locust import User, task
from locust.env import Environment

from bench.config import RunConfig
from bench.errors import ConfigError, DecodeError, EndpointError
from bench.payload.triton import EncodedRequest, check_outputs, decode_response
from bench.transport import Transport

_WORKLOAD_ATTRIBUTE = "bench_workload"


@dataclass
class TensorWorkload:
    """What every tensor user of one process shares: the config, encoded bodies and one transport."""

    config: RunConfig
    requests: tuple[EncodedRequest, ...]
    transport: Transport


def attach_workload(environment: Environment, workload: TensorWorkload | None) -> None:
    setattr(environment, _WORKLOAD_ATTRIBUTE, workload)


def workload_of(environment: Environment) -> TensorWorkload:
    workload = getattr(environment, _WORKLOAD_ATTRIBUTE, None)
    if workload is None:
        raise ConfigError("no workload: the locustfile must `import bench.plugin` so the harness sets one up")
    assert isinstance(workload, TensorWorkload)
    return workload


class SageMakerTritonUser(User):
    """Sends Triton tensors with InvokeEndpoint, one request per task, back to back.

    Subclass it in a locustfile (``abstract`` here); set ``wait_time`` there for think time.
    """

    abstract = True

    def on_start(self) -> None:
        self._workload = workload_of(self.environment)
        # Users start at different bodies so that a pool of distinct requests is exercised evenly.
        self._index = random.randrange(len(self._workload.requests))

    @task
    def invoke(self) -> None:
        self.send_invoke()

    def send_invoke(self) -> None:
        workload = self._workload
        request = workload.requests[self._index % len(workload.requests)]
        self._index += 1
        endpoint = workload.config.endpoint
        inference_id = uuid.uuid4().hex
        context: dict[str, Any] = {
            "user_class": type(self).__name__,
            "endpoint": endpoint.name,
            "target_model": endpoint.target_model,
            "inference_id": inference_id,
            "request_bytes": len(request.body),
        }
        exception: EndpointError | None = None
        response = None
        start_time = time.time()
        started = time.perf_counter()
        try:
            response = workload.transport.invoke(request.body, request.content_type, inference_id)
        except EndpointError as exc:
            exception = exc
        latency_ms = (time.perf_counter() - started) * 1000.0
        response_length = 0
        if response is not None:
            response_length = len(response.body)
            context["variant"] = response.variant
            context["http_status"] = response.http_status
            try:
                check_outputs(
                    decode_response(response.body, response.content_type), workload.config.payload.outputs
                )
            except DecodeError as exc:
                exception = exc
        self.environment.events.request.fire(
            request_type="invoke",
            name=endpoint.request_name,
            response_time=latency_ms,
            response_length=response_length,
            exception=exception,
            context=context,
            start_time=start_time,
            url=None,
        )
