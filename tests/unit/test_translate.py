"""Error translation at the transport boundary, on errors parsed by botocore's own rest-json parser."""

from __future__ import annotations

import json

import pytest
from botocore import exceptions as boto_exc
from botocore.awsrequest import HeadersDict
from botocore.parsers import create_parser
from clients import runtime_client

from bench import errors
from bench.transport.translate import from_botocore_error, from_client_error, model_error_from_container

CLIENT = runtime_client()  # its service model only: it sends nothing
OPERATION = CLIENT.meta.service_model.operation_model("InvokeEndpoint")


def _client_error(status: int, code: str | None, body: dict[str, object] | bytes) -> boto_exc.ClientError:
    """What boto3 raises for this HTTP error response: botocore's parser, then its error factory."""
    headers = HeadersDict({"x-amzn-RequestId": "req-1", "Content-Type": "application/json"})
    if code:
        headers["x-amzn-ErrorType"] = code
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    parsed = create_parser("rest-json").parse(
        {"status_code": status, "headers": headers, "body": raw}, OPERATION.output_shape
    )
    error_code = parsed.get("Error", {}).get("Code")
    shape = CLIENT.meta.service_model.shape_for_error_code(error_code) if error_code else None
    if shape is not None:  # botocore's second pass: modeled members at the top level
        modeled = create_parser("rest-json").parse(
            {"status_code": status, "headers": headers, "body": raw}, shape
        )
        parsed.update({k: v for k, v in modeled.items() if k != "ResponseMetadata"})
    cls = CLIENT.exceptions.from_code(error_code)
    return cls(parsed, "InvokeEndpoint")


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "ValidationError", errors.ValidationError),
        (429, "ModelNotReadyException", errors.ModelNotReady),
        (400, "ThrottlingException", errors.Throttling),
        (500, "InternalFailure", errors.InternalFailure),
        (503, "ServiceUnavailable", errors.ServiceUnavailable),
        (530, "InternalDependencyException", errors.InternalDependency),
    ],
)
def test_service_errors_map_to_bench_classes(
    status: int, code: str, expected: type[errors.EndpointError]
) -> None:
    exc = from_client_error(_client_error(status, code, {"message": "boom", "Message": "boom"}))
    assert type(exc) is expected
    assert exc.http_status == status
    assert exc.stage == "request"
    assert "boom" in exc.message


def test_model_error_keeps_the_original_status_and_message() -> None:
    body = {
        "Message": 'Received client error (400) from primary with message "{"error":"bad"}".',
        "OriginalStatusCode": 400,
        "OriginalMessage": '{"error":"bad"}',
        "LogStreamArn": "arn:aws:logs:us-east-1:1:log-group:/aws/sagemaker/Endpoints/x",
    }
    raw_error = _client_error(424, "ModelError", body)
    assert isinstance(raw_error, CLIENT.exceptions.ModelError)
    exc = from_client_error(raw_error)
    assert isinstance(exc, errors.ModelError)
    assert exc.original_status == 400
    assert exc.original_message == '{"error":"bad"}'
    assert exc.log_stream_arn is not None
    assert exc.error_type == "ModelError"


def test_generic_5xx_with_empty_body_and_unknown_codes() -> None:
    assert type(from_client_error(_client_error(503, None, b""))) is errors.ServiceUnavailable
    unknown = from_client_error(_client_error(403, "AccessDeniedException", {"message": "no"}))
    assert isinstance(unknown, errors.UnknownServiceError)
    assert unknown.error_type == "AccessDeniedException"


def test_network_errors() -> None:
    timeout = from_botocore_error(boto_exc.ReadTimeoutError(endpoint_url="http://127.0.0.1:1"))
    assert type(timeout) is errors.TimeoutError_
    assert timeout.error_type == "Timeout"
    refused = from_botocore_error(boto_exc.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert refused.error_type == "Connection"


def test_container_status_becomes_model_error_as_sagemaker_reports_it() -> None:
    exc = model_error_from_container(400, '{"error":"unexpected inference input"}')
    assert (exc.http_status, exc.original_status) == (424, 400)
    assert exc.message.startswith("Received client error (400) from primary")
    assert model_error_from_container(503, "").message.startswith("Received server error (503)")
