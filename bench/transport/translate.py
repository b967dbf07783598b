"""Translation of third-party errors into bench errors, at the transport boundary only."""

from __future__ import annotations

from typing import Any

from botocore import exceptions as boto_exc

from bench.errors import (
    SERVICE_ERRORS_BY_CODE,
    ConnectionError_,
    EndpointError,
    InternalFailure,
    ModelError,
    ServiceUnavailable,
    TimeoutError_,
    UnexpectedError,
    UnknownServiceError,
)

# botocore's generic-error shortcut turns a 5xx with an empty or HTML body into Code = "503" etc.
_CLASS_BY_BARE_STATUS = {500: InternalFailure, 503: ServiceUnavailable}


def from_client_error(exc: boto_exc.ClientError) -> EndpointError:
    """A botocore ClientError (modeled or not) as the matching bench error."""
    response: dict[str, Any] = dict(exc.response)
    error = response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message") or response.get("Message") or exc)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    cls = SERVICE_ERRORS_BY_CODE.get(code)
    if cls is ModelError:
        original = response.get("OriginalStatusCode")
        return ModelError(
            message,
            original_status=int(original) if original is not None else None,
            original_message=response.get("OriginalMessage"),
            log_stream_arn=response.get("LogStreamArn"),
            http_status=status,
        )
    if cls is not None:
        return cls(message, http_status=status)
    if code.isdigit() and int(code) in _CLASS_BY_BARE_STATUS:
        return _CLASS_BY_BARE_STATUS[int(code)](message or f"HTTP {code}", http_status=status)
    return UnknownServiceError(code, message, http_status=status)


def from_botocore_error(exc: boto_exc.BotoCoreError, *, stage: str = "request") -> EndpointError:
    """Network-level botocore errors: timeouts and broken connections."""
    if isinstance(exc, boto_exc.ReadTimeoutError | boto_exc.ConnectTimeoutError):
        return TimeoutError_(str(exc), stage=stage)
    return ConnectionError_(str(exc), stage=stage)


def from_unexpected_error(exc: Exception, *, stage: str = "request") -> EndpointError:
    """The catch-all: any exception a transport did not translate, as an ``UnexpectedError`` record
    whose ``error_type`` is the exception's class name (a bench error is returned as it is)."""
    if isinstance(exc, EndpointError):
        return exc
    return UnexpectedError(type(exc).__name__, str(exc) or repr(exc), stage=stage)


def model_error_from_container(status: int, body_text: str, *, endpoint: str = "container") -> ModelError:
    """A container's error status reported the way SageMaker reports it (ModelError 424)."""
    kind = "client" if status < 500 else "server"
    message = f'Received {kind} error ({status}) from primary with message "{body_text}". See the logs of {endpoint}.'
    return ModelError(message, original_status=status, original_message=body_text, http_status=424)
