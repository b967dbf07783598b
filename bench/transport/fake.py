"""A fake transport for unit tests: scripted responses, recorded calls, no sockets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.errors import EndpointError
from bench.transport.base import InvokeResponse

Responder = Callable[[bytes, str, str], InvokeResponse]


@dataclass
class FakeCall:
    body: bytes
    content_type: str
    inference_id: str


@dataclass
class FakeTransport:
    """Answers each call with the next scripted item (cycled) or a responder function.

    A scripted ``EndpointError`` is raised instead of returned.
    """

    script: Sequence[InvokeResponse | EndpointError] | Responder
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

    def close(self) -> None:
        self.closed = True
