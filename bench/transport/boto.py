"""boto3 ``sagemaker-runtime``: one client per process, shared by all of its users.

Exactly one attempt per request (SDK retries off, so a sample is one attempt), explicit connect and
read timeouts, and a connection pool sized to the users (botocore's default of 10 otherwise
discards connections under load, boto/botocore#619).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore import UNSIGNED
from botocore import exceptions as boto_exc
from botocore.config import Config
from botocore.eventstream import ParserError
from urllib3 import exceptions as url_exc

from bench.config import EMULATOR_REGION, EndpointSpec, TransportSpec
from bench.errors import (
    ConfigError,
    ConnectionError_,
    DecodeError,
    EndpointError,
    InternalStreamFailure,
    ModelStreamError,
    TimeoutError_,
    UnknownServiceError,
)
from bench.transport.base import InvokeResponse, StreamResponse
from bench.transport.translate import from_botocore_error, from_client_error, from_unexpected_error


def is_loopback_url(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local(endpoint: EndpointSpec) -> bool:
    """The emulator, or any endpoint URL on loopback: no region or credentials required."""
    return endpoint.emulated or (endpoint.endpoint_url is not None and is_loopback_url(endpoint.endpoint_url))


def make_session(endpoint: EndpointSpec) -> boto3.session.Session:
    """A boto3 session with the region and credentials checked; ConfigError when either is missing.

    Loopback endpoints (the emulator) need neither: the region defaults to us-east-1 and, with no
    credentials in the chain, requests go unsigned.
    """
    try:
        session = boto3.session.Session(profile_name=endpoint.aws_profile, region_name=endpoint.region)
    except boto_exc.ProfileNotFound as exc:
        raise ConfigError(
            f"--aws-profile {endpoint.aws_profile}: no such profile in ~/.aws/config; "
            "list profiles with `aws configure list-profiles`"
        ) from exc
    local = is_local(endpoint)
    if session.region_name is None:
        if not local:
            raise ConfigError(
                f"no AWS region for endpoint {endpoint.name}: pass --region (e.g. --region us-east-1) "
                "or set AWS_REGION or a region in your profile"
            )
        session = boto3.session.Session(profile_name=endpoint.aws_profile, region_name=EMULATOR_REGION)
    if not local:
        try:
            credentials = session.get_credentials()
        except boto_exc.BotoCoreError as exc:
            raise ConfigError(f"cannot load AWS credentials: {exc}") from exc
        if credentials is None:
            raise ConfigError(
                f"no AWS credentials for endpoint {endpoint.name}: run `aws configure`, set AWS_PROFILE or "
                "pass --aws-profile, or run where an IAM role is attached"
            )
    return session


class Boto3Transport:
    """InvokeEndpoint through an unmodified boto3 client."""

    def __init__(self, endpoint: EndpointSpec, spec: TransportSpec, *, pool_size: int = 10) -> None:
        session = make_session(endpoint)
        local = is_local(endpoint)
        config = Config(
            connect_timeout=spec.connect_timeout_s,
            read_timeout=spec.read_timeout_s,
            retries={"total_max_attempts": 1, "mode": "legacy"},
            max_pool_connections=pool_size,
            signature_version=UNSIGNED if local and session.get_credentials() is None else None,
        )
        try:
            self._client = session.client(
                "sagemaker-runtime", endpoint_url=endpoint.endpoint_url, config=config
            )
        except ValueError as exc:  # botocore rejects malformed endpoint URLs with ValueError
            raise ConfigError(f"--endpoint-url {endpoint.endpoint_url}: {exc}") from exc
        self.region = session.region_name
        fixed = {
            "EndpointName": endpoint.name,
            "TargetModel": endpoint.target_model,
            "TargetVariant": endpoint.target_variant,
            "InferenceComponentName": endpoint.inference_component,
            "CustomAttributes": endpoint.custom_attributes,
        }
        self._fixed: dict[str, Any] = {key: value for key, value in fixed.items() if value}
        # InvokeEndpointWithResponseStream has no TargetModel
        self._stream_fixed = {key: value for key, value in self._fixed.items() if key != "TargetModel"}

    def invoke(self, body: bytes, content_type: str, inference_id: str) -> InvokeResponse:
        try:
            response = self._client.invoke_endpoint(
                **self._fixed, Body=body, ContentType=content_type, InferenceId=inference_id
            )
            data = response["Body"].read()
            return InvokeResponse(
                body=data,
                content_type=response.get("ContentType"),
                variant=response.get("InvokedProductionVariant"),
                http_status=response["ResponseMetadata"]["HTTPStatusCode"],
                custom_attributes=response.get("CustomAttributes"),
            )
        except boto_exc.ClientError as exc:
            raise from_client_error(exc) from exc
        except boto_exc.BotoCoreError as exc:
            raise from_botocore_error(exc) from exc
        except Exception as exc:  # anything else is a record too, never an escape from the request path
            raise from_unexpected_error(exc) from exc

    def invoke_stream(self, body: bytes, content_type: str, inference_id: str) -> StreamResponse:
        try:
            response = self._client.invoke_endpoint_with_response_stream(
                **self._stream_fixed, Body=body, ContentType=content_type, InferenceId=inference_id
            )
            stream = response["Body"]
            return StreamResponse(
                content_type=response.get("ContentType"),
                variant=response.get("InvokedProductionVariant"),
                parts=payload_parts(stream),
                close=stream.close,
                http_status=response["ResponseMetadata"]["HTTPStatusCode"],
            )
        except boto_exc.ClientError as exc:
            raise from_client_error(exc) from exc
        except boto_exc.BotoCoreError as exc:
            raise from_botocore_error(exc) from exc
        except Exception as exc:
            raise from_unexpected_error(exc) from exc

    def close(self) -> None:
        self._client.close()


def payload_parts(stream: Any) -> Iterator[bytes]:
    """The bytes of each PayloadPart as it arrives; in-stream failures as bench errors.

    Messages come from botocore's own ``EventStreamBuffer`` (both CRCs checked) through the stream's
    raw message generator rather than its public iterator, because botocore's parser drops the
    ``ErrorCode`` of a ModelStreamError (StreamBroken vs ModelInvocationTimeExceeded,
    PROTOCOLS.md 2.3); error messages still go through botocore's parser for Code and Message.
    """
    parts = 0
    try:
        for message in stream._event_generator:
            headers = message.headers
            if headers.get(":message-type") == "event":
                if headers.get(":event-type") == "PayloadPart":
                    parts += 1
                    yield message.payload
                continue  # unknown event types are skipped, as botocore does
            raise stream_error(stream, message, stage="first_part" if parts == 0 else "mid_stream")
    except EndpointError:
        raise
    except ParserError as exc:
        raise DecodeError(f"event stream: {exc}", stage="first_part" if parts == 0 else "mid_stream") from exc
    except (url_exc.ReadTimeoutError, boto_exc.ReadTimeoutError, TimeoutError) as exc:
        raise TimeoutError_(str(exc), stage="first_part" if parts == 0 else "mid_stream") from exc
    except (url_exc.HTTPError, boto_exc.BotoCoreError, OSError) as exc:
        message_text = f"{type(exc).__name__}: {exc}"
        raise ConnectionError_(message_text, stage="first_part" if parts == 0 else "mid_stream") from exc
    except Exception as exc:
        raise from_unexpected_error(exc, stage="first_part" if parts == 0 else "mid_stream") from exc


def stream_error(stream: Any, message: Any, *, stage: str) -> EndpointError:
    """An exception or error message of the event stream as the matching bench error."""
    try:
        stream._parse_event(message)
        code, text = str(message.headers.get(":exception-type", "")), ""
    except boto_exc.EventStreamError as exc:
        error = exc.response.get("Error", {})
        code, text = str(error.get("Code", "")), str(error.get("Message", ""))
    try:
        document: Any = json.loads(message.payload or b"{}")
        error_code = document.get("ErrorCode") if isinstance(document, dict) else None
    except ValueError:
        error_code = None
    if code == "ModelStreamError":
        return ModelStreamError(text, error_code=error_code, stage=stage)
    if code == "InternalStreamFailure":
        return InternalStreamFailure(text, stage=stage)
    return UnknownServiceError(code or "StreamError", text, stage=stage, http_status=200)
