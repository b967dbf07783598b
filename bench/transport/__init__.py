"""Transports: how encoded requests reach an endpoint (see ``base.Transport``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.config import EndpointSpec, TransportSpec
from bench.transport.base import InvokeResponse, StreamResponse, StreamTransport, Transport

if TYPE_CHECKING:  # imported when used: each pulls in its HTTP stack
    from bench.transport.boto import Boto3Transport
    from bench.transport.fast import FastTransport

__all__ = [
    "InvokeResponse",
    "StreamResponse",
    "StreamTransport",
    "Transport",
    "make_stream_transport",
    "make_transport",
]


def make_transport(endpoint: EndpointSpec, spec: TransportSpec) -> Transport:
    """The transport for a run: the container contract for ``--container-url``, else boto3 or fast."""
    if endpoint.container_url:
        from bench.transport.container import ContainerTransport

        transport = ContainerTransport(endpoint, spec)
        transport.ping()
        return transport
    return make_stream_transport(endpoint, spec)


def make_stream_transport(endpoint: EndpointSpec, spec: TransportSpec) -> FastTransport | Boto3Transport:
    """The SDK's operations (both, streaming too): boto3, or fast (``spec.kind``)."""
    if spec.kind == "fast":
        from bench.transport.fast import FastTransport

        return FastTransport(endpoint, spec)
    from bench.transport.boto import Boto3Transport

    return Boto3Transport(endpoint, spec)
