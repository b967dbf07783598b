"""The fast transport: the requests boto3 sends, signed with SigV4, over geventhttpclient.

geventhttpclient is the HTTP client under Locust's FastHttpUser: one pooled, keep-alive client per
process, sized to the users, shared by all of them, exactly one attempt per request. Requests are the
ones boto3 builds (URL, headers, body; PROTOCOLS.md 1.3): header names come from botocore's service
model and the endpoint URL from its resolver. They are signed with SigV4 (signing name ``sagemaker``,
the session's region), with credentials from the boto3 chain, by ``signing.SigV4Signer``: awscrt's
algorithm with the derived key and the canonical URI kept between requests. Whenever the credentials
change, a probe of the request is signed by both it and ``awscrt.auth.aws_sign_request``; should they
ever differ, every request is signed by awscrt.

Responses are judged by botocore's own code so that every record means the same as with
``Boto3Transport``: an error status goes through its rest-json parser and error factory, then
``from_client_error``; a stream through its ``EventStream`` (``EventStreamBuffer``, both CRCs) and
``boto.payload_parts``. Network failures become ``TimeoutError_`` / ``ConnectionError_``.

Credentials: ``session.get_credentials()`` may be refreshable (SSO, assumed roles, instance roles);
every request takes ``get_frozen_credentials()``, which refreshes them ahead of expiry as botocore does
for its own requests. With no credentials in the chain and a loopback endpoint (the emulator), requests
go unsigned as boto3's do.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import awscrt
import geventhttpclient
from awscrt import auth as crt_auth
from botocore import UNSIGNED
from botocore.awsrequest import HeadersDict
from botocore.config import Config
from botocore.credentials import ReadOnlyCredentials
from botocore.model import OperationModel, Shape, StructureShape
from botocore.parsers import create_parser
from botocore.utils import percent_encode
from geventhttpclient import HTTPClient
from geventhttpclient.response import HTTPParseError, HTTPSocketPoolResponse

import bench
from bench.config import EndpointSpec, TransportSpec
from bench.errors import ConfigError, ConnectionError_, EndpointError, TimeoutError_
from bench.transport.base import InvokeResponse, StreamResponse
from bench.transport.boto import make_session, payload_parts
from bench.transport.signing import SigV4Signer, crt_sign
from bench.transport.translate import from_client_error, from_unexpected_error

SIGNING_NAME = "sagemaker"  # not "sagemaker-runtime" (PROTOCOLS.md 1.1, 6)
INVOKE = "InvokeEndpoint"
STREAM = "InvokeEndpointWithResponseStream"
PRELUDE_BYTES = 12  # total length, headers length, prelude CRC (PROTOCOLS.md 2.1)
USER_AGENT = (
    f"sagemaker-bench/{bench.__version__} geventhttpclient/{geventhttpclient.__version__} "
    f"awscrt/{awscrt.__version__}"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class FastTransport:
    """InvokeEndpoint and InvokeEndpointWithResponseStream for one endpoint; one per process."""

    def __init__(self, endpoint: EndpointSpec, spec: TransportSpec, *, pool_size: int = 10) -> None:
        session = make_session(endpoint)
        self.region: str = session.region_name
        self._credentials = session.get_credentials()  # None only for loopback endpoints (make_session)
        self._provider: tuple[ReadOnlyCredentials, Any] | None = None
        try:  # this client never sends: it resolves the URL and lends its service model and error classes
            client = session.client(
                "sagemaker-runtime",
                endpoint_url=endpoint.endpoint_url,
                config=Config(signature_version=UNSIGNED),
            )
        except ValueError as exc:  # botocore rejects malformed endpoint URLs with ValueError
            raise ConfigError(f"--endpoint-url {endpoint.endpoint_url}: {exc}") from exc
        self.url: str = client.meta.endpoint_url
        self._model = client.meta.service_model
        self._exceptions = client.exceptions
        client.close()
        self._parser = create_parser("rest-json")
        self._ops = {name: self._model.operation_model(name) for name in (INVOKE, STREAM)}
        parts = urlsplit(self.url)
        base = f"{parts.path.rstrip('/')}/endpoints/{percent_encode(endpoint.name)}"
        self._paths = {INVOKE: f"{base}/invocations", STREAM: f"{base}/invocations-response-stream"}
        self._fixed = {name: _fixed_headers(op, endpoint) for name, op in self._ops.items()}
        output = _members(self._ops[INVOKE].output_shape)
        self._response_headers = tuple(
            output[m].serialization["name"]
            for m in ("ContentType", "InvokedProductionVariant", "CustomAttributes")
        )
        self._host = _host_header(self.url)
        self._signer = SigV4Signer(self.region, SIGNING_NAME)
        self._checked: dict[str, ReadOnlyCredentials] = {}  # per path: the credentials last checked with
        self._use_crt: dict[str, bool] = {}
        self._http = HTTPClient.from_url(
            self.url,
            concurrency=pool_size,
            connection_timeout=spec.connect_timeout_s,
            network_timeout=spec.read_timeout_s,
            block_size=64 * 1024,  # socket reads of whole bodies; streams read message by message
            headers={"Accept-Encoding": "identity", "User-Agent": USER_AGENT},  # unsigned, as urllib3 adds it
        )

    def invoke(self, body: bytes, content_type: str, inference_id: str) -> InvokeResponse:
        try:
            response = self._send(INVOKE, body, content_type, inference_id)
            data = self._read_all(response)
            status = response.status_code
            if status >= 300:
                raise self._service_error(INVOKE, response, data)
            returned_type, variant, custom_attributes = (_header(response, n) for n in self._response_headers)
            return InvokeResponse(
                body=data,
                content_type=returned_type,
                variant=variant,
                http_status=status,
                custom_attributes=custom_attributes,
            )
        except EndpointError:
            raise
        except Exception as exc:  # anything else is a record too, never an escape from the request path
            raise from_unexpected_error(exc) from exc

    def invoke_stream(self, body: bytes, content_type: str, inference_id: str) -> StreamResponse:
        try:
            response = self._send(STREAM, body, content_type, inference_id)
            if response.status_code >= 300:
                raise self._service_error(STREAM, response, self._read_all(response))
            # botocore's own parsing of a 2xx: header members, and the body as its EventStream.
            parsed = self._parser.parse(
                _http_dict(STREAM, response, RawEventStream(response)), self._output(STREAM)
            )
            stream = parsed["Body"]
            return StreamResponse(
                content_type=parsed.get("ContentType"),
                variant=parsed.get("InvokedProductionVariant"),
                parts=payload_parts(stream),
                close=stream.close,
                http_status=response.status_code,
            )
        except EndpointError:
            raise
        except Exception as exc:
            raise from_unexpected_error(exc) from exc

    def close(self) -> None:
        self._http.close()

    def _output(self, operation: str) -> Any:
        return self._ops[operation].output_shape

    def _send(
        self, operation: str, body: bytes, content_type: str, inference_id: str
    ) -> HTTPSocketPoolResponse:
        path = self._paths[operation]
        headers = {
            "host": self._host,
            "Content-Type": content_type,
            "X-Amzn-SageMaker-Inference-Id": inference_id,
        }
        headers.update(self._fixed[operation])
        if self._credentials is not None:
            headers = self._sign(path, headers, body)
        try:
            return self._http.request("POST", path, body=body, headers=headers)
        except (OSError, HTTPParseError) as exc:
            raise self._network_error(exc) from exc

    def _sign(self, path: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        """The headers with X-Amz-Date, Authorization (and X-Amz-Security-Token) added."""
        assert self._credentials is not None
        frozen = self._credentials.get_frozen_credentials()  # refreshes ahead of expiry
        if self._checked.get(path) != frozen:  # first request of the operation, or new credentials
            self._use_crt[path] = not self._signer.matches_awscrt(
                path, headers, str(frozen.access_key), str(frozen.secret_key), frozen.token
            )
            self._checked[path] = frozen
        if not self._use_crt[path]:
            return self._signer.headers(
                path, headers, body, str(frozen.access_key), str(frozen.secret_key), frozen.token
            )
        return self._sign_crt(frozen, path, headers, body)

    def _sign_crt(
        self, frozen: ReadOnlyCredentials, path: str, headers: dict[str, str], body: bytes
    ) -> dict[str, str]:
        """awscrt's signing (the reference; used when ``SigV4Signer`` would differ from it)."""
        cached = self._provider
        if cached is None or cached[0] != frozen:
            provider = crt_auth.AwsCredentialsProvider.new_static(
                frozen.access_key, frozen.secret_key, frozen.token
            )
            cached = self._provider = (frozen, provider)
        return crt_sign(path, headers, body, cached[1], self.region, SIGNING_NAME)

    def _read_all(self, response: HTTPSocketPoolResponse) -> bytes:
        try:
            return bytes(response.read())
        except (OSError, HTTPParseError) as exc:
            response.release()
            raise self._network_error(exc) from exc

    def _service_error(self, operation: str, response: HTTPSocketPoolResponse, body: bytes) -> EndpointError:
        """An error status as boto3 raises it (botocore's parser, two passes, error factory), translated."""
        http = _http_dict(operation, response, body)
        parsed = self._parser.parse(http, self._output(operation))
        code = parsed.get("Error", {}).get("Code")
        shape = self._model.shape_for_error_code(code) if code else None
        if shape is not None:  # botocore's second pass: modeled members at the top level
            parsed.update(self._parser.parse(http, shape))
        error_class: Any = self._exceptions.from_code(code)
        return from_client_error(error_class(parsed, operation))

    def _network_error(self, exc: BaseException, stage: str = "request") -> EndpointError:
        if isinstance(exc, TimeoutError):  # socket.timeout: connect or read
            return TimeoutError_(f'Timeout on endpoint URL: "{self.url}" ({exc})', stage=stage)
        if isinstance(exc, ConnectionResetError | BrokenPipeError | HTTPParseError):
            what = "Connection was closed before we received a valid response from endpoint URL"
        else:  # refused, unreachable, no such host
            what = "Could not connect to the endpoint URL"
        return ConnectionError_(f'{what}: "{self.url}" ({type(exc).__name__}: {exc})', stage=stage)


class RawEventStream:
    """A geventhttpclient response as the raw stream botocore's ``EventStream`` reads.

    ``stream()`` yields each message as it arrives: its 12-byte prelude first (botocore's
    ``EventStreamBuffer`` checks the prelude CRC and the length limits before anything else is
    awaited), then the rest of it. ``read(n)`` on a chunked body returns once n bytes have arrived,
    so no part waits for later ones. A broken connection surfaces as the builtin ``ConnectionError``,
    a read timeout as ``TimeoutError``.
    """

    def __init__(self, response: HTTPSocketPoolResponse) -> None:
        self._response = response

    def stream(self) -> Iterator[bytes]:
        try:
            while True:
                prelude = self._response.read(PRELUDE_BYTES)
                if not prelude:
                    return
                yield prelude
                if len(prelude) < PRELUDE_BYTES:
                    return  # truncated at the end of the body: dropped, as botocore does
                rest = int.from_bytes(prelude[:4], "big") - PRELUDE_BYTES
                if rest > 0:
                    yield self._response.read(rest)
        except HTTPParseError as exc:  # e.g. the connection closed inside a chunked body
            raise ConnectionError(f"connection broken: {exc}") from exc

    def close(self) -> None:
        """Give the connection back: to the pool when the body was read to its end, else closed."""
        self._response.release()


def _fixed_headers(operation: OperationModel, endpoint: EndpointSpec) -> dict[str, str]:
    """The endpoint's routing headers, named by the service model; a member the operation does not
    have (TargetModel on the stream operation) is not sent, as with boto3."""
    members = _members(operation.input_shape)
    values = {
        "TargetModel": endpoint.target_model,
        "TargetVariant": endpoint.target_variant,
        "InferenceComponentName": endpoint.inference_component,
        "CustomAttributes": endpoint.custom_attributes,
    }
    return {
        members[name].serialization["name"]: value
        for name, value in values.items()
        if value and name in members
    }


def _members(shape: StructureShape | None) -> Mapping[str, Shape]:
    assert shape is not None  # both operations have input and output shapes
    return shape.members


def _host_header(url: str) -> str:
    """Host as botocore signs it: lower case, no default port, IPv6 in brackets."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def _header(response: HTTPSocketPoolResponse, name: str) -> str | None:
    value = response.get(name)
    return value[-1] if isinstance(value, list) else value


def _http_dict(operation: str, response: HTTPSocketPoolResponse, body: Any) -> Mapping[str, Any]:
    """The response dict botocore's parsers take (``botocore.endpoint.convert_to_response_dict``)."""
    return {
        "status_code": response.status_code,
        "headers": HeadersDict(response.headers),
        "body": body,
        "context": {"operation_name": operation},
    }
