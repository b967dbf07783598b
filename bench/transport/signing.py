"""SigV4 header signing for the fast transport: awscrt's algorithm without its per-request binding cost.

The signature is the standard one (AWS4-HMAC-SHA256, headers signed, body hash as botocore computes it).
What makes it cheap is what never changes between requests: the derived signing key (one HMAC chain per
UTC day and secret), the scope, the canonical URI of each operation and the date stamp of the current
second. A request then costs one SHA-256 of its canonical form and one HMAC, where awscrt's Python
binding builds a signing config, a native request, a future and its locks every time (the fast
transport's profile: about half of its per-request CPU above the unsigned ceiling).

``SigV4Signer.matches_awscrt`` signs a probe with both and compares the Authorization headers exactly;
``FastTransport`` runs it once per endpoint and keeps awscrt when they differ.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import posixpath
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
SECURITY_TOKEN = "X-Amz-Security-Token"
# Headers awscrt never signs (aws-c-auth's skip list, the ones a request of ours can carry).
_UNSIGNED = frozenset({"user-agent", "x-amzn-trace-id", "expect", "transfer-encoding", "connection"})
_BODY_HASH_CACHE_LIMIT = 1024


class SigV4Signer:
    """Signs requests for one region and service with static credentials (a ``ReadOnlyCredentials`` triple)."""

    def __init__(self, region: str, service: str) -> None:
        self.region = region
        self.service = service
        self._key_of: tuple[str, str, bytes] | None = None  # (date, secret, signing key)
        self._second = -1
        self._amz_date = self._date = ""
        self._body_hashes: dict[bytes, str] = {}
        self._uris: dict[str, str] = {}

    def headers(
        self,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        access_key: str,
        secret_key: str,
        token: str | None = None,
        *,
        now_s: float | None = None,
    ) -> dict[str, str]:
        """``headers`` plus X-Amz-Date, X-Amz-Security-Token (with a token) and Authorization, for a POST."""
        if now_s is None:  # the current second's stamps, made once a second
            second = int(time.time())
            if second != self._second:
                self._amz_date, self._date = _stamps(second)
                self._second = second
            amz_date, date = self._amz_date, self._date
        else:  # a given time (a probe): the cache of the current second is left alone
            amz_date, date = _stamps(int(now_s))
        signed = {name: value.strip() for name, value in headers.items()}  # values as awscrt sends them
        if token:
            signed[SECURITY_TOKEN] = token
        signed["X-Amz-Date"] = amz_date
        canonical = sorted(
            (name.lower(), " ".join(value.split()))
            for name, value in signed.items()
            if name.lower() not in _UNSIGNED
        )
        names = ";".join(name for name, _ in canonical)
        scope = f"{date}/{self.region}/{self.service}/aws4_request"
        request = "\n".join(
            (
                "POST",
                self._canonical_uri(path),
                "",
                "".join(f"{name}:{value}\n" for name, value in canonical),
                names,
                self._body_hash(body),
            )
        )
        string_to_sign = "\n".join(
            (ALGORITHM, amz_date, scope, hashlib.sha256(request.encode("utf-8")).hexdigest())
        )
        signature = hmac.new(
            self._signing_key(secret_key, date), string_to_sign.encode("utf-8"), hashlib.sha256
        ).hexdigest()
        signed["Authorization"] = (
            f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={names}, Signature={signature}"
        )
        return signed

    def _signing_key(self, secret_key: str, date: str) -> bytes:
        cached = self._key_of
        if cached is not None and cached[0] == date and cached[1] == secret_key:
            return cached[2]
        key = f"AWS4{secret_key}".encode()
        for part in (date, self.region, self.service, "aws4_request"):
            key = hmac.digest(key, part.encode("utf-8"), "sha256")
        self._key_of = (date, secret_key, key)
        return key

    def _body_hash(self, body: bytes) -> str:
        """SHA-256 of the body, remembered per body (a run sends a fixed pool of encoded bodies)."""
        found = self._body_hashes.get(body)
        if found is None:
            if len(self._body_hashes) >= _BODY_HASH_CACHE_LIMIT:
                self._body_hashes.clear()
            found = self._body_hashes[body] = hashlib.sha256(body).hexdigest()
        return found

    def _canonical_uri(self, path: str) -> str:
        """The path normalised (dot segments, duplicate slashes) and URI-encoded again, as awscrt does."""
        found = self._uris.get(path)
        if found is None:
            normal = posixpath.normpath(path) if path not in ("", "/") else "/"
            if normal.startswith("//"):
                normal = "/" + normal.lstrip("/")
            if path.endswith("/") and normal != "/":
                normal += "/"
            found = self._uris[path] = quote(normal, safe="/~")
        return found

    def matches_awscrt(
        self, path: str, headers: Mapping[str, str], access_key: str, secret_key: str, token: str | None
    ) -> bool:
        """Whether this signer and awscrt give the same headers for a probe of this request shape."""
        from awscrt import auth as crt_auth

        body, when = b'{"probe": true}', 1_700_000_000
        ours = self.headers(path, headers, body, access_key, secret_key, token, now_s=when)
        provider = crt_auth.AwsCredentialsProvider.new_static(access_key, secret_key, token)
        theirs = crt_sign(path, headers, body, provider, self.region, self.service, when_s=when)
        return list(theirs.items()) == list(ours.items())


def crt_sign(
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    provider: Any,
    region: str,
    service: str,
    *,
    when_s: float | None = None,
) -> dict[str, str]:
    """``headers`` signed by awscrt (``provider``: an ``AwsCredentialsProvider``), dated ``when_s`` or now,
    with the body's SHA-256 as botocore computes it."""
    from awscrt import auth as crt_auth
    from awscrt import http as crt_http

    config = crt_auth.AwsSigningConfig(
        algorithm=crt_auth.AwsSigningAlgorithm.V4,
        signature_type=crt_auth.AwsSignatureType.HTTP_REQUEST_HEADERS,
        credentials_provider=provider,
        region=region,
        service=service,
        date=None if when_s is None else datetime.datetime.fromtimestamp(when_s, datetime.UTC),
        signed_body_value=hashlib.sha256(body).hexdigest(),
    )
    request = crt_http.HttpRequest("POST", path, crt_http.HttpHeaders(list(headers.items())))
    crt_auth.aws_sign_request(request, config).result()  # static credentials: already done
    return dict(request.headers)


def _stamps(second: int) -> tuple[str, str]:
    """X-Amz-Date and the scope's date of a UTC second."""
    stamp = datetime.datetime.fromtimestamp(second, datetime.UTC)
    return stamp.strftime("%Y%m%dT%H%M%SZ"), stamp.strftime("%Y%m%d")
