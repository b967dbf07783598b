"""One exception tree for the whole harness.

::

    BenchError
    ├── ConfigError                 bad options, files or environment; the CLI and plugin exit 2
    ├── WireFormatError             bytes that break a wire format (the emulator answers 400)
    └── EndpointError               one request failed; a record with a class and a stage, never a crash
        ├── ServiceError            the runtime answered with an error shape (PROTOCOLS.md 1.5)
        │   ├── ValidationError         400: the request was refused before reaching the model
        │   ├── ModelError              424: the container answered 4xx/5xx (original status kept)
        │   ├── ModelNotReady           429: ModelNotReadyException
        │   ├── Throttling              ThrottlingException (not modeled by botocore)
        │   ├── InternalFailure         500
        │   ├── ServiceUnavailable      503
        │   ├── InternalDependency      530: InternalDependencyException
        │   ├── ModelStreamError        in-stream, after a 200: ModelStreamError:<ErrorCode>
        │   ├── InternalStreamFailure   in-stream, after a 200
        │   └── UnknownServiceError     any other code; error_type is that code
        ├── TimeoutError_               connect or read timeout on our side
        ├── ConnectionError_            refused, reset or closed connection
        ├── DecodeError                 the response arrived but could not be decoded or failed checks
        ├── UnexpectedError             any other exception inside a transport; error_type is its class
        └── Unfinished                  the run ended (after its drain) before the response did:
                                        a record with status ``unfinished`` and what was measured

Every ``EndpointError`` carries ``error_type`` (the short class name used in CSV files),
``stage`` (``request``, ``first_part``, ``mid_stream`` or ``decode``) and ``http_status`` where
one was received. Third-party exceptions are translated into these at one boundary
(``bench.transport``); nothing above it sees botocore or urllib3 exceptions.
"""

from __future__ import annotations

STAGES = ("request", "first_part", "mid_stream", "decode")


class BenchError(Exception):
    """Root of every error the harness raises on purpose."""


class ConfigError(BenchError):
    """Bad configuration or usage. The message is one line: what is wrong and how to fix it."""


class WireFormatError(BenchError):
    """Bytes that do not follow a wire format (Triton binary+json, event stream).

    Raised by the pure codecs when decoding what a client sent; ``status`` is the HTTP status a
    Triton server would answer with.
    """

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class EndpointError(BenchError):
    """A request failed. Instances become records; they never stop a run."""

    error_type = "EndpointError"

    def __init__(self, message: str, *, stage: str = "request", http_status: int | None = None) -> None:
        super().__init__(message)
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        self.message = message
        self.stage = stage
        self.http_status = http_status

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}"


class ServiceError(EndpointError):
    """The SageMaker runtime (or the emulator) answered with an error shape."""

    error_type = "ServiceError"


class ValidationError(ServiceError):
    error_type = "ValidationError"


class ModelError(ServiceError):
    """The container answered with an error; SageMaker wraps it in a 424."""

    error_type = "ModelError"

    def __init__(
        self,
        message: str,
        *,
        original_status: int | None = None,
        original_message: str | None = None,
        log_stream_arn: str | None = None,
        stage: str = "request",
        http_status: int | None = 424,
    ) -> None:
        super().__init__(message, stage=stage, http_status=http_status)
        self.original_status = original_status
        self.original_message = original_message
        self.log_stream_arn = log_stream_arn


class ModelNotReady(ServiceError):
    error_type = "ModelNotReady"


class Throttling(ServiceError):
    error_type = "Throttling"


class InternalFailure(ServiceError):
    error_type = "InternalFailure"


class ServiceUnavailable(ServiceError):
    error_type = "ServiceUnavailable"


class InternalDependency(ServiceError):
    error_type = "InternalDependency"


class ModelStreamError(ServiceError):
    """In-stream ModelStreamError; ``error_type`` carries its ErrorCode (ModelInvocationTimeExceeded, StreamBroken)."""

    def __init__(self, message: str, *, error_code: str | None, stage: str = "mid_stream") -> None:
        super().__init__(message, stage=stage, http_status=200)
        self.error_code = error_code
        self.error_type = f"ModelStreamError:{error_code}" if error_code else "ModelStreamError"


class InternalStreamFailure(ServiceError):
    error_type = "InternalStreamFailure"

    def __init__(self, message: str, *, stage: str = "mid_stream") -> None:
        super().__init__(message, stage=stage, http_status=200)


class UnknownServiceError(ServiceError):
    """An error code we do not model; ``error_type`` is the code itself."""

    def __init__(
        self, code: str, message: str, *, stage: str = "request", http_status: int | None = None
    ) -> None:
        super().__init__(message, stage=stage, http_status=http_status)
        self.error_type = code or "UnknownServiceError"


class TimeoutError_(EndpointError):
    error_type = "Timeout"


class ConnectionError_(EndpointError):
    error_type = "Connection"


class DecodeError(EndpointError):
    error_type = "Decode"

    def __init__(self, message: str, *, stage: str = "decode", http_status: int | None = None) -> None:
        super().__init__(message, stage=stage, http_status=http_status)


class UnexpectedError(EndpointError):
    """An exception a transport does not expect (a bug, or a library's surprise), kept as a record.

    ``error_type`` is the exception's class name (``KeyError``, ``RuntimeError``), so that it is
    counted and named in errors.csv instead of escaping the request path.
    """

    def __init__(
        self, exception_class: str, message: str, *, stage: str = "request", http_status: int | None = None
    ) -> None:
        super().__init__(message, stage=stage, http_status=http_status)
        self.error_type = exception_class or "UnexpectedError"


class Unfinished(EndpointError):
    """Not a failure of the endpoint: the run ended while the request was in flight. Its record has
    ``status=unfinished``, the stage it had reached, and what was measured until then."""

    error_type = "Unfinished"


# Service error classes by the code the runtime sends (x-amzn-ErrorType / botocore Error.Code).
SERVICE_ERRORS_BY_CODE: dict[str, type[ServiceError]] = {
    "ValidationError": ValidationError,
    "ModelError": ModelError,
    "ModelNotReadyException": ModelNotReady,
    "ThrottlingException": Throttling,
    "InternalFailure": InternalFailure,
    "ServiceUnavailable": ServiceUnavailable,
    "InternalDependencyException": InternalDependency,
}
