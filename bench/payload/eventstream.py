"""AWS event-stream message encoder (PROTOCOLS.md 2.1-2.3): the frames of InvokeEndpointWithResponseStream.

Pure codec, stdlib only. A message is::

    total_length:u32 | headers_length:u32 | prelude_crc:u32 | headers | payload | message_crc:u32

big-endian, CRC-32 as zlib computes it: ``prelude_crc`` over the first 8 bytes, ``message_crc`` over
everything before it. Headers here are strings only (type 7: ``name_len:u8 name type:u8 len:u16 value``).

- ``payload_part``: one ``PayloadPart`` event (boto3 yields ``{"PayloadPart": {"Bytes": data}}``);
- ``exception_frame``: a modeled in-stream exception (``ModelStreamError``, ``InternalStreamFailure``);
- ``error_frame``: a generic in-stream error (``:error-code`` / ``:error-message``).

botocore raises ``EventStreamError`` for the last two while iterating.
"""

from __future__ import annotations

import json
import struct
import zlib

STRING_HEADER_TYPE = 7
PRELUDE_BYTES = 12  # total_length, headers_length, prelude_crc
MESSAGE_CRC_BYTES = 4
MAX_HEADER_NAME_BYTES = 255
MAX_HEADER_VALUE_BYTES = 65535
PAYLOAD_PART_HEADERS = [
    (":event-type", "PayloadPart"),
    (":content-type", "application/octet-stream"),
    (":message-type", "event"),
]


def encode_message(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    """One event-stream message with string-typed ``headers`` (in the order given) and ``payload``."""
    encoded_headers = b"".join(_encode_header(name, value) for name, value in headers)
    total_length = PRELUDE_BYTES + len(encoded_headers) + len(payload) + MESSAGE_CRC_BYTES
    prelude = struct.pack(">II", total_length, len(encoded_headers))
    prelude_crc = zlib.crc32(prelude)
    message = prelude + struct.pack(">I", prelude_crc) + encoded_headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


def payload_part(data: bytes) -> bytes:
    """A ``PayloadPart`` event carrying ``data`` (110 bytes for ``b"hello"``, PROTOCOLS.md 2.4)."""
    return encode_message(PAYLOAD_PART_HEADERS, data)


def exception_frame(exception_type: str, message: str, error_code: str | None = None) -> bytes:
    """A modeled exception, e.g. ``ModelStreamError`` with ErrorCode ``StreamBroken``; JSON payload."""
    body: dict[str, str] = {"Message": message}
    if error_code is not None:
        body["ErrorCode"] = error_code
    headers = [
        (":exception-type", exception_type),
        (":content-type", "application/json"),
        (":message-type", "exception"),
    ]
    return encode_message(headers, json.dumps(body, separators=(",", ":")).encode("utf-8"))


def error_frame(code: str, message: str) -> bytes:
    """A generic error message: ``:message-type`` error with ``:error-code`` and ``:error-message``."""
    headers = [(":message-type", "error"), (":error-code", code), (":error-message", message)]
    return encode_message(headers, b"")


def _encode_header(name: str, value: str) -> bytes:
    name_bytes = name.encode("utf-8")
    value_bytes = value.encode("utf-8")
    if not 0 < len(name_bytes) <= MAX_HEADER_NAME_BYTES:
        raise ValueError(f"event-stream header name must be 1..255 bytes, got {len(name_bytes)}")
    if len(value_bytes) > MAX_HEADER_VALUE_BYTES:
        raise ValueError(f"event-stream header {name} value is longer than 65535 bytes")
    return (
        struct.pack(">B", len(name_bytes))
        + name_bytes
        + struct.pack(">BH", STRING_HEADER_TYPE, len(value_bytes))
        + value_bytes
    )
