"""Every error response the emulator sends, in the shapes botocore parses (PROTOCOLS.md 1.5 and 1.6).

One builder keyed by shape name: status from the table, ``Content-Type: application/json``,
``x-amzn-ErrorType: <shape>`` (botocore takes the code from this header first), ``x-amzn-RequestId``
and a JSON body with both ``message`` (botocore's ``Error.Message``) and ``Message`` (the modeled
member) plus any modeled members (``OriginalStatusCode`` ...). The body is never empty, so a 5xx is
never mistaken for a generic HTTP error.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

# Shape name -> HTTP status. ThrottlingException is not modeled: botocore raises a generic
# ClientError with code "ThrottlingException" for it.
ERROR_STATUS = {
    "ValidationError": 400,
    "ModelError": 424,
    "ModelNotReadyException": 429,
    "ThrottlingException": 400,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    "InternalDependencyException": 530,
}
_REASONS = {530: "Internal Dependency Exception"}
MESSAGE_MAX_CHARS = 2048
CONTAINER_NAME = "primary"
THROTTLING_MESSAGE = "Rate exceeded"


def error_response(shape: str, message: str, *, request_id: str, **members: Any) -> web.Response:
    """The response for one error shape; ``members`` are modeled members such as OriginalStatusCode."""
    status = ERROR_STATUS[shape]
    message = message[:MESSAGE_MAX_CHARS]
    body = {"message": message, "Message": message, **members}
    return web.Response(
        status=status,
        reason=_REASONS.get(status),
        body=json.dumps(body).encode("utf-8"),
        headers={
            "Content-Type": "application/json",
            "x-amzn-ErrorType": shape,
            "x-amzn-RequestId": request_id,
        },
    )


def model_error_response(
    *,
    original_status: int,
    original_message: str,
    endpoint: str,
    account: str,
    region: str,
    request_id: str,
) -> web.Response:
    """ModelError (424): the container answered ``original_status`` with body ``original_message``."""
    log_group = f"/aws/sagemaker/Endpoints/{endpoint}"
    side = "client" if 0 < original_status < 500 else "server"
    message = (
        f"Received {side} error ({original_status}) from {CONTAINER_NAME} with message "
        f'"{original_message}". See https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}'
        f"#logEventViewer:group={log_group} in account {account} for more information."
    )
    return error_response(
        "ModelError",
        message,
        request_id=request_id,
        OriginalStatusCode=original_status,
        OriginalMessage=original_message,
        LogStreamArn=f"arn:aws:logs:{region}:{account}:log-group:{log_group}",
    )


def constraint_violations(violations: list[str]) -> str:
    """AWS's input-constraint text: ``1 validation error detected: Value ... ; Value ...``."""
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(violations)


def length_violation(member: str, value: str | None, limit: int, *, minimum: bool = False) -> str:
    """One constraint violation; sensitive members (value None) are not echoed."""
    shown = "Value" if value is None else f"Value '{value}'"
    bound = f"greater than or equal to {limit}" if minimum else f"less than or equal to {limit}"
    return f"{shown} at '{member}' failed to satisfy constraint: Member must have length {bound}"


def pattern_violation(member: str, value: str, pattern: str) -> str:
    return (
        f"Value '{value}' at '{member}' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {pattern}"
    )
