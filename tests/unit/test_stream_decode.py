"""Event-stream frames through botocore's own EventStream and our translation: corruption is a decode error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.eventstream import EventStream
from botocore.parsers import EventStreamJSONParser
from clients import runtime_client
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.errors import ConnectionError_, DecodeError, EndpointError, InternalStreamFailure, ModelStreamError
from bench.payload.eventstream import exception_frame, payload_part
from bench.transport.boto import payload_parts

_CLIENT = runtime_client()  # its service model only: it sends nothing
_SHAPE = _CLIENT.meta.service_model.operation_model("InvokeEndpointWithResponseStream").output_shape.members[
    "Body"
]


class _Raw:
    """The urllib3 response botocore reads from, reduced to ``stream()`` over fixed chunks."""

    def __init__(self, chunks: list[bytes], failure: Exception | None = None) -> None:
        self._chunks = chunks
        self._failure = failure

    def stream(self) -> Iterator[bytes]:
        yield from self._chunks
        if self._failure is not None:
            raise self._failure

    def close(self) -> None:
        pass


def _parts(chunks: list[bytes], failure: Exception | None = None) -> list[bytes]:
    stream = EventStream(
        _Raw(chunks, failure), _SHAPE, EventStreamJSONParser(), "InvokeEndpointWithResponseStream"
    )
    return list(payload_parts(stream))


def test_parts_and_in_stream_exceptions_keep_their_error_code() -> None:
    frames = (
        payload_part(b"a")
        + payload_part(b"bc")
        + exception_frame("ModelStreamError", "timed out", "ModelInvocationTimeExceeded")
    )
    received: list[bytes] = []
    parts = payload_parts(EventStream(_Raw([frames[:7], frames[7:]]), _SHAPE, EventStreamJSONParser(), "x"))
    received += [next(parts), next(parts)]
    with pytest.raises(ModelStreamError) as caught:
        next(parts)
    assert received == [b"a", b"bc"]
    assert (caught.value.error_type, caught.value.stage, caught.value.message) == (
        "ModelStreamError:ModelInvocationTimeExceeded",
        "mid_stream",
        "timed out",
    )
    with pytest.raises(InternalStreamFailure) as first:
        _parts([exception_frame("InternalStreamFailure", "oops")])
    assert first.value.stage == "first_part"


def test_a_cut_connection_is_a_connection_error() -> None:
    from urllib3.exceptions import ProtocolError

    with pytest.raises(ConnectionError_) as caught:
        _parts([payload_part(b"a")], ProtocolError("Response ended prematurely"))
    assert caught.value.stage == "mid_stream"


@settings(max_examples=200, deadline=None)
@given(
    payloads=st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=5),
    position=st.integers(min_value=0, max_value=10_000),
    flip=st.integers(min_value=1, max_value=255),
    chunk=st.integers(min_value=1, max_value=64),
)
def test_a_corrupted_frame_is_a_decode_error_never_a_crash(
    payloads: list[bytes], position: int, flip: int, chunk: int
) -> None:
    data = bytearray(b"".join(payload_part(p) for p in payloads))
    data[position % len(data)] ^= flip
    chunks = [bytes(data[i : i + chunk]) for i in range(0, len(data), chunk)]
    received: list[bytes] = []
    failure: EndpointError | None = None
    try:
        received.extend(payload_parts(EventStream(_Raw(chunks), _SHAPE, EventStreamJSONParser(), "x")))
    except EndpointError as exc:  # DecodeError; any other class would be a misread message
        failure = exc
    assert isinstance(failure, DecodeError), (
        f"corruption at {position % len(data)}: {failure!r}, {received!r}"
    )
    assert failure.stage in ("first_part", "mid_stream")
    assert received == payloads[: len(received)]
