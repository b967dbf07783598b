"""A wrong ``--stream-format`` is a ``Decode`` error that shows the stream's first bytes; ``auto`` finds
the right one from the first event. The bytes are the emulator's own renderings of each format."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from clients import run_streaming_user

from bench.config import EndpointSpec, StreamSpec, TransportSpec
from bench.emulator.llmformats import content_type, generate_tokens, render_events
from bench.emulator.process import EmulatorProcess
from bench.errors import DecodeError
from bench.payload.streams import HEAD_BYTES, STREAM_FORMATS, StreamParser
from bench.transport import make_stream_transport
from bench.transport.fake import FakeStream, FakeTransport

PROMPT = "Which format does this endpoint stream?"
TOKENS = generate_tokens(PROMPT, 6)
FIRST_CHUNK = {"ndjson": "none", "tgi": "empty", "openai": "role", "triton": "none"}
SSE_FORMATS = ("tgi", "openai", "triton")


def _stream(fmt: str) -> bytes:
    return b"".join(render_events(fmt, TOKENS, first_chunk=FIRST_CHUNK[fmt], prompt_tokens=5))


def _wrong_formats(fmt: str) -> list[str]:
    """Every explicit format that cannot read ``fmt`` (``sse`` reads any server-sent events)."""
    readers = {fmt, "sse"} if fmt in SSE_FORMATS else {fmt}
    return [f for f in STREAM_FORMATS if f != "auto" and f not in readers]


def _first_bytes(message: str) -> bytes:
    """The ``first bytes b'...'`` a message shows."""
    found = re.search(r"first bytes (b'(?:[^'\\]|\\.)*'|b\"(?:[^\"\\]|\\.)*\")", message)
    assert found, message
    shown = ast.literal_eval(found.group(1))
    assert isinstance(shown, bytes)
    return shown


def _parse(fmt: str, data: bytes, ctype: str | None, *, step: int = 0) -> tuple[list[str], StreamParser]:
    parser = StreamParser(fmt, ctype)
    step = step or len(data) or 1
    pieces: list[str] = []
    for start in range(0, len(data), step):
        pieces += parser.feed(data[start : start + step])
    return pieces + parser.finish(), parser


CASES = [(real, wrong) for real in FIRST_CHUNK for wrong in _wrong_formats(real)]


@pytest.mark.parametrize(("real", "wrong"), CASES, ids=[f"{w}-on-{r}" for r, w in CASES])
@pytest.mark.parametrize("step", [0, 7], ids=["one-part", "7-byte-parts"])
def test_a_wrong_explicit_format_is_a_decode_error_with_the_first_bytes(
    real: str, wrong: str, step: int
) -> None:
    data = _stream(real)
    with pytest.raises(DecodeError) as caught:
        _parse(wrong, data, content_type(real), step=step)
    error = caught.value
    assert (error.error_type, error.stage) == ("Decode", "decode")
    shown = _first_bytes(error.message)
    first_line = data[: data.index(b"\n") + 1]
    assert data.startswith(shown)  # the stream's start, as far as it was read (HEAD_BYTES at most)
    assert min(len(first_line), HEAD_BYTES) <= len(shown) <= HEAD_BYTES
    assert error.message.startswith(f"{wrong} stream: ")
    assert f"it looks like {real}: use --stream-format {real}" in error.message


@pytest.mark.parametrize("real", list(FIRST_CHUNK))
@pytest.mark.parametrize("step", [0, 1, 13], ids=["one-part", "bytewise", "13-byte-parts"])
def test_auto_reads_each_format_from_its_first_event(real: str, step: int) -> None:
    pieces, parser = _parse("auto", _stream(real), content_type(real), step=step)
    assert parser.format == real
    assert [p for p in pieces if p] == TOKENS
    assert parser.usage_tokens == (len(TOKENS) if real == "openai" else None)


@pytest.mark.parametrize("real", list(FIRST_CHUNK))
@pytest.mark.parametrize("ctype", [None, "application/octet-stream", "text/event-stream"])
def test_auto_trusts_the_bytes_over_a_missing_or_wrong_content_type(real: str, ctype: str | None) -> None:
    pieces, parser = _parse("auto", _stream(real), ctype)
    assert parser.format == real
    assert [p for p in pieces if p] == TOKENS


@pytest.mark.parametrize("real", SSE_FORMATS)
def test_auto_decides_on_the_first_event_not_on_a_comment_or_event_line_before_it(real: str) -> None:
    data = b": keep-alive\n\nevent: message\n" + _stream(real)
    pieces, parser = _parse("auto", data, "text/event-stream", step=5)
    assert parser.format == real
    assert [p for p in pieces if p] == TOKENS


@pytest.mark.parametrize(
    ("fmt", "data", "ctype"),
    [
        ("openai", b"", "text/event-stream"),
        ("auto", b"", None),
        ("auto", b"hello, this is no stream format\n", "text/event-stream"),
        ("sse", b": only comments\n\n: here\n\n", "text/event-stream"),
        ("auto", b'data: {"unknown": 1}\n\n', "text/event-stream"),
        ("openai", b"data: [DONE]\n\n", "text/event-stream"),
    ],
    ids=["empty", "empty-auto", "plain-text", "comments-only", "unknown-json", "done-only"],
)
def test_a_stream_with_no_event_is_never_ok(fmt: str, data: bytes, ctype: str | None) -> None:
    with pytest.raises(DecodeError) as caught:
        _parse(fmt, data, ctype)
    assert caught.value.stage == "decode"
    assert f"in {len(data)} bytes" in caught.value.message
    if data:
        assert _first_bytes(caught.value.message) == data[:HEAD_BYTES]
    else:
        assert "the stream was empty" in caught.value.message


def test_a_decode_error_at_the_end_of_the_stream_is_the_records_error(tmp_path: Path) -> None:
    """The user catches the DecodeError raised by ``finish`` after the loop: one error row, stage decode,
    with what was measured (parts, bytes, first part) and no TTFT or tokens."""
    data = _stream("tgi")
    parts = [data[:100], data[100:]]
    spec = StreamSpec(endpoint=EndpointSpec(name="llm"), stream_format="openai", prompts=(PROMPT,))
    transport = FakeTransport(streams=[FakeStream(parts, content_type("tgi"))])
    (row,) = run_streaming_user(spec, transport, tmp_path / "requests.csv")
    assert (row["status"], row["error_type"], row["error_stage"]) == ("error", "Decode", "decode")
    assert (row["parts"], row["tokens"], row["ttft_ms"]) == ("2", "0", "")
    assert row["ttfp_ms"] != ""
    assert row["response_bytes"] == str(len(data))


EMULATED = {"llm-tgi": "tgi", "llm-openai": "openai", "llm-ndjson": "ndjson", "llm-triton": "triton"}


@pytest.mark.integration
@pytest.mark.parametrize("endpoint", list(EMULATED))
def test_against_the_emulator_wrong_formats_fail_and_auto_reads_them_all(
    emulator: EmulatorProcess, tmp_path: Path, endpoint: str
) -> None:
    """The emulator's LLM endpoints (tests/data/emulator.toml, split and merged parts) through boto3."""
    real = EMULATED[endpoint]
    for fmt in ["auto", *_wrong_formats(real)]:
        spec = StreamSpec(
            endpoint=EndpointSpec(name=endpoint, endpoint_url=emulator.url, emulated=True),
            stream_format=fmt,
            prompts=(PROMPT,),
            max_tokens=12,
        )
        transport = make_stream_transport(spec.endpoint, TransportSpec(read_timeout_s=10.0))
        try:
            rows = run_streaming_user(spec, transport, tmp_path / f"{endpoint}-{fmt}.csv", count=2)
        finally:
            transport.close()
        for row in rows:
            if fmt == "auto":
                assert (row["status"], row["tokens"], row["error_type"]) == ("ok", "12", ""), row
                assert row["ttft_ms"] != ""
            else:
                assert (row["status"], row["error_type"], row["error_stage"]) == ("error", "Decode", "decode")
                assert row["ttft_ms"] == ""
