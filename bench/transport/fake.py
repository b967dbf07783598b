"""A fake transport for unit tests: scripted responses and streams, recorded calls, no sockets."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from bench.errors import EndpointError
from bench.transport.base import InvokeResponse, StreamResponse

Responder = Callable[[bytes, str, str], InvokeResponse]


@dataclass
class FakeCall:
    body: bytes
    content_type: str
    inference_id: str


@dataclass(frozen=True)
class FakeStream:
    """A scripted stream: its parts in order; an ``EndpointError`` among them is raised there."""

    parts: Sequence[bytes | EndpointError]
    content_type: str | None = "text/event-stream"
    variant: str | None = "AllTraffic"


@dataclass
class FakeTransport:
    """Answers each call with the next scripted item (cycled) or a responder function.

    A scripted ``EndpointError`` is raised instead of returned.
    """

    script: Sequence[InvokeResponse | EndpointError] | Responder = ()
    streams: Sequence[FakeStream | EndpointError] = ()
    calls: list[FakeCall] = field(default_factory=list)
    closed: bool = False

    def invoke(self, body: bytes, content_type: str, inference_id: str) -> InvokeResponse:
        self.calls.append(FakeCall(body, content_type, inference_id))
        if callable(self.script):
            return self.script(body, content_type, inference_id)
        item = self.script[(len(self.calls) - 1) % len(self.script)]
        if isinstance(item, EndpointError):
            raise item
        return item

    def invoke_stream(self, body: bytes, content_type: str, inference_id: str) -> StreamResponse:
        self.calls.append(FakeCall(body, content_type, inference_id))
        item = self.streams[(len(self.calls) - 1) % len(self.streams)]
        if isinstance(item, EndpointError):
            raise item
        return StreamResponse(item.content_type, item.variant, _parts(item.parts), close=lambda: None)

    def close(self) -> None:
        self.closed = True


def _parts(parts: Sequence[bytes | EndpointError]) -> Iterator[bytes]:
    for part in parts:
        if isinstance(part, EndpointError):
            raise part
        yield part
