"""Transports: how encoded requests reach an endpoint (see ``base.Transport``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.config import EndpointSpec, TransportSpec, pool_size
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


def make_transport(endpoint: EndpointSpec, spec: TransportSpec, *, users: int = 0) -> Transport:
    """The transport for a run: the container contract for ``--container-url``, else boto3 or fast.

    ``users``: the most users this process will run at once (its pool holds a connection for each)."""
    if endpoint.container_url:
        from bench.transport.container import ContainerTransport

        transport = ContainerTransport(endpoint, spec, pool_size=pool_size(users))
        transport.ping()
        return transport
    return make_stream_transport(endpoint, spec, users=users)


def make_stream_transport(
    endpoint: EndpointSpec, spec: TransportSpec, *, users: int = 0
) -> FastTransport | Boto3Transport:
    """The SDK's operations (both, streaming too): boto3, or fast (``spec.kind``)."""
    if spec.kind == "fast":
        from bench.transport.fast import FastTransport

        return FastTransport(endpoint, spec, pool_size=pool_size(users))
    from bench.transport.boto import Boto3Transport

    return Boto3Transport(endpoint, spec, pool_size=pool_size(users))
