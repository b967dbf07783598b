"""The event-stream encoder against PROTOCOLS.md 2.4's golden bytes and botocore's own decoder."""

from __future__ import annotations

import itertools
import json

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer, EventStreamMessage
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.payload.eventstream import encode_message, error_frame, exception_frame, payload_part

# PROTOCOLS.md 2.4: one PayloadPart frame, payload b"hello" (110 bytes).
HELLO_FRAME = bytes.fromhex(
    "0000006e 00000059 5197ff15 0b3a6576 656e742d 74797065 07000b50 61796c6f"
    "61645061 72740d3a 636f6e74 656e742d 74797065 07001861 70706c69 63617469"
    "6f6e2f6f 63746574 2d737472 65616d0d 3a6d6573 73616765 2d747970 65070005"
    "6576656e 7468656c 6c6f2973 8ab4"
)
# PROTOCOLS.md 2.4: the minimal frame botocore accepts (only :event-type, payload b"hi", 44 bytes).
MINIMAL_FRAME = bytes.fromhex(
    "0000002c 0000001a 9c71e416 0b3a6576 656e742d 74797065 07000b50 61796c6f61645061 72746869 967c35f8"
)


def _decode(data: bytes) -> list[EventStreamMessage]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_payload_part_reproduces_the_worked_example() -> None:
    assert payload_part(b"hello") == HELLO_FRAME
    assert len(HELLO_FRAME) == 110
    assert encode_message([(":event-type", "PayloadPart")], b"hi") == MINIMAL_FRAME


def test_model_stream_error_reproduces_the_worked_example() -> None:
    frame = exception_frame("ModelStreamError", "boom", "StreamBroken")
    assert len(frame) == 155
    assert frame[:16] == bytes.fromhex("0000009b 0000005e 4f27b59b 0f3a6578")
    assert frame[-4:] == bytes.fromhex("ef94b034")


def test_botocore_decodes_every_frame_kind() -> None:
    frames = [
        payload_part(b"hello"),
        payload_part(b""),
        exception_frame("ModelStreamError", "boom", "ModelInvocationTimeExceeded"),
        exception_frame("InternalStreamFailure", "oops"),
        error_frame("SomethingBad", "it broke"),
    ]
    messages = _decode(b"".join(frames))
    assert [m.headers for m in messages] == [
        {":event-type": "PayloadPart", ":content-type": "application/octet-stream", ":message-type": "event"},
        {":event-type": "PayloadPart", ":content-type": "application/octet-stream", ":message-type": "event"},
        {
            ":exception-type": "ModelStreamError",
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        {
            ":exception-type": "InternalStreamFailure",
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        {":message-type": "error", ":error-code": "SomethingBad", ":error-message": "it broke"},
    ]
    assert [m.payload for m in messages[:2]] == [b"hello", b""]
    assert json.loads(messages[2].payload) == {"Message": "boom", "ErrorCode": "ModelInvocationTimeExceeded"}
    assert json.loads(messages[3].payload) == {"Message": "oops"}
    assert messages[4].payload == b""
    assert [m.to_response_dict()["status_code"] for m in messages] == [200, 200, 400, 400, 400]


def test_non_ascii_header_values_and_payloads() -> None:
    headers = [(":event-type", "Pàrt"), ("x-note", "ünïcode ✓")]
    (message,) = _decode(encode_message(headers, "é".encode()))
    assert message.headers == {":event-type": "Pàrt", "x-note": "ünïcode ✓"}
    assert message.payload == "é".encode()


def test_header_limits() -> None:
    with pytest.raises(ValueError, match="header name"):
        encode_message([("", "x")], b"")
    with pytest.raises(ValueError, match="longer than 65535"):
        encode_message([("x", "y" * 65536)], b"")


@pytest.mark.parametrize("position", range(len(HELLO_FRAME) - 9, len(HELLO_FRAME) - 4))  # the 5 payload bytes
def test_a_flipped_payload_byte_is_detected(position: int) -> None:
    corrupted = bytearray(HELLO_FRAME)
    corrupted[position] ^= 0x01
    with pytest.raises(ChecksumMismatch):
        _decode(bytes(corrupted))


def test_a_flipped_prelude_crc_byte_is_detected() -> None:
    corrupted = bytearray(HELLO_FRAME)
    corrupted[9] ^= 0x80
    with pytest.raises(ChecksumMismatch):
        _decode(bytes(corrupted))


@settings(max_examples=200, deadline=None)
@given(
    payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=8),
    cut_points=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_frames_split_anywhere_decode_to_the_same_messages(
    payloads: list[bytes], cut_points: list[int]
) -> None:
    stream = b"".join(payload_part(p) for p in payloads)
    cuts = sorted({c % (len(stream) + 1) for c in cut_points} | {0, len(stream)})
    buffer = EventStreamBuffer()
    decoded = []
    for start, end in itertools.pairwise(cuts):
        buffer.add_data(stream[start:end])
        decoded += [m.payload for m in buffer]
    assert decoded == payloads
