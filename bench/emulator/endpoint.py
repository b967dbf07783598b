"""One emulated Triton endpoint (kind ``triton``): the per-request logic after the shared routing checks.

Order per request, as SageMaker does it: routing checks (variant, inference component, target model)
answer ValidationError; a drawn service-level fault answers at once; a full queue throttles; the
container then decodes and validates (Triton errors become ModelError 424 with the original status);
the request holds a slot for its service time; an injected ModelError answers as a container 500
"injected fault"; else the model computes and the response carries the invoked variant.
All state is precomputed here so the per-request path stays short.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from aiohttp import web

from bench.emulator.capacity import Slots
from bench.emulator.config import EmulatorConfig, EndpointConfig
from bench.emulator.distributions import service_time_sampler
from bench.emulator.models import TritonModel
from bench.emulator.routing import (
    H_CONTENT_TYPE,
    H_INFERENCE_COMPONENT,
    H_TARGET_MODEL,
    H_TARGET_VARIANT,
    INJECTED_FAULT,
    EndpointBase,
    RoutingRefused,
    success_headers,
)
from bench.errors import WireFormatError
from bench.payload.triton_wire import decode_infer_request, json_header_size


class EndpointRuntime(EndpointBase):
    """The per-request behaviour of one configured Triton endpoint."""

    def __init__(self, config: EndpointConfig, emulator: EmulatorConfig, rng: random.Random) -> None:
        super().__init__(config, emulator, rng)
        capacity = config.capacity
        self._slots = {name: Slots(capacity.slots, capacity.queue_limit) for name in self._variant_names}
        self._service_time_s = service_time_sampler(capacity.service_time, rng)
        self._models = {m.name: TritonModel(m) for m in config.models}
        self._single_model = next(iter(self._models.values())) if len(self._models) == 1 else None

    async def invoke(self, headers: Mapping[str, str], body: bytes, request_id: str) -> web.Response:
        self.stats.requests += 1
        try:
            variant = self._variant(headers.get(H_TARGET_VARIANT))
            self._check_component(headers.get(H_INFERENCE_COMPONENT))
            model = self._model(headers.get(H_TARGET_MODEL), request_id)
        except RoutingRefused as exc:
            return self._error("ValidationError", str(exc), request_id)
        self.stats.by_variant[variant] += 1
        fault = self._draw_fault()
        if fault is not None and fault != "ModelError":
            return self._fault_response(fault, request_id)
        slots = self._slots[variant]
        if slots.full():
            return self._throttle(request_id)
        try:
            response_body, content_type = await self._container(headers, body, model, slots, fault)
        except WireFormatError as exc:
            return self._model_error(exc.status, exc.message, request_id)
        response_headers = {
            H_CONTENT_TYPE: content_type,
            **success_headers(headers, variant, request_id),
        }
        return web.Response(body=response_body, headers=response_headers)

    async def invoke_container(self, request: web.Request, body: bytes) -> web.StreamResponse:
        """``POST /invocations`` as the model container itself answers it (no SageMaker in front).

        Triton's SageMaker frontend: errors are its status with ``{"error": "..."}``; the queue never
        throttles (Triton queues); only the ModelError fault applies (a container 500).
        """
        headers = request.headers
        self.stats.requests += 1
        model = self._single_model or self._models.get(headers.get(H_TARGET_MODEL) or "")
        if model is None:
            return self._container_error(404, "Request for unknown model")
        variant = self._variant_names[0]
        self.stats.by_variant[variant] += 1
        fault = "ModelError" if self._draw_fault() == "ModelError" else None
        try:
            response_body, content_type = await self._container(
                headers, body, model, self._slots[variant], fault
            )
        except WireFormatError as exc:
            return self._container_error(exc.status, exc.message)
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

    def _model(self, target: str | None, request_id: str) -> TritonModel:
        if self._single_model is not None:
            if target is not None:
                raise RoutingRefused("not_multi_model", endpoint=self.name)
            return self._single_model
        if target is None:
            raise RoutingRefused("missing_target_model", request_id=request_id)
        model = self._models.get(target)
        if model is None:
            models = ", ".join(self._models)
            raise RoutingRefused("unknown_target_model", target=target, endpoint=self.name, models=models)
        return model
