"""The transport seam: one protocol, several implementations (boto3, container, fake).

A transport sends one already-encoded body to one endpoint and returns the raw response, or raises
an ``EndpointError`` subclass. Third-party exceptions never cross this boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class InvokeResponse:
    """What came back from one successful invocation."""

    body: bytes
    content_type: str | None
    variant: str | None
    http_status: int = 200
    custom_attributes: str | None = None


@dataclass(frozen=True)
class StreamResponse:
    """A response stream that has started (HTTP 200): its payload parts arrive as ``parts`` is iterated.

    Iterating raises ``EndpointError`` with stage ``first_part`` or ``mid_stream`` when the stream
    fails; ``close`` releases the connection early.
    """

    content_type: str | None
    variant: str | None
    parts: Iterator[bytes]
    close: Callable[[], None]
    http_status: int = 200


class StreamTransport(Protocol):
    """Sends InvokeEndpointWithResponseStream requests for one endpoint."""

    def invoke_stream(self, body: bytes, content_type: str, inference_id: str) -> StreamResponse:
        """Start one stream (exactly one attempt). Raises ``EndpointError`` (stage ``request``)."""
        ...

    def close(self) -> None: ...


class Transport(Protocol):
    """Sends requests for one endpoint; shared by every user of a process."""

    def invoke(self, body: bytes, content_type: str, inference_id: str) -> InvokeResponse:
        """Send one request (exactly one attempt). Raises ``bench.errors.EndpointError``."""
        ...

    def close(self) -> None: ...
