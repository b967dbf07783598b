"""Proxy mode (``--upstream URL``): the emulator's SageMaker runtime API in front of any model container.

As SageMaker fronts a container (PROTOCOLS.md 1.5, 2.5, 4, 5.1). Every endpoint name stands for the one
endpoint in front of the upstream (``server`` still checks names, body size, header lengths); its one
variant is ``AllTraffic``.

- InvokeEndpoint: ``POST <upstream>/invocations`` with the body and ``Content-Type``, ``Accept``,
  custom attributes, target model and inference id when sent. 2xx: 200 with the container's body and
  Content-Type (its custom attributes echoed). 4xx/5xx: ModelError 424, OriginalStatusCode and
  OriginalMessage = the container's status and body text (Triton: ``{"error":"..."}``).
- InvokeEndpointWithResponseStream: ``POST <upstream><stream path>`` (default ``/invocations``).
  Non-2xx: ModelError 424. Else 200 ``application/vnd.amazon.eventstream``, chunked, each piece from
  the container (aiohttp ``readchunk``: one HTTP chunk when it came whole) one PayloadPart, written as
  it arrives. A break mid-stream: a ModelStreamError frame, ErrorCode StreamBroken
  (ModelInvocationTimeExceeded after the read timeout), then the end.
- ``GET /ping``: 200 when the upstream's ``GET /ping`` answers 200, else 503, empty body.

A container that does not answer (refused, reset, timed out) is a ModelError 424 with OriginalStatusCode
0, as SageMaker reports it: "Received server error (0) from primary with message "Your invocation timed
out while waiting for a response from container primary. ..."" or "... could not get a response from the
<endpoint> endpoint ..." (aws/amazon-sagemaker-examples issues #799, #1407, #2815). Not InternalFailure
500: botocore retries a 500 (PROTOCOLS.md 1.7) and would hide a dead container behind retries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass

import aiohttp
from aiohttp import web
from yarl import URL

from bench.emulator.awserrors import CONTAINER_NAME, error_response, model_error_response
from bench.emulator.llmendpoint import EVENTSTREAM_CONTENT_TYPE, H_SAGEMAKER_CONTENT_TYPE
from bench.emulator.routing import (
    H_CONTENT_TYPE,
    H_CUSTOM_ATTRIBUTES,
    H_TARGET_MODEL,
    H_TARGET_VARIANT,
    ROUTING_MESSAGES,
    success_headers,
)
from bench.errors import ConfigError
from bench.payload.eventstream import exception_frame, payload_part

PROXY_ENDPOINT_NAME = "upstream"  # the name in the listening line
VARIANT = "AllTraffic"
DEFAULT_STREAM_PATH = "/invocations"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0  # containers must answer within 60 s (PROTOCOLS.md 5.1)
CONNECTION_LIMIT = 1024
H_INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"
FORWARDED_HEADERS = (H_CONTENT_TYPE, "Accept", H_CUSTOM_ATTRIBUTES, H_TARGET_MODEL, H_INFERENCE_ID)
TIMEOUT_TEXT = f"Your invocation timed out while waiting for a response from container {CONTAINER_NAME}."
NO_RESPONSE_TEXT = "Amazon SageMaker could not get a response from the {endpoint} endpoint."
STREAM_BROKEN_TEXT = "The stream from the model broke: {reason}"
STREAM_TIMEOUT_TEXT = "The model did not send data within {seconds:g} s."


@dataclass
class ProxyStats:
    """Counters under ``"proxy"`` in ``GET /_emulator/stats``."""

    requests: int = 0  # invocations forwarded (both operations)
    ok: int = 0  # the container answered 2xx
    model_errors: int = 0  # the container answered 4xx/5xx
    no_response: int = 0  # refused, reset or timed out before a response
    streams: int = 0  # streams started (HTTP 200 sent)
    parts: int = 0  # PayloadParts written
    stream_errors: int = 0  # ModelStreamError frames sent
    disconnects: int = 0  # the caller went away mid-stream


class UpstreamProxy:
    """Forwards SageMaker runtime calls to one container; one shared client session per application."""

    def __init__(
        self,
        upstream: str,
        *,
        account: str,
        region: str,
        stream_path: str | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        read_timeout_s: float = READ_TIMEOUT_S,
        connection_limit: int = CONNECTION_LIMIT,
    ) -> None:
        self.upstream = check_upstream(upstream)
        self.stream_path = stream_path if stream_path is not None else DEFAULT_STREAM_PATH
        if not self.stream_path.startswith(("/", "http://", "https://")):
            raise ConfigError(
                f"--upstream-stream-path {self.stream_path}: give a path starting with / or a full http:// URL "
                "(Triton serves generate_stream on its HTTP port, not on the SageMaker port)"
            )
        self._account = account
        self._region = region
        self._read_timeout_s = read_timeout_s
        self._connection_limit = connection_limit  # 0 = unbounded
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s
        )
        self._session: aiohttp.ClientSession | None = None
        self.stats = ProxyStats()

    async def session_context(self, app: web.Application) -> AsyncIterator[None]:
        """For ``app.cleanup_ctx``: the session opens on startup and closes on cleanup."""
        connector = aiohttp.TCPConnector(limit=self._connection_limit)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, headers={"Accept-Encoding": "identity"}
        )
        try:
            yield
        finally:
            await self._session.close()
            self._session = None

    def stats_json(self) -> dict[str, object]:
        return {"upstream": self.upstream, "stream_path": self.stream_path, **asdict(self.stats)}

    def reset(self) -> None:
        self.stats = ProxyStats()

    async def ping(self) -> web.Response:
        try:
            async with self._client().get(self.upstream + "/ping") as upstream:
                await upstream.read()
                healthy = upstream.status == 200
        except (TimeoutError, aiohttp.ClientError):
            healthy = False
        return web.Response(status=200 if healthy else 503, body=b"")

    async def invoke(
        self, request: web.Request, endpoint: str, body: bytes, request_id: str
    ) -> web.StreamResponse:
        """Both invoke operations, once ``server`` has validated the request."""
        target = request.headers.get(H_TARGET_VARIANT)
        if target is not None and target != VARIANT:
            message = ROUTING_MESSAGES["unknown_variant"].format(target=target, endpoint=endpoint)
            return error_response("ValidationError", message, request_id=request_id)
        self.stats.requests += 1
        streaming = request.path.endswith("/invocations-response-stream")
        if streaming and self.stream_path.startswith(("http://", "https://")):
            url = self.stream_path
        else:
            url = self.upstream + (self.stream_path if streaming else "/invocations")
        headers = {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}
        try:
            async with self._client().post(url, data=body, headers=headers) as upstream:
                if not 200 <= upstream.status < 300:
                    text = (await upstream.read()).decode("utf-8", errors="replace")
                    self.stats.model_errors += 1
                    return model_error_response(
                        original_status=upstream.status,
                        original_message=text,
                        endpoint=endpoint,
                        account=self._account,
                        region=self._region,
                        request_id=request_id,
                    )
                if streaming:
                    return await self._stream(request, upstream, request_id)
                payload = await upstream.read()
                content_type = upstream.headers.get(H_CONTENT_TYPE, DEFAULT_CONTENT_TYPE)
                response_headers = {
                    H_CONTENT_TYPE: content_type,
                    **success_headers(upstream.headers, VARIANT, request_id),
                }
        except TimeoutError:
            return self._no_response(TIMEOUT_TEXT, endpoint, request_id)
        except aiohttp.ClientError:
            return self._no_response(NO_RESPONSE_TEXT.format(endpoint=endpoint), endpoint, request_id)
        self.stats.ok += 1
        return web.Response(body=payload, headers=response_headers)

    async def _stream(
        self, request: web.Request, upstream: aiohttp.ClientResponse, request_id: str
    ) -> web.StreamResponse:
        """Each piece from the container as a PayloadPart; every failure is handled here (200 is sent)."""
        self.stats.ok += 1
        container_type = upstream.headers.get(H_CONTENT_TYPE, DEFAULT_CONTENT_TYPE)
        response = web.StreamResponse(
            headers={
                H_CONTENT_TYPE: EVENTSTREAM_CONTENT_TYPE,
                H_SAGEMAKER_CONTENT_TYPE: container_type,
                **success_headers(upstream.headers, VARIANT, request_id),
            }
        )
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            self.stats.streams += 1
            while True:
                try:
                    data, end_of_chunk = await upstream.content.readchunk()
                except TimeoutError:
                    text = STREAM_TIMEOUT_TEXT.format(seconds=self._read_timeout_s)
                    await self._stream_error(response, text, "ModelInvocationTimeExceeded")
                    break
                except aiohttp.ClientError as exc:
                    text = STREAM_BROKEN_TEXT.format(reason=type(exc).__name__)
                    await self._stream_error(response, text, "StreamBroken")
                    break
                if not data and not end_of_chunk:  # end of the body
                    break
                if data:
                    await response.write(payload_part(data))
                    self.stats.parts += 1
        except ConnectionError:
            self.stats.disconnects += 1
        return response

    async def _stream_error(self, response: web.StreamResponse, message: str, error_code: str) -> None:
        self.stats.stream_errors += 1
        await response.write(exception_frame("ModelStreamError", message, error_code))

    def _no_response(self, text: str, endpoint: str, request_id: str) -> web.Response:
        """ModelError 424, OriginalStatusCode 0: what SageMaker answers when the container does not."""
        self.stats.no_response += 1
        return model_error_response(
            original_status=0,
            original_message=text,
            endpoint=endpoint,
            account=self._account,
            region=self._region,
            request_id=request_id,
        )

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the upstream session is not open (the application has not started)")
        return self._session


def check_upstream(url: str) -> str:
    """``http(s)://HOST[:PORT][/prefix]`` without a trailing slash; ConfigError otherwise."""
    try:
        parsed = URL(url)
    except ValueError:
        parsed = URL()
    if parsed.scheme not in ("http", "https") or not parsed.host or parsed.query_string or parsed.fragment:
        raise ConfigError(f"--upstream {url}: give the model container's address as http://HOST:PORT")
    return str(parsed).rstrip("/")


PROXY_KEY = web.AppKey("bench_emulator_proxy", UpstreamProxy)
