"""Optional SigV4 verification (``--verify-sigv4``), with botocore's own signer as the reference.

For each ``/endpoints/...`` request the received ``Authorization`` header is parsed; an ``AWSRequest``
is rebuilt from the method, the raw path, exactly the headers named in its ``SignedHeaders`` and the
body; ``botocore.auth.SigV4Auth(Credentials(key, secret), "sagemaker", region)`` computes the signature
for the request's own ``X-Amz-Date``; the two signatures must match (PROTOCOLS.md 6).

Accepted credentials: a map access key -> secret key, by default AWS's documented example pair
``AKIDEXAMPLE`` / ``wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`` (``DEFAULT_CREDENTIALS``); any session
token is accepted. The scope must name the emulator's region and the signing name ``sagemaker``.

Refusals are 403s in the AWS shapes (``x-amzn-ErrorType``, JSON ``message``), as the real service
sends them: no ``Authorization`` -> MissingAuthenticationTokenException; a malformed one, or one that
does not sign ``host`` and ``x-amz-date`` -> IncompleteSignatureException; an unknown access key ->
UnrecognizedClientException; a wrong region or service in the scope, a date more than 15 minutes
away, or a signature that does not match -> InvalidSignatureException.

botocore is imported only when a verifier is built, so the emulator's normal mode never loads it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

DEFAULT_CREDENTIALS: Mapping[str, str] = {"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
SIGNING_NAME = "sagemaker"
MAX_SKEW = timedelta(minutes=15)
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/"
    r"(?P<service>[^/,\s]+)/aws4_request,\s*SignedHeaders=(?P<signed>[!-~]+?),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refusal(Exception):
    """Why a request's signature is refused: the AWS error code and its message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SigV4Verifier:
    """Checks signatures of the ``sagemaker`` signing name in one region against known credentials."""

    def __init__(self, credentials: Mapping[str, str] | None = None, *, region: str = "us-east-1") -> None:
        self.keys = dict(credentials or DEFAULT_CREDENTIALS)
        self.region = region

    def check(
        self,
        method: str,
        raw_path: str,
        headers: Mapping[str, str],
        items: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        """Raise ``Refusal`` unless the request is signed with known credentials.

        ``headers`` is case-insensitive; ``items`` are the received header lines in order.
        """
        authorization = headers.get("Authorization")
        if authorization is None:
            raise Refusal("MissingAuthenticationTokenException", "Missing Authentication Token")
        match = _AUTHORIZATION.match(authorization.strip())
        if match is None:
            raise Refusal(
                "IncompleteSignatureException",
                f"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
                f"parameters of AWS4-HMAC-SHA256. Authorization={authorization}",
            )
        signed = match["signed"].split(";")
        amz_date = headers.get("X-Amz-Date", "")
        if "host" not in signed or "x-amz-date" not in signed or not amz_date:
            raise Refusal("IncompleteSignatureException", "Host and X-Amz-Date must be signed headers.")
        secret = self.keys.get(match["key"])
        if secret is None:
            raise Refusal(
                "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        if match["region"] != self.region:
            raise Refusal("InvalidSignatureException", "Credential should be scoped to a valid region. ")
        if match["service"] != SIGNING_NAME:
            raise Refusal(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{SIGNING_NAME}'. ",
            )
        _check_date(amz_date, match["date"])
        from botocore.auth import SigV4Auth  # imported here: the normal mode never loads botocore
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        request = AWSRequest(method=method, url=f"http://{headers.get('Host', '')}{raw_path}", data=body)
        wanted = set(signed)
        for name, value in items:
            if name.lower() in wanted:
                request.headers[name] = value  # HTTPHeaders: repeated names stay repeated
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(match["key"], secret), SIGNING_NAME, self.region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if (
            signer.signed_headers(signer.headers_to_sign(request)) != match["signed"]
            or expected != match["signature"]
        ):
            raise Refusal("InvalidSignatureException", SIGNATURE_MISMATCH)


def _check_date(amz_date: str, scope_date: str) -> None:
    try:
        when = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise Refusal(
            "IncompleteSignatureException", f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'."
        ) from None
    if amz_date[:8] != scope_date:
        raise Refusal(
            "InvalidSignatureException",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope_date}' != '{amz_date[:8]}', from '{amz_date}'.",
        )
    now = datetime.now(UTC)
    if when < now - MAX_SKEW:
        raise Refusal(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {(now - MAX_SKEW).strftime(_AMZ_DATE)} "
            f"({now.strftime(_AMZ_DATE)} - 15 min.)",
        )
    if when > now + MAX_SKEW:
        raise Refusal(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than {(now + MAX_SKEW).strftime(_AMZ_DATE)} "
            f"({now.strftime(_AMZ_DATE)} + 15 min.)",
        )


def refusal_response(refusal: Refusal) -> web.Response:
    """A 403 in the AWS shape: botocore reads the code from ``x-amzn-ErrorType``."""
    return web.Response(
        status=403,
        body=json.dumps({"message": refusal.message, "Message": refusal.message}).encode("utf-8"),
        headers={
            "Content-Type": "application/json",
            "x-amzn-ErrorType": refusal.code,
            "x-amzn-RequestId": str(uuid.uuid4()),
        },
    )


def sigv4_middleware(verifier: SigV4Verifier) -> Any:
    """An aiohttp middleware that checks every SageMaker API request (``/endpoints/...``)."""

    @web.middleware
    async def verify(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/endpoints/"):
            body = await request.read()
            items = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
            try:
                verifier.check(request.method, request.raw_path, request.headers, items, body)
            except Refusal as refusal:
                return refusal_response(refusal)
        return await handler(request)

    return verify
