"""What every endpoint kind shares: routing checks, variant choice, service-level faults, error responses.

Order per request, as SageMaker does it: routing checks (variant, inference component, target model)
answer ValidationError; a drawn service-level fault answers at once (ModelError excepted: the
container answers it); a full queue throttles; then the kind's container runs.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiohttp import web

from bench.emulator import tritonmessages
from bench.emulator.awserrors import THROTTLING_MESSAGE, error_response, model_error_response
from bench.emulator.config import EmulatorConfig, EndpointConfig
from bench.emulator.llmconfig import STREAM_FAULTS
from bench.emulator.tritonmessages import error_body

H_CONTENT_TYPE = "Content-Type"
H_CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
H_TARGET_MODEL = "X-Amzn-SageMaker-Target-Model"
H_TARGET_VARIANT = "X-Amzn-SageMaker-Target-Variant"
H_INFERENCE_COMPONENT = "X-Amzn-SageMaker-Inference-Component"
H_INVOKED_VARIANT = "x-Amzn-Invoked-Production-Variant"
H_REQUEST_ID = "x-amzn-RequestId"
INJECTED_FAULT = "injected fault"

# ValidationError texts of routing checks; AWS's own wording where it is known (aws/amazon-sagemaker-examples
# issues #293, #1026, #1216), else in its style.
ROUTING_MESSAGES = {
    "unknown_variant": "Variant {target} not found for endpoint {endpoint}.",
    "component_not_allowed": (
        "Inference Component Name header is not allowed for endpoints to which you do not plan to deploy "
        "inference components. Please remove the Inference Component Name header and try again."
    ),
    "component_required": (
        "Inference Component Name header is required for endpoints to which you plan to deploy inference "
        "components. Please include Inference Component Name header or consider using SageMaker models."
    ),
    "unknown_component": "Inference Component {target} not found for endpoint {endpoint}.",
    "not_multi_model": (
        "Endpoint {endpoint} is not a multi-model endpoint and does not support target model header."
    ),
    "missing_target_model": "Request {request_id} is missing a target model header.",
    "unknown_target_model": (
        "Failed to download model data(bucket: emulator, key: {target}). Please ensure that there is an "
        "object located at the URL and that the role passed to CreateModel has permissions to download the "
        "model. (Models of endpoint {endpoint}: {models}.)"
    ),
}

# Messages of service-level faults drawn from [endpoint.faults] (not ModelError: that one is a container 500).
FAULT_MESSAGES = {
    "ValidationError": "Injected fault: the request was refused by validation.",
    "ThrottlingException": THROTTLING_MESSAGE,
    "ModelNotReadyException": "Injected fault: model for endpoint {endpoint} is not ready.",
    "InternalFailure": "Injected fault: an internal failure occurred.",
    "ServiceUnavailable": "Injected fault: the service is unavailable.",
    "InternalDependencyException": "Injected fault: an internal dependency failed.",
}


@dataclass
class EndpointStats:
    """Counters served by ``GET /_emulator/stats``."""

    requests: int = 0
    errors: int = 0
    by_variant: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"requests": self.requests, "errors": self.errors, "by_variant": dict(self.by_variant)}


@dataclass
class LlmStats(EndpointStats):
    """``EndpointStats`` plus streaming counters."""

    streams: int = 0  # streams started (HTTP 200 sent)
    completed: int = 0  # streams that sent every part
    parts: int = 0  # PayloadParts (container mode: chunks) written
    tokens: int = 0  # tokens generated, streaming or not
    disconnects: int = 0  # the client went away mid-stream
    stream_faults: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STREAM_FAULTS, 0))

    def as_json(self) -> dict[str, object]:
        counters = {"streams": self.streams, "completed": self.completed, "parts": self.parts}
        counters |= {"tokens": self.tokens, "disconnects": self.disconnects}
        return {**super().as_json(), **counters, "stream_faults": dict(self.stream_faults)}


class RoutingRefused(Exception):
    """A request refused before it reaches the container; becomes a ValidationError."""

    def __init__(self, key: str, **fields: str) -> None:
        super().__init__(ROUTING_MESSAGES[key].format(**fields))


class FaultDraw:
    """Draws one of several faults by their rates (probabilities summing to at most 1), or none."""

    def __init__(self, rates: Sequence[tuple[str, float]], rng: random.Random) -> None:
        self._names = [name for name, _ in rates]
        self._cumulative = list(itertools.accumulate(rate for _, rate in rates))
        self._rng = rng

    def draw(self) -> str | None:
        if not self._names:
            return None
        index = bisect.bisect_right(self._cumulative, self._rng.random())
        return self._names[index] if index < len(self._names) else None


def success_headers(source: Mapping[str, str], variant: str, request_id: str) -> dict[str, str]:
    """Headers of a success: invoked variant, request id, and ``source``'s custom attributes echoed
    (the request's, or the container's answer in proxy mode)."""
    headers = {H_INVOKED_VARIANT: variant, H_REQUEST_ID: request_id}
    custom_attributes = source.get(H_CUSTOM_ATTRIBUTES)
    if custom_attributes is not None:
        headers[H_CUSTOM_ATTRIBUTES] = custom_attributes
    return headers


class EndpointBase:
    """Per-request behaviour every kind shares; subclasses add ``invoke`` and their container."""

    def __init__(self, config: EndpointConfig, emulator: EmulatorConfig, rng: random.Random) -> None:
        self.name = config.name
        self.config = config
        self._account = emulator.account
        self._region = emulator.region
        self._rng = rng
        self._variant_names = [v.name for v in config.variants]
        self._cumulative = list(itertools.accumulate(v.weight for v in config.variants))
        self._faults = FaultDraw(config.faults, rng)
        self._components = frozenset(config.inference_components)
        self.stats = self.new_stats()

    def new_stats(self) -> EndpointStats:
        return EndpointStats(by_variant=dict.fromkeys(self._variant_names, 0))

    def reset(self) -> None:
        self.stats = self.new_stats()

    async def invoke(self, headers: Mapping[str, str], body: bytes, request_id: str) -> web.StreamResponse:
        raise NotImplementedError

    async def invoke_stream(self, request: web.Request, body: bytes, request_id: str) -> web.StreamResponse:
        """InvokeEndpointWithResponseStream; kinds without streaming answer ValidationError."""
        self.stats.requests += 1
        message = f"Endpoint {self.name} does not support invocations-response-stream in this emulator."
        return self._error("ValidationError", message, request_id)

    async def invoke_container(self, request: web.Request, body: bytes) -> web.StreamResponse:
        """``POST /invocations`` as the model container itself answers it (no SageMaker in front)."""
        raise NotImplementedError

    def _variant(self, target: str | None) -> str:
        if target is not None:
            if target not in self._variant_names:
                raise RoutingRefused("unknown_variant", target=target, endpoint=self.name)
            return target
        names = self._variant_names
        if len(names) == 1:
            return names[0]
        point = self._rng.random() * self._cumulative[-1]
        return names[min(bisect.bisect_right(self._cumulative, point), len(names) - 1)]

    def _check_component(self, component: str | None) -> None:
        if not self._components:
            if component is not None:
                raise RoutingRefused("component_not_allowed")
            return
        if component is None:
            raise RoutingRefused("component_required")
        if component not in self._components:
            raise RoutingRefused("unknown_component", target=component, endpoint=self.name)

    def _draw_fault(self) -> str | None:
        return self._faults.draw()

    def _fault_response(self, fault: str, request_id: str) -> web.Response:
        return self._error(fault, FAULT_MESSAGES[fault].format(endpoint=self.name), request_id)

    def _container_error(self, status: int, message: str) -> web.Response:
        """An error as the Triton container answers it: its status, ``{"error": "..."}``."""
        self.stats.errors += 1
        return web.Response(status=status, body=error_body(message), content_type="application/json")

    def _error(self, shape: str, message: str, request_id: str) -> web.Response:
        self.stats.errors += 1
        return error_response(shape, message, request_id=request_id)

    def _throttle(self, request_id: str) -> web.Response:
        return self._error("ThrottlingException", THROTTLING_MESSAGE, request_id)

    def _model_error(self, status: int, container_message: str, request_id: str) -> web.Response:
        """ModelError 424: the container answered ``status`` with ``{"error": container_message}``."""
        self.stats.errors += 1
        return model_error_response(
            original_status=status,
            original_message=tritonmessages.error_body(container_message),
            endpoint=self.name,
            account=self._account,
            region=self._region,
            request_id=request_id,
        )
