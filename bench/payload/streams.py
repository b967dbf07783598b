"""Streamed LLM responses: exact reassembly of lines across payload parts, one parser per format.

A payload part is an arbitrary slice of the container's byte stream (PROTOCOLS.md 5.1): it can hold
half a line or several lines. ``StreamParser.feed`` takes each part's bytes as they arrive and returns
the text pieces completed by them; nothing is decoded before its line is complete, and nothing is
lost when a line spans parts. Formats:

- ``ndjson``: one JSON object per line, ``{"outputs": [" tok"]}`` (AWS's documentation example);
  ``{"token": {"text": ...}}`` lines (LMI jsonlines) are read too.
- ``tgi``: server-sent events ``data:{"token": {"text": " tok", "special": false}, ...}``; the final
  ``generated_text`` is not counted again; special tokens carry no text.
- ``openai``: ``data: {"choices": [{"delta": {"content": " tok"}}]}`` ... ``data: [DONE]``; a
  ``usage.completion_tokens`` gives the token count.
- ``triton``: Triton's generate_stream events ``data: {"text_output": " tok"}``.

- ``sse``: any server-sent events: JSON data of any shape above, or plain text data.
- ``auto``: decided from the stream itself. Its first line says how it is framed: a JSON object or
  array is a JSON line (``ndjson``), an SSE field (``data:``, ``event:``, ``id:``, ``retry:``, ``:``)
  an event stream (the content type decides only a line that is neither); then the first complete
  event's data says which SSE format it is (``choices``: ``openai``, ``token``: ``tgi``,
  ``text_output``: ``triton``, anything else: ``sse``).

In every format an object with an ``error`` member is an in-band model error (TGI, OpenAI-compatible
servers and Triton report failures after the 200 this way).

A stream in which the format finds no event at all (a wrong ``--stream-format``: ``openai`` against
TGI, NDJSON or Triton reads nothing) is a ``DecodeError`` at ``finish``, whose message shows the
stream's first bytes and the format they look like; so is a first line that is not JSON where JSON
is due. A stream is never "ok" with nothing read from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bench.errors import DecodeError

STREAM_FORMATS = ("auto", "ndjson", "sse", "openai", "tgi", "triton")
HEAD_BYTES = 80  # how much of a stream's start an error message shows


class InBandError(Exception):
    """An error the model reported inside a 200 stream (Triton's ``data: {"error": ...}``)."""


def _tgi_text(obj: dict[str, Any]) -> str | None:
    token = obj.get("token")
    if not isinstance(token, dict):
        return None
    if token.get("special"):
        return ""
    text = token.get("text")
    return text if isinstance(text, str) else ""


def _openai_text(obj: dict[str, Any]) -> str | None:
    choices = obj.get("choices")
    if not isinstance(choices, list):
        return None
    if not choices:
        return ""  # a usage-only chunk
    choice = choices[0] if isinstance(choices[0], dict) else {}
    delta = choice.get("delta")
    if isinstance(delta, dict):
        content = delta.get("content")
        return content if isinstance(content, str) else ""
    text = choice.get("text")  # completions (not chat) chunks
    return text if isinstance(text, str) else ""


def _triton_text(obj: dict[str, Any]) -> str | None:
    if "error" in obj:
        raise InBandError(str(obj["error"]))
    text = obj.get("text_output")
    if text is None:
        return None
    return text if isinstance(text, str) else str(text)


def _ndjson_text(obj: dict[str, Any]) -> str | None:
    outputs = obj.get("outputs")
    if isinstance(outputs, list):
        return "".join(str(o) for o in outputs)
    if isinstance(outputs, str):
        return outputs
    return _tgi_text(obj)


_EXTRACTORS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "ndjson": _ndjson_text,
    "tgi": _tgi_text,
    "openai": _openai_text,
    "triton": _triton_text,
}


def _any_text(obj: dict[str, Any]) -> str | None:
    for extract in (_openai_text, _tgi_text, _triton_text, _ndjson_text):
        text = extract(obj)
        if text is not None:
            return text
    return None


_SSE_FIELDS = (b"data:", b"event:", b"id:", b"retry:", b":")
_LINES, _SSE = "lines", "sse"  # the two framings: JSON lines, server-sent events


def _framing(content_type: str | None, first_line: bytes) -> str:
    """How a stream is framed, from its first non-blank line (the content type decides only a line
    that is neither a JSON value nor an SSE field)."""
    text = first_line.strip()
    if text.startswith((b"{", b"[")):
        return _LINES
    if text.startswith(_SSE_FIELDS):
        return _SSE
    return _SSE if (content_type or "").startswith("text/event-stream") else _LINES


def _event_format(data: bytes) -> str:
    """The SSE format of an event from its data: the keys of its JSON object, else ``sse``."""
    try:
        obj = json.loads(data)
    except ValueError:
        return "sse"
    if isinstance(obj, dict):
        if "choices" in obj:
            return "openai"
        if "token" in obj:
            return "tgi"
        if "text_output" in obj or "error" in obj:
            return "triton"
    return "sse"


def detect_format(content_type: str | None, first_event: bytes) -> str:
    """The format of a stream from its content type and its first complete event or line."""
    if _framing(content_type, first_event) == _LINES:
        return "ndjson"
    data = [
        line.strip()[5:].strip() for line in first_event.splitlines() if line.strip().startswith(b"data:")
    ]
    return _event_format(b"\n".join(data))


class StreamParser:
    """Incremental parser of one streamed response. ``feed`` bytes, get completed text pieces.

    A piece may be empty (a role-only or empty first chunk): it is a piece, not a token. Raises
    ``DecodeError`` for a line that is not valid JSON where JSON is due and, at ``finish``, for a
    stream in which the format found no event (``events`` counts those it read); ``InBandError`` for
    an in-band model error. With ``auto``, ``format`` is the detected one once the first event is in.
    """

    def __init__(self, fmt: str = "auto", content_type: str | None = None) -> None:
        if fmt not in STREAM_FORMATS:
            raise ValueError(f"unknown stream format {fmt!r}")
        self.requested = fmt
        self.format = fmt
        self.content_type = content_type
        self.usage_tokens: int | None = None
        self.done = False
        self.events = 0  # events (lines or SSE events) the format recognised, text or not
        self.bytes_seen = 0
        self._head = b""  # the stream's first HEAD_BYTES, for error messages
        self._first_line: bytes | None = None  # the first non-blank line, for the hint in them
        self._framing = None if fmt == "auto" else _LINES if fmt == "ndjson" else _SSE
        self._buffer = b""
        self._data_lines: list[bytes] = []

    def feed(self, data: bytes) -> list[str]:
        self.bytes_seen += len(data)
        if len(self._head) < HEAD_BYTES:
            self._head = (self._head + data)[:HEAD_BYTES]
        self._buffer += data
        pieces: list[str] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            line, self._buffer = self._buffer[: end + 1], self._buffer[end + 1 :]
            self._line(line, pieces)
        return pieces

    def finish(self) -> list[str]:
        """End of stream: a last line without its newline, and a pending SSE event, count too.

        Raises ``DecodeError`` when the whole stream held no event of the format."""
        pieces: list[str] = []
        if self._buffer:
            line, self._buffer = self._buffer, b""
            self._line(line + b"\n", pieces)
        if self._data_lines:
            self._dispatch(b"\n".join(self._data_lines), pieces)
            self._data_lines = []
        if not self.events:
            what = "no event" if self.format == "auto" else f"no {self.format} event"
            raise DecodeError(f"{self._label()}: {what} in {self.bytes_seen} bytes{self._evidence()}")
        return pieces

    def _label(self) -> str:
        if self.requested == "auto":
            return "auto stream" if self.format == "auto" else f"auto stream (read as {self.format})"
        return f"{self.format} stream"

    def _evidence(self) -> str:
        """What the stream's start was and, when it looks like another format, which."""
        if not self.bytes_seen:
            return " (the stream was empty)"
        text = f"; first bytes {self._head!r}"
        if self._first_line is not None:
            looks = detect_format(self.content_type, self._first_line)
            if looks != self.format and looks != "sse":
                return f"{text}; it looks like {looks}: use --stream-format {looks} (or auto)"
        return f"{text}; check --stream-format (auto detects ndjson, openai, tgi and triton)"

    def _line(self, line: bytes, pieces: list[str]) -> None:
        if self._first_line is None:
            if not line.strip():
                return
            self._first_line = line
        if self._framing is None:  # auto: the first non-blank line decides the framing
            self._framing = _framing(self.content_type, line)
            if self._framing == _LINES:
                self.format = "ndjson"
        if self._framing == _LINES:
            if line.strip():
                self._json_piece(line, _ndjson_text, pieces)
            return
        stripped = line.rstrip(b"\r\n")
        if not stripped:  # a blank line ends an SSE event
            if self._data_lines:
                self._dispatch(b"\n".join(self._data_lines), pieces)
                self._data_lines = []
            return
        if stripped.startswith(b"data:"):
            value = stripped[5:]
            self._data_lines.append(value[1:] if value.startswith(b" ") else value)
        # "event:", "id:", "retry:" and ":" comment lines carry no text

    def _dispatch(self, data: bytes, pieces: list[str]) -> None:
        if data.strip() == b"[DONE]":
            self.done = True
            return
        if self.format == "auto":  # the first event decides the format
            self.format = _event_format(data)
        if self.format == "sse":
            try:
                obj = json.loads(data)
            except ValueError:
                self.events += 1
                pieces.append(data.decode("utf-8", errors="replace"))
                return
            self._object_piece(obj, _any_text, pieces)
            return
        self._json_piece(data, _EXTRACTORS[self.format], pieces)

    def _json_piece(
        self, data: bytes, extract: Callable[[dict[str, Any]], str | None], pieces: list[str]
    ) -> None:
        try:
            obj = json.loads(data)
        except ValueError as exc:
            if not self.events:  # nothing read yet: most likely the wrong format
                raise DecodeError(f"{self._label()}: not JSON ({exc}){self._evidence()}") from None
            raise DecodeError(f"{self._label()}: not JSON: {data[:120]!r} ({exc})") from None
        self._object_piece(obj, extract, pieces)

    def _object_piece(
        self, obj: Any, extract: Callable[[dict[str, Any]], str | None], pieces: list[str]
    ) -> None:
        if isinstance(obj, list) and obj and isinstance(obj[0], dict):
            obj = obj[0]  # TGI's non-streaming shape [{"generated_text": ...}]
        if not isinstance(obj, dict):
            raise DecodeError(f"{self._label()}: expected a JSON object, got {type(obj).__name__}")
        if obj.get("error"):  # TGI, vLLM/OpenAI-compatible servers and Triton report failures in-band
            error = obj["error"]
            raise InBandError(str(error.get("message", error) if isinstance(error, dict) else error))
        usage = obj.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
            self.usage_tokens = usage["completion_tokens"]
        text = extract(obj)
        if text is not None:
            self.events += 1
            pieces.append(text)
