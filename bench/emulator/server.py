"""The aiohttp application and the process entry points.

Routes (PROTOCOLS.md 1.2): ``POST /endpoints/{name}/invocations`` (InvokeEndpoint),
``POST /endpoints/{name}/invocations-response-stream`` (InvokeEndpointWithResponseStream: kind llm
streams, kind triton answers ValidationError like Triton's SageMaker frontend, which has no
streaming), ``GET /ping``, ``GET /_emulator/stats``, ``GET /_emulator/last-requests`` and
``POST /_emulator/reset`` (test helpers; requests are logged only with ``record_requests=N``), and
``POST /_emulator/stall?endpoint=NAME&seconds=S`` (a test helper: every slot of every variant of that
endpoint is held for S seconds from now, so requests arriving meanwhile queue, ``capacity``). With
``container=NAME`` it also answers ``POST /invocations`` as that endpoint's model container would
(the SageMaker container contract, for ``--container-url``). The async operation answers
ValidationError. With ``upstream=URL`` (proxy mode, ``proxy``) both invoke operations and ``/ping`` go
to that model container instead of the configured endpoints. With ``verify_sigv4`` every SageMaker API
request must carry a valid SigV4 signature (``sigv4``).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import math
import os
import random
import signal
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.emulator.awserrors import (
    constraint_violations,
    error_response,
    length_violation,
    pattern_violation,
)
from bench.emulator.capacity import SequenceSlots, Slots
from bench.emulator.config import ENDPOINT_NAME_MAX, ENDPOINT_NAME_PATTERN, EmulatorConfig, load_config
from bench.emulator.endpoint import EndpointRuntime
from bench.emulator.llmendpoint import LlmEndpointRuntime
from bench.emulator.process import PARENT_PID_ENV
from bench.emulator.proxy import (
    CONNECT_TIMEOUT_S,
    CONNECTION_LIMIT,
    PROXY_ENDPOINT_NAME,
    PROXY_KEY,
    READ_TIMEOUT_S,
    UpstreamProxy,
)
from bench.emulator.render import render_toml
from bench.emulator.routing import EndpointBase
from bench.emulator.sigv4 import Handler, SigV4Verifier, sigv4_middleware
from bench.errors import ConfigError

MAX_BODY_BYTES = 6_291_456  # InvokeEndpoint Body max (PROTOCOLS.md 1.3)
CLIENT_MAX_SIZE = 16 * 1024 * 1024  # read bodies past the limit, then refuse them with ValidationError
LISTEN_BACKLOG = 2048
_ENDPOINT_NAME_REGEX = ENDPOINT_NAME_PATTERN.pattern.removesuffix("$")  # as AWS quotes it
# Request header -> (member name in AWS messages, max length, sensitive): checked like the service does.
_HEADER_LIMITS = (
    ("Content-Type", "contentType", 1024, False),
    ("Accept", "accept", 1024, False),
    ("X-Amzn-SageMaker-Custom-Attributes", "customAttributes", 1024, True),
    ("X-Amzn-SageMaker-Target-Model", "targetModel", 1024, False),
    ("X-Amzn-SageMaker-Target-Variant", "targetVariant", 63, False),
    ("X-Amzn-SageMaker-Inference-Id", "inferenceId", 64, False),
    ("X-Amzn-SageMaker-Inference-Component", "inferenceComponentName", 63, False),
)


# The runtime class of each endpoint kind (``config._KIND_READERS`` reads their keys).
RUNTIMES: dict[str, type[EndpointBase]] = {"triton": EndpointRuntime, "llm": LlmEndpointRuntime}


class EmulatorState:
    """Endpoints by name and the request counter; one per application."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        rng_of = (lambda name: random.Random(f"{config.seed}:{name}")) if config.seed is not None else None
        self.endpoints = {
            e.name: RUNTIMES[e.kind](e, config, rng_of(e.name) if rng_of else random.Random())
            for e in config.endpoints
        }
        self.requests = 0

    def stats(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "by_endpoint": {name: e.stats.as_json() for name, e in self.endpoints.items()},
        }

    def reset(self) -> None:
        self.requests = 0
        for endpoint in self.endpoints.values():
            endpoint.reset()


class RequestLog:
    """The last ``size`` requests as received (method, raw path, header lines, body sha256), for tests."""

    def __init__(self, size: int) -> None:
        self.entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=size)

    def middleware(self) -> Any:
        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            if not request.path.startswith("/_emulator/"):
                too_large = (request.content_length or 0) > CLIENT_MAX_SIZE  # left for the handler to refuse
                digest = None if too_large else hashlib.sha256(await request.read()).hexdigest()
                self.entries.append(
                    {
                        "method": request.method,
                        "path": request.raw_path,
                        "headers": [
                            [k.decode("latin-1"), v.decode("latin-1")] for k, v in request.raw_headers
                        ],
                        "body_sha256": digest,
                    }
                )
            return await handler(request)

        return record


STATE_KEY = web.AppKey("bench_emulator_state", EmulatorState)
CONTAINER_KEY = web.AppKey("bench_emulator_container", str)
LOG_KEY = web.AppKey("bench_emulator_request_log", RequestLog)


def build_app(
    config: EmulatorConfig,
    *,
    container: str | None = None,
    upstream: str | None = None,
    upstream_stream_path: str | None = None,
    upstream_connect_timeout_s: float = CONNECT_TIMEOUT_S,
    upstream_read_timeout_s: float = READ_TIMEOUT_S,
    upstream_connection_limit: int = CONNECTION_LIMIT,
    verify_sigv4: bool = False,
    sigv4_credentials: Mapping[str, str] | None = None,
    record_requests: int = 0,
) -> web.Application:
    """The emulator as an aiohttp application (no access log is attached here; see ``serve``).

    ``upstream``: proxy mode, every endpoint is the container at that URL (``proxy.UpstreamProxy``);
    the configuration then only gives the account and region of error texts.
    ``verify_sigv4``: refuse SageMaker API requests without a valid signature by one of
    ``sigv4_credentials`` (access key -> secret; default ``sigv4.DEFAULT_CREDENTIALS``) for the
    configured region. ``record_requests=N``: keep the last N requests for ``/_emulator/last-requests``.
    """
    middlewares = []
    log = RequestLog(record_requests) if record_requests > 0 else None
    if log is not None:
        middlewares.append(log.middleware())
    if verify_sigv4:
        middlewares.append(sigv4_middleware(SigV4Verifier(sigv4_credentials, region=config.region)))
    app = web.Application(client_max_size=CLIENT_MAX_SIZE, middlewares=middlewares)
    if log is not None:
        app[LOG_KEY] = log
    if upstream is not None:
        if container is not None:
            raise ConfigError("--container and --upstream exclude each other; give one of them")
        proxy = UpstreamProxy(
            upstream,
            account=config.account,
            region=config.region,
            stream_path=upstream_stream_path,
            connect_timeout_s=upstream_connect_timeout_s,
            read_timeout_s=upstream_read_timeout_s,
            connection_limit=upstream_connection_limit,
        )
        app[PROXY_KEY] = proxy
        app.cleanup_ctx.append(proxy.session_context)
        config = dataclasses.replace(config, endpoints=())
    state = EmulatorState(config)
    app[STATE_KEY] = state
    if container is not None:
        if container not in state.endpoints:
            raise ConfigError(
                f"--container {container}: no such endpoint; choose one of {', '.join(config.endpoint_names)}"
            )
        app[CONTAINER_KEY] = container
        app.router.add_post("/invocations", _container_invoke)
    app.router.add_post("/endpoints/{name}/invocations", _invoke)
    app.router.add_post("/endpoints/{name}/invocations-response-stream", _invoke)
    app.router.add_post("/endpoints/{name}/{operation:async-invocations}", _unsupported)
    app.router.add_get("/ping", _ping)
    app.router.add_get("/_emulator/stats", _stats)
    app.router.add_post("/_emulator/reset", _reset)
    app.router.add_post("/_emulator/stall", _stall)
    app.router.add_get("/_emulator/last-requests", _last_requests)
    return app


async def _invoke(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    state.requests += 1
    request_id = str(uuid.uuid4())
    name = request.match_info["name"]
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        body = None
    violations = _violations(name, request, body)
    endpoint = state.endpoints.get(name)
    if violations or body is None:
        if endpoint is not None:
            endpoint.stats.requests += 1
            endpoint.stats.errors += 1
        return error_response("ValidationError", constraint_violations(violations), request_id=request_id)
    proxy = request.app.get(PROXY_KEY)
    if proxy is not None:
        return await proxy.invoke(request, name, body, request_id)
    if endpoint is None:
        message = f"Endpoint {name} of account {state.config.account} not found."
        return error_response("ValidationError", message, request_id=request_id)
    if request.path.endswith("/invocations-response-stream"):
        return await endpoint.invoke_stream(request, body, request_id)
    return await endpoint.invoke(request.headers, body, request_id)


async def _container_invoke(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    state.requests += 1
    body = await request.read()
    return await state.endpoints[request.app[CONTAINER_KEY]].invoke_container(request, body)


def _violations(name: str, request: web.Request, body: bytes | None) -> list[str]:
    """AWS input-constraint failures: endpoint name, body size and header lengths."""
    problems = []
    if len(name) > ENDPOINT_NAME_MAX:
        problems.append(length_violation("endpointName", name, ENDPOINT_NAME_MAX))
    if not ENDPOINT_NAME_PATTERN.match(name):
        problems.append(pattern_violation("endpointName", name, _ENDPOINT_NAME_REGEX))
    if body is None or len(body) > MAX_BODY_BYTES:
        problems.append(length_violation("body", None, MAX_BODY_BYTES))
    headers = request.headers
    for header, member, limit, sensitive in _HEADER_LIMITS:
        value = headers.get(header)
        if value is not None and len(value) > limit:
            problems.append(length_violation(member, None if sensitive else value, limit))
    return problems


async def _unsupported(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    name = request.match_info["name"]
    request_id = str(uuid.uuid4())
    if name not in state.endpoints and PROXY_KEY not in request.app:
        message = f"Endpoint {name} of account {state.config.account} not found."
    else:
        message = f"Endpoint {name} does not support {request.match_info['operation']} in this emulator."
    return error_response("ValidationError", message, request_id=request_id)


async def _ping(request: web.Request) -> web.StreamResponse:
    proxy = request.app.get(PROXY_KEY)
    if proxy is not None:
        return await proxy.ping()
    return web.Response(body=b"")


async def _stats(request: web.Request) -> web.StreamResponse:
    stats = request.app[STATE_KEY].stats()
    proxy = request.app.get(PROXY_KEY)
    if proxy is not None:
        stats["proxy"] = proxy.stats_json()
    return web.json_response(stats)


async def _last_requests(request: web.Request) -> web.StreamResponse:
    """``{"requests": [...]}``, oldest first (empty unless ``record_requests`` is on); ``?n=`` limits it."""
    log = request.app.get(LOG_KEY)
    entries = list(log.entries) if log is not None else []
    count = request.query.get("n", "")
    if count.isdigit():
        entries = entries[-int(count) :] if int(count) else []
    return web.json_response({"requests": entries})


async def _reset(request: web.Request) -> web.StreamResponse:
    request.app[STATE_KEY].reset()
    log = request.app.get(LOG_KEY)
    if log is not None:
        log.entries.clear()
    proxy = request.app.get(PROXY_KEY)
    if proxy is not None:
        proxy.reset()
    return web.json_response({"reset": True})


async def _stall(request: web.Request) -> web.StreamResponse:
    """``?endpoint=NAME&seconds=S``: hold every slot of that endpoint for S seconds from now.

    ``{"stalled": NAME, "seconds": S, "slots": N}``; 400 for a missing or bad parameter, 404 for an
    endpoint not configured (every endpoint, in proxy mode), each with ``{"error": ...}``.
    """
    name = request.query.get("endpoint", "")
    text = request.query.get("seconds", "")
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not name or not (seconds >= 0 and math.isfinite(seconds)):
        message = f"give ?endpoint=NAME&seconds=S (S >= 0), got endpoint={name!r} seconds={text!r}"
        return web.json_response({"error": message}, status=400)
    endpoint = request.app[STATE_KEY].endpoints.get(name)
    if endpoint is None:
        return web.json_response({"error": f"no endpoint {name!r} in this emulator"}, status=404)
    slots = _slots_of(endpoint)
    for variant_slots in slots:
        variant_slots.stall(seconds)
    return web.json_response({"stalled": name, "seconds": seconds, "slots": sum(s.slots for s in slots)})


def _slots_of(endpoint: EndpointBase) -> list[Slots | SequenceSlots]:
    """The capacity of each variant of ``endpoint`` (every kind keeps them in ``_slots``, by variant)."""
    by_variant: Mapping[str, Slots | SequenceSlots] = getattr(endpoint, "_slots", {})
    return list(by_variant.values())


def render_config(config_path: Path | None = None) -> str:
    """The effective configuration as TOML text (``bench serve --print-config``)."""
    return render_toml(load_config(config_path))


def listening_line(host: str, port: int, endpoints: list[str]) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"bench emulator listening on http://{shown}:{port} (endpoints: {', '.join(endpoints)})"


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    config_path: Path | None = None,
    container: str | None = None,
    *,
    upstream: str | None = None,
    upstream_stream_path: str | None = None,
    verify_sigv4: bool = False,
    sigv4_credentials: Mapping[str, str] | None = None,
    record_requests: int = 0,
) -> None:
    """Serve until SIGINT or SIGTERM; print one line with the actual URL once listening.

    In proxy mode (``upstream``) the listening line names one endpoint, ``upstream``.
    """
    config = load_config(config_path)
    app = build_app(
        config,
        container=container,
        upstream=upstream,
        upstream_stream_path=upstream_stream_path,
        verify_sigv4=verify_sigv4,
        sigv4_credentials=sigv4_credentials,
        record_requests=record_requests,
    )
    asyncio.run(_serve(app, config, host, port))


async def _serve(app: web.Application, config: EmulatorConfig, host: str, port: int) -> None:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port (0 = any)"
        ) from exc
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    parent = os.environ.get(PARENT_PID_ENV)
    watch = asyncio.create_task(_exit_with_parent(int(parent), stop)) if parent else None
    actual_port = int(runner.addresses[0][1])
    names = [PROXY_ENDPOINT_NAME] if PROXY_KEY in app else config.endpoint_names
    sys.stdout.write(listening_line(host, actual_port, names) + "\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        if watch is not None:
            watch.cancel()
        await runner.cleanup()


async def _exit_with_parent(pid: int, stop: asyncio.Event) -> None:
    """An auto-started emulator ends with the process that started it, even one killed outright.

    A dead parent's children are re-parented at once (to init or a subreaper), reaped or not, so a
    parent id that is no longer the starter's is the sign; a reused pid cannot fool it.
    """
    while os.getppid() == pid:
        await asyncio.sleep(0.5)
    stop.set()
