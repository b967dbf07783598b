"""boto3 ``sagemaker-runtime``: one client per process, shared by all of its users.

Exactly one attempt per request (SDK retries off, so a sample is one attempt), explicit connect and
read timeouts, and a connection pool sized to the users (botocore's default of 10 otherwise
discards connections under load, boto/botocore#619).
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore import UNSIGNED
from botocore import exceptions as boto_exc
from botocore.config import Config

from bench.config import EMULATOR_REGION, EndpointSpec, TransportSpec
from bench.errors import ConfigError
from bench.transport.base import InvokeResponse
from bench.transport.translate import from_botocore_error, from_client_error


def is_loopback_url(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    local = endpoint.emulated or (
        endpoint.endpoint_url is not None and is_loopback_url(endpoint.endpoint_url)
    )
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

    def __init__(self, endpoint: EndpointSpec, spec: TransportSpec) -> None:
        session = make_session(endpoint)
        local = endpoint.emulated or (
            endpoint.endpoint_url is not None and is_loopback_url(endpoint.endpoint_url)
        )
        config = Config(
            connect_timeout=spec.connect_timeout_s,
            read_timeout=spec.read_timeout_s,
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=max(10, spec.pool_connections),
            signature_version=UNSIGNED if local and session.get_credentials() is None else None,
        )
        try:
            self._client = session.client(
                "sagemaker-runtime", endpoint_url=endpoint.endpoint_url, config=config
            )
        except ValueError as exc:  # botocore rejects malformed endpoint URLs with ValueError
            raise ConfigError(f"--endpoint-url {endpoint.endpoint_url}: {exc}") from exc
        self.region = session.region_name
        self._fixed: dict[str, Any] = {"EndpointName": endpoint.name}
        for key, value in (
            ("TargetModel", endpoint.target_model),
            ("TargetVariant", endpoint.target_variant),
            ("InferenceComponentName", endpoint.inference_component),
            ("CustomAttributes", endpoint.custom_attributes),
        ):
            if value:
                self._fixed[key] = value

    def invoke(self, body: bytes, content_type: str, inference_id: str) -> InvokeResponse:
        try:
            response = self._client.invoke_endpoint(
                **self._fixed, Body=body, ContentType=content_type, InferenceId=inference_id
            )
            data = response["Body"].read()
        except boto_exc.ClientError as exc:
            raise from_client_error(exc) from exc
        except boto_exc.BotoCoreError as exc:
            raise from_botocore_error(exc) from exc
        return InvokeResponse(
            body=data,
            content_type=response.get("ContentType"),
            variant=response.get("InvokedProductionVariant"),
            http_status=response["ResponseMetadata"]["HTTPStatusCode"],
            custom_attributes=response.get("CustomAttributes"),
        )

    def close(self) -> None:
        self._client.close()
