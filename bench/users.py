"""Abstract Locust users. The only module besides the plugin and shapes that subclasses Locust types.

A user takes pre-encoded bodies from the process's workload (built by ``bench.plugin`` before the
run), times exactly one attempt of the transport, decodes and checks the response outside the
timed region, and fires one Locust ``request`` event per request: end-to-end latency as
``response_time``, everything else in ``context`` (see ``bench.collect.record`` for the fields).
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent import GreenletExit
from gevent.hub import Waiter
from locust import User, task
from locust.env import Environment
from locust.exception import StopUser
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_WAITING

from bench.config import RunConfig, StreamSpec
from bench.errors import ConfigError, DecodeError, EndpointError, ModelError, Unfinished
from bench.pacer import Pacer
from bench.payload.llm import LLM_CONTENT_TYPE
from bench.payload.streams import InBandError, StreamParser
from bench.payload.triton import EncodedRequest, ResponseCheck
from bench.transport import Transport
from bench.transport.base import StreamTransport

_WORKLOAD_ATTRIBUTE = "bench_workload"
_STREAM_WORKLOAD_ATTRIBUTE = "bench_stream_workload"


@dataclass
class TensorWorkload:
    """What every tensor user of one process shares: the config, encoded bodies and one transport."""

    config: RunConfig
    requests: tuple[EncodedRequest, ...]
    transport: Transport
    check: ResponseCheck = field(init=False)  # decodes and checks responses (``--output`` specs)
    draining: bool = False  # the run is stopping: start no new request (those in flight finish)
    pacer: Pacer | None = None  # the open loop's send times (``--arrival-rate``); None: closed loop

    def __post_init__(self) -> None:
        self.check = ResponseCheck(self.config.payload.outputs)


@dataclass
class StreamWorkload:
    """What every streaming user of one process shares: the stream spec, request bodies and one transport."""

    spec: StreamSpec
    bodies: tuple[bytes, ...]
    transport: StreamTransport
    draining: bool = False  # the run is stopping: start no new request (those in flight finish)
    pacer: Pacer | None = None  # the open loop's send times (``--arrival-rate``); None: closed loop


def new_inference_id() -> str:
    """A random (version 4) UUID as 32 hex digits: ``uuid.uuid4().hex`` without the UUID object (7x cheaper)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    return raw.hex()


def attach_workload(environment: Environment, workload: TensorWorkload | StreamWorkload | None) -> None:
    name = _STREAM_WORKLOAD_ATTRIBUTE if isinstance(workload, StreamWorkload) else _WORKLOAD_ATTRIBUTE
    setattr(environment, name, workload)


SEND_PRIORITY = 2  # libev's highest watcher priority: a send due with responses pending goes first


class SendSignal:
    """What users waiting for a send time wait on (``Pacer.signal``): a timer of the highest priority,
    so that when a send falls due while responses are waiting to be read, the send goes first (measured
    at 650 req/s Poisson: 0.39-0.57% of sends late by more than 1 ms, against 0.52-2.1% on gevent's
    ordinary sleep), and an early wake-up for all of them when a rate step voids their times (``set``)."""

    def __init__(self) -> None:
        self._waiters: set[Waiter] = set()

    def set(self) -> None:
        loop = gevent.get_hub().loop
        for waiter in list(self._waiters):
            loop.run_callback(waiter.switch, None)

    def wait(self, timeout: float | None = None) -> bool:
        hub = gevent.get_hub()
        waiter = Waiter(hub)
        timer = hub.loop.timer(timeout or 0.0, priority=SEND_PRIORITY)
        timer.start(waiter.switch, None)
        self._waiters.add(waiter)
        try:
            waiter.get()
        finally:
            timer.close()
            self._waiters.discard(waiter)
        return True


def await_send_time(user: User, workload: TensorWorkload | StreamWorkload) -> float | None:
    """Open loop: take the next intended send time from the process's pacer, wait for it, and return it
    (``perf_counter``; the caller's lag is its send's ``perf_counter`` minus it). None in closed loop.

    The wait is a Locust *waiting* state: a run that stops kills a user waiting for its send time at
    once (no request, no row), while a user with a request in flight drains. A new rate (a rate step)
    voids the old rate's times from then on: a user waiting on one is woken and takes a new one.
    """
    pacer = workload.pacer
    if pacer is None:
        return None
    intended = _wait_for_a_send_time(user, pacer)
    if workload.draining:
        raise StopUser()
    pacer.sent_one()
    return intended


def _wait_for_a_send_time(user: User, pacer: Pacer) -> float:
    """The intended send time this user sends at, once it has come (taken again when a rate step voids it)."""
    while True:
        generation, signal = pacer.generation, pacer.signal
        intended = pacer.take()
        while (ahead := intended - time.perf_counter()) > 0:
            user._state = LOCUST_STATE_WAITING
            if signal is not None:
                signal.wait(ahead)  # woken early by a rate step
            else:
                gevent.sleep(ahead)
            if user._state == LOCUST_STATE_WAITING:
                user._state = LOCUST_STATE_RUNNING
            if pacer.generation != generation:
                if pacer.is_void(intended, generation):
                    break
                generation, signal = pacer.generation, pacer.signal  # before the step: still its time
        else:
            return intended


def workload_of(environment: Environment) -> TensorWorkload:
    workload = getattr(environment, _WORKLOAD_ATTRIBUTE, None)
    if not isinstance(workload, TensorWorkload):
        raise ConfigError("no tensor workload: the locustfile must call bench.plugin.install()")
    return workload


def stream_workload_of(environment: Environment) -> StreamWorkload:
    workload = getattr(environment, _STREAM_WORKLOAD_ATTRIBUTE, None)
    if not isinstance(workload, StreamWorkload):
        raise ConfigError("no stream workload: the locustfile must call bench.plugin.install()")
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
        endpoint = self._workload.config.endpoint
        self._name = endpoint.request_name  # what every request of this user carries, made once
        self._context = {
            "user_class": type(self).__name__,
            "endpoint": endpoint.name,
            "target_model": endpoint.target_model,
        }

    @task
    def invoke(self) -> None:
        self.send_invoke()

    def send_invoke(self) -> None:
        workload = self._workload
        if workload.draining:  # a user woken as the run stops would be killed mid-request
            raise StopUser()
        request = workload.requests[self._index % len(workload.requests)]
        self._index += 1
        inference_id = new_inference_id()
        context: dict[str, Any] = {
            **self._context,
            "inference_id": inference_id,
            "request_bytes": len(request.body),
        }
        intended = await_send_time(self, workload) if workload.pacer is not None else None
        exception: EndpointError | None = None
        response = None
        start_time = time.time()
        started = time.perf_counter()
        if intended is not None:  # the lag from the same clock reading as the start
            context["schedule_lag_ms"] = (started - intended) * 1000.0
        try:
            response = workload.transport.invoke(request.body, request.content_type, inference_id)
        except EndpointError as exc:
            exception = exc
        except GreenletExit:  # the run's drain is over: the request is a row all the same
            self._fire_invoke_unfinished(context, start_time, started)
            raise
        latency_ms = (time.perf_counter() - started) * 1000.0
        response_length = 0
        if response is not None:
            response_length = len(response.body)
            context["variant"] = response.variant
            context["http_status"] = response.http_status
            try:
                workload.check(response.body, response.content_type)
            except DecodeError as exc:
                exception = exc
        self.environment.events.request.fire(
            request_type="invoke",
            name=self._name,
            response_time=latency_ms,
            response_length=response_length,
            exception=exception,
            context=context,
            start_time=start_time,
            url=None,
        )

    def _fire_invoke_unfinished(self, context: dict[str, Any], start_time: float, started: float) -> None:
        self.environment.events.request.fire(
            request_type="invoke",
            name=self._name,
            response_time=(time.perf_counter() - started) * 1000.0,
            response_length=0,
            exception=Unfinished("the run ended before the response arrived (--drain)"),
            context=context,
            start_time=start_time,
            url=None,
        )


class SageMakerStreamingUser(User):
    """Streams with InvokeEndpointWithResponseStream, one request per task, back to back.

    Per request it measures (times from the call, ``perf_counter``): ``ttfp_ms`` when the first
    PayloadPart arrived; ``ttft_ms`` when the first non-empty text piece was complete (role-only or
    empty first chunks do not count); ``parts``; the gaps between consecutive parts (``itl_mean_ms``,
    ``itl_max_ms``); ``tokens`` (the server's ``usage`` when it sends one, else the non-empty text
    pieces); and end-to-end latency to the end of the stream. A failure keeps what was measured before
    it, with the stage where it happened.
    """

    abstract = True

    def on_start(self) -> None:
        self._stream_workload = stream_workload_of(self.environment)
        self._stream_index = random.randrange(len(self._stream_workload.bodies))
        self._stream_context = {
            "user_class": type(self).__name__,
            "endpoint": self._stream_workload.spec.endpoint.name,
        }

    @task
    def stream(self) -> None:
        self.send_stream()

    def send_stream(self) -> None:
        workload = self._stream_workload
        if workload.draining:
            raise StopUser()
        body = workload.bodies[self._stream_index % len(workload.bodies)]
        self._stream_index += 1
        inference_id = new_inference_id()
        context: dict[str, Any] = {
            **self._stream_context,
            "inference_id": inference_id,
            "request_bytes": len(body),
        }
        intended = await_send_time(self, workload) if workload.pacer is not None else None
        measure = _StreamMeasure(workload.spec.stream_format)
        exception: EndpointError | None = None
        start_time = time.time()
        measure.started = time.perf_counter()
        if intended is not None:
            context["schedule_lag_ms"] = (measure.started - intended) * 1000.0
        try:
            response = workload.transport.invoke_stream(body, LLM_CONTENT_TYPE, inference_id)
            context["variant"] = response.variant
            context["http_status"] = response.http_status
            measure.parser.content_type = response.content_type
            try:
                for part in response.parts:
                    measure.part(part)
                measure.finish()
            except BaseException:
                response.close()
                raise
        except EndpointError as exc:
            exception = exc
        except InBandError as exc:
            exception = ModelError(
                str(exc), stage="first_part" if measure.parts <= 1 else "mid_stream", http_status=200
            )
        except GreenletExit:  # the run's drain is over: the stream is a row, with what it measured
            stage = (
                "request"
                if "http_status" not in context
                else "first_part"
                if not measure.parts
                else "mid_stream"
            )
            exception = Unfinished("the run ended before the stream did (--drain)", stage=stage)
            self._fire_stream(workload, context, measure, exception, start_time)
            raise
        self._fire_stream(workload, context, measure, exception, start_time)

    def _fire_stream(
        self,
        workload: StreamWorkload,
        context: dict[str, Any],
        measure: _StreamMeasure,
        exception: EndpointError | None,
        start_time: float,
    ) -> None:
        latency_ms = (time.perf_counter() - measure.started) * 1000.0
        context.update(measure.fields())
        self.environment.events.request.fire(
            request_type="stream",
            name=workload.spec.endpoint.name,
            response_time=latency_ms,
            response_length=measure.response_bytes,
            exception=exception,
            context=context,
            start_time=start_time,
            url=None,
        )


class _StreamMeasure:
    """Timestamps and counts of one stream, fed part by part."""

    __slots__ = (
        "gap_max_s",
        "gap_sum_s",
        "last_s",
        "nonempty",
        "parser",
        "parts",
        "response_bytes",
        "started",
        "ttfp_s",
        "ttft_s",
    )

    def __init__(self, stream_format: str) -> None:
        self.parser = StreamParser(stream_format)
        self.started = 0.0
        self.parts = 0
        self.response_bytes = 0
        self.nonempty = 0
        self.ttfp_s: float | None = None
        self.ttft_s: float | None = None
        self.last_s = 0.0
        self.gap_sum_s = 0.0
        self.gap_max_s = 0.0

    def part(self, data: bytes) -> None:
        now = time.perf_counter()
        if self.parts == 0:
            self.ttfp_s = now - self.started
        else:
            gap = now - self.last_s
            self.gap_sum_s += gap
            self.gap_max_s = max(self.gap_max_s, gap)
        self.parts += 1
        self.response_bytes += len(data)
        self.last_s = now
        self._pieces(self.parser.feed(data), now)

    def finish(self) -> None:
        self._pieces(self.parser.finish(), self.last_s)

    def _pieces(self, pieces: list[str], now: float) -> None:
        for piece in pieces:
            if piece:
                self.nonempty += 1
                if self.ttft_s is None:
                    self.ttft_s = now - self.started

    def fields(self) -> dict[str, Any]:
        gaps = self.parts - 1
        tokens = self.parser.usage_tokens if self.parser.usage_tokens is not None else self.nonempty
        return {
            "ttfp_ms": None if self.ttfp_s is None else self.ttfp_s * 1000.0,
            "ttft_ms": None if self.ttft_s is None else self.ttft_s * 1000.0,
            "parts": self.parts,
            "tokens": tokens,
            "itl_mean_ms": self.gap_sum_s / gaps * 1000.0 if gaps > 0 else None,
            "itl_max_ms": self.gap_max_s * 1000.0 if gaps > 0 else None,
        }
