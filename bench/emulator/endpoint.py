"""One emulated endpoint: routing headers, variants, faults, capacity and the model, per request.

Order per request, as SageMaker does it: routing checks (variant, inference component, target model)
answer ValidationError; a drawn service-level fault answers at once; a full queue throttles; the
container then decodes and validates (Triton errors become ModelError 424 with the original status);
the request holds a slot for its service time; an injected ModelError answers as a container 500
"injected fault"; else the model computes and the response carries the invoked variant.
All state is precomputed here so the per-request path stays short.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from bench.emulator import tritonmessages
from bench.emulator.awserrors import THROTTLING_MESSAGE, error_response, model_error_response
from bench.emulator.capacity import Slots, service_time_sampler
from bench.emulator.config import EmulatorConfig, EndpointConfig
from bench.emulator.models import TritonModel
from bench.errors import WireFormatError
from bench.payload.triton_wire import decode_infer_request, json_header_size

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


class _Refused(Exception):
    """A request refused before it reaches the container; becomes a ValidationError."""

    def __init__(self, key: str, **fields: str) -> None:
        super().__init__(ROUTING_MESSAGES[key].format(**fields))


class EndpointRuntime:
    """The per-request behaviour of one configured endpoint."""

    def __init__(self, config: EndpointConfig, emulator: EmulatorConfig, rng: random.Random) -> None:
        self.name = config.name
        self.config = config
        self._account = emulator.account
        self._region = emulator.region
        self._rng = rng
        self._variant_names = [v.name for v in config.variants]
        self._cumulative = list(itertools.accumulate(v.weight for v in config.variants))
        capacity = config.capacity
        self._slots = {name: Slots(capacity.slots, capacity.queue_limit) for name in self._variant_names}
        self._service_time_s = service_time_sampler(capacity.service_time, rng)
        self._fault_shapes = [shape for shape, _ in config.faults]
        self._fault_cumulative = list(itertools.accumulate(rate for _, rate in config.faults))
        self._models = {m.name: TritonModel(m) for m in config.models}
        self._single_model = next(iter(self._models.values())) if len(self._models) == 1 else None
        self._components = frozenset(config.inference_components)
        self.stats = EndpointStats(by_variant=dict.fromkeys(self._variant_names, 0))

    def reset(self) -> None:
        self.stats = EndpointStats(by_variant=dict.fromkeys(self._variant_names, 0))

    async def invoke(self, headers: Mapping[str, str], body: bytes, request_id: str) -> web.Response:
        self.stats.requests += 1
        try:
            variant = self._variant(headers.get(H_TARGET_VARIANT))
            self._check_component(headers.get(H_INFERENCE_COMPONENT))
            model = self._model(headers.get(H_TARGET_MODEL), request_id)
        except _Refused as exc:
            return self._error("ValidationError", str(exc), request_id)
        self.stats.by_variant[variant] += 1
        fault = self._draw_fault()
        if fault is not None and fault != "ModelError":
            return self._error(fault, FAULT_MESSAGES[fault].format(endpoint=self.name), request_id)
        slots = self._slots[variant]
        if slots.full():
            return self._error("ThrottlingException", THROTTLING_MESSAGE, request_id)
        try:
            response_body, content_type = await self._container(headers, body, model, slots, fault)
        except WireFormatError as exc:
            return self._model_error(exc.status, exc.message, request_id)
        response_headers = {
            H_CONTENT_TYPE: content_type,
            H_INVOKED_VARIANT: variant,
            H_REQUEST_ID: request_id,
        }
        custom_attributes = headers.get(H_CUSTOM_ATTRIBUTES)
        if custom_attributes is not None:
            response_headers[H_CUSTOM_ATTRIBUTES] = custom_attributes
        return web.Response(body=response_body, headers=response_headers)

    async def invoke_container(self, headers: Mapping[str, str], body: bytes) -> web.Response:
        """``POST /invocations`` as the model container itself answers it (no SageMaker in front).

        Triton's SageMaker frontend: errors are its status with ``{"error": "..."}``; the queue never
        throttles (Triton queues); only the ModelError fault applies (a container 500).
        """
        self.stats.requests += 1
        model = self._single_model or self._models.get(headers.get(H_TARGET_MODEL) or "")
        if model is None:
            self.stats.errors += 1
            return web.json_response({"error": "Request for unknown model"}, status=404)
        variant = self._variant_names[0]
        self.stats.by_variant[variant] += 1
        fault = "ModelError" if self._draw_fault() == "ModelError" else None
        try:
            response_body, content_type = await self._container(
                headers, body, model, self._slots[variant], fault
            )
        except WireFormatError as exc:
            self.stats.errors += 1
            return web.Response(
                status=exc.status,
                body=tritonmessages.error_body(exc.message),
                content_type="application/json",
            )
        return web.Response(body=response_body, headers={H_CONTENT_TYPE: content_type})

    async def _container(
        self, headers: Mapping[str, str], body: bytes, model: TritonModel, slots: Slots, fault: str | None
    ) -> tuple[bytes, str]:
        """What the container does: decode and validate, hold a slot for the service time, compute.

        Raises WireFormatError (Triton's status and message) for a bad request or an injected fault.
        """
        header_size = json_header_size(headers.get(H_CONTENT_TYPE), len(body))
        request = decode_infer_request(body, header_size, model_name=model.name)
        model.validate(request)
        await slots.run(self._service_time_s())
        if fault == "ModelError":
            raise WireFormatError(INJECTED_FAULT, status=500)
        return model.infer(request)

    def _variant(self, target: str | None) -> str:
        if target is not None:
            if target not in self._slots:
                raise _Refused("unknown_variant", target=target, endpoint=self.name)
            return target
        names = self._variant_names
        if len(names) == 1:
            return names[0]
        point = self._rng.random() * self._cumulative[-1]
        return names[min(bisect.bisect_right(self._cumulative, point), len(names) - 1)]

    def _check_component(self, component: str | None) -> None:
        if not self._components:
            if component is not None:
                raise _Refused("component_not_allowed")
            return
        if component is None:
            raise _Refused("component_required")
        if component not in self._components:
            raise _Refused("unknown_component", target=component, endpoint=self.name)

    def _model(self, target: str | None, request_id: str) -> TritonModel:
        if self._single_model is not None:
            if target is not None:
                raise _Refused("not_multi_model", endpoint=self.name)
            return self._single_model
        if target is None:
            raise _Refused("missing_target_model", request_id=request_id)
        model = self._models.get(target)
        if model is None:
            models = ", ".join(self._models)
            raise _Refused("unknown_target_model", target=target, endpoint=self.name, models=models)
        return model

    def _draw_fault(self) -> str | None:
        if not self._fault_shapes:
            return None
        index = bisect.bisect_right(self._fault_cumulative, self._rng.random())
        return self._fault_shapes[index] if index < len(self._fault_shapes) else None

    def _error(self, shape: str, message: str, request_id: str) -> web.Response:
        self.stats.errors += 1
        return error_response(shape, message, request_id=request_id)

    def _model_error(self, status: int, triton_message: str, request_id: str) -> web.Response:
        self.stats.errors += 1
        return model_error_response(
            original_status=status,
            original_message=tritonmessages.error_body(triton_message),
            endpoint=self.name,
            account=self._account,
            region=self._region,
            request_id=request_id,
        )
