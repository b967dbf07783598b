"""One emulated LLM endpoint (kind ``llm``): a token streamer with continuous batching.

Per request, after the shared routing checks (``routing``): a drawn service-level fault answers at
once; a full queue throttles; the container parses the body (no prompt: ModelError 424 with the
original 400); the sequence waits for a slot and holds it until its last token (``capacity.
SequenceSlots``); an injected ModelError answers as a container 500 after the ttft. Everything so far
is a normal HTTP error. Then:

- InvokeEndpointWithResponseStream: HTTP 200 (``application/vnd.amazon.eventstream``, chunked), the
  container's events as PayloadPart frames, each written when its last token is due
  (``llmstream``); a drawn stream fault replaces part ``after_parts`` (or follows the last) with a
  ModelStreamError / InternalStreamFailure frame, or closes the connection (DropConnection);
- InvokeEndpoint: the whole response (``llmformats.full_response``) once the last token is due;
- container mode (``POST /invocations``): ``"stream": true`` in the body streams the raw events
  (chunked, the container's Content-Type), else the whole response; errors are ``{"error": ...}``.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from bench.emulator import llmformats
from bench.emulator.capacity import SequenceSlots
from bench.emulator.config import EmulatorConfig, EndpointConfig, LlmConfig
from bench.emulator.distributions import service_time_sampler, token_count_sampler
from bench.emulator.llmformats import AT_ADMISSION
from bench.emulator.llmstream import (
    CONTAINER_DROPS,
    STREAM_FAULT_FRAMES,
    PlannedPart,
    TokenClock,
    drop_connection,
    plan_parts,
)
from bench.emulator.routing import (
    H_CONTENT_TYPE,
    H_INFERENCE_COMPONENT,
    H_TARGET_MODEL,
    H_TARGET_VARIANT,
    INJECTED_FAULT,
    EndpointBase,
    FaultDraw,
    LlmStats,
    RoutingRefused,
    success_headers,
)
from bench.errors import WireFormatError
from bench.payload.eventstream import exception_frame, payload_part

EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"
H_SAGEMAKER_CONTENT_TYPE = "X-Amzn-SageMaker-Content-Type"


@dataclass(frozen=True)
class _Admission:
    """A request past the service checks: what the container will generate, and where."""

    variant: str
    slots: SequenceSlots
    tokens: list[str]
    prompt_tokens: int
    fault: str | None  # "ModelError" or None


class LlmEndpointRuntime(EndpointBase):
    """The per-request behaviour of one configured LLM endpoint."""

    stats: LlmStats

    def __init__(self, config: EndpointConfig, emulator: EmulatorConfig, rng: random.Random) -> None:
        super().__init__(config, emulator, rng)
        llm = config.llm or LlmConfig()
        self._llm = llm
        capacity = config.capacity
        self._slots = {n: SequenceSlots(capacity.slots, capacity.queue_limit) for n in self._variant_names}
        self._ttft_s = service_time_sampler(llm.ttft, rng)
        self._itl_s = service_time_sampler(llm.itl, rng)
        self._output_tokens = token_count_sampler(llm.output_tokens, rng)
        self._stream_faults = FaultDraw(llm.stream_faults.rates, rng)
        self._container_type = llmformats.content_type(llm.format)

    def new_stats(self) -> LlmStats:
        return LlmStats(by_variant=dict.fromkeys(self._variant_names, 0))

    async def invoke(self, headers: Mapping[str, str], body: bytes, request_id: str) -> web.StreamResponse:
        admission = self._admit(headers, body, request_id)
        if isinstance(admission, web.Response):
            return admission
        slots = admission.slots
        clock = await self._start(slots)
        try:
            if admission.fault == "ModelError":
                await clock.wait_for(0)
                return self._model_error(500, INJECTED_FAULT, request_id)
            await clock.wait_for(len(admission.tokens) - 1)
        finally:
            slots.release()
        self.stats.tokens += len(admission.tokens)
        response_headers = {
            H_CONTENT_TYPE: "application/json",
            **success_headers(headers, admission.variant, request_id),
        }
        return web.Response(body=self._full_response(admission, request_id), headers=response_headers)

    async def invoke_stream(self, request: web.Request, body: bytes, request_id: str) -> web.StreamResponse:
        admission = self._admit(request.headers, body, request_id)
        if isinstance(admission, web.Response):
            return admission
        clock = await self._start(admission.slots)
        try:
            if admission.fault == "ModelError":
                await clock.wait_for(0)
                return self._model_error(500, INJECTED_FAULT, request_id)
            response = web.StreamResponse(
                headers={
                    H_CONTENT_TYPE: EVENTSTREAM_CONTENT_TYPE,
                    H_SAGEMAKER_CONTENT_TYPE: self._container_type,
                    **success_headers(request.headers, admission.variant, request_id),
                }
            )
            await self._stream(request, response, admission, request_id, clock, container=False)
            return response
        finally:
            admission.slots.release()

    async def invoke_container(self, request: web.Request, body: bytes) -> web.StreamResponse:
        """The container itself: ``"stream": true`` streams the raw events; errors are ``{"error": ...}``."""
        self.stats.requests += 1
        variant = self._variant_names[0]
        self.stats.by_variant[variant] += 1
        try:
            generation = llmformats.parse_request(body)
        except WireFormatError as exc:
            return self._container_error(exc.status, exc.message)
        fault = "ModelError" if self._draw_fault() == "ModelError" else None
        admission = self._generation(variant, generation, fault)
        request_id = str(uuid.uuid4())
        clock = await self._start(admission.slots)
        try:
            if admission.fault == "ModelError":
                await clock.wait_for(0)
                return self._container_error(500, INJECTED_FAULT)
            if not generation.stream:
                await clock.wait_for(len(admission.tokens) - 1)
                self.stats.tokens += len(admission.tokens)
                full = self._full_response(admission, request_id)
                return web.Response(body=full, headers={H_CONTENT_TYPE: "application/json"})
            response = web.StreamResponse(headers={H_CONTENT_TYPE: self._container_type})
            await self._stream(request, response, admission, request_id, clock, container=True)
            return response
        finally:
            admission.slots.release()

    async def _stream(
        self,
        request: web.Request,
        response: web.StreamResponse,
        admission: _Admission,
        request_id: str,
        clock: TokenClock,
        *,
        container: bool,
    ) -> None:
        """Send the headers, then each part when due, then the stream fault drawn (if any).

        Behind SageMaker each part is a PayloadPart frame and a fault an exception frame or a dropped
        connection; a bare container writes raw chunks and can only drop the connection.
        """
        response.enable_chunked_encoding()
        try:
            await clock.wait_for(AT_ADMISSION)  # the slow first byte
            await response.prepare(request)
            self.stats.streams += 1
            parts = self._plan(admission, request_id)
            fault = self._stream_faults.draw()
            if container and fault not in CONTAINER_DROPS:
                fault = None
            frame = bytes if container else payload_part
            stop_at = min(self._llm.stream_faults.after_parts, len(parts)) if fault else len(parts)
            for part in parts[:stop_at]:
                await clock.wait_for(part.token_index)
                await response.write(frame(part.data))
                self.stats.parts += 1
            if fault is None:
                self.stats.completed += 1
                return
            if stop_at < len(parts):  # the fault comes when the next part would have
                await clock.wait_for(parts[stop_at].token_index)
            self.stats.stream_faults[fault] += 1
            if fault in STREAM_FAULT_FRAMES and not container:
                exception_type, error_code, message = STREAM_FAULT_FRAMES[fault]
                await response.write(exception_frame(exception_type, message, error_code))
            else:
                drop_connection(request)
        except ConnectionError:
            self.stats.disconnects += 1

    def _admit(self, headers: Mapping[str, str], body: bytes, request_id: str) -> _Admission | web.Response:
        """Routing, service faults, throttling and request parsing: an admission or an error response."""
        self.stats.requests += 1
        try:
            variant = self._variant(headers.get(H_TARGET_VARIANT))
            self._check_component(headers.get(H_INFERENCE_COMPONENT))
            if headers.get(H_TARGET_MODEL) is not None:
                raise RoutingRefused("not_multi_model", endpoint=self.name)
        except RoutingRefused as exc:
            return self._error("ValidationError", str(exc), request_id)
        self.stats.by_variant[variant] += 1
        fault = self._draw_fault()
        if fault is not None and fault != "ModelError":
            return self._fault_response(fault, request_id)
        if self._slots[variant].full():
            return self._throttle(request_id)
        try:
            generation = llmformats.parse_request(body)
        except WireFormatError as exc:
            return self._model_error(exc.status, exc.message, request_id)
        return self._generation(variant, generation, fault)

    def _generation(
        self, variant: str, generation: llmformats.GenerationRequest, fault: str | None
    ) -> _Admission:
        count = self._output_tokens()
        if generation.max_tokens is not None:
            count = min(count, generation.max_tokens)
        return _Admission(
            variant=variant,
            slots=self._slots[variant],
            tokens=llmformats.generate_tokens(generation.prompt, count),
            prompt_tokens=llmformats.prompt_token_count(generation.prompt),
            fault=fault,
        )

    async def _start(self, slots: SequenceSlots) -> TokenClock:
        """Wait for a slot (the caller releases it); the sequence's clock starts after the slow first byte."""
        admitted_s = await slots.acquire()
        start_s = admitted_s + self._llm.stream_faults.slow_first_byte_ms / 1000.0
        return TokenClock(start_s, self._ttft_s(), self._itl_s, self._llm.itl_growth, lambda: slots.active)

    def _plan(self, admission: _Admission, request_id: str) -> list[PlannedPart]:
        llm = self._llm
        events = llmformats.timed_events(
            llm.format,
            admission.tokens,
            first_chunk=llm.first_chunk,
            usage=llm.usage,
            prompt_tokens=admission.prompt_tokens,
            model=self.name,
            completion_id=f"chatcmpl-{request_id}",
            created=int(time.time()),
        )
        self.stats.tokens += len(admission.tokens)
        return plan_parts(events, self._rng, llm.split_probability, llm.merge_probability)

    def _full_response(self, admission: _Admission, request_id: str) -> bytes:
        return llmformats.full_response(
            self._llm.format,
            admission.tokens,
            prompt_tokens=admission.prompt_tokens,
            model=self.name,
            completion_id=f"chatcmpl-{request_id}",
            created=int(time.time()),
        )
