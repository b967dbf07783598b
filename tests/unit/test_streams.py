"""Stream parsers: exact reassembly across any split of the bytes, for every format."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.errors import DecodeError
from bench.payload.streams import InBandError, StreamParser, detect_format

TOKENS = [" The", " quick", " brown", " fox", "\u00e9t\u00e9", ' {\\"x\\"}', " \u2603", "\n"]


def _events(fmt: str, tokens: list[str], *, first: str = "none") -> bytes:
    out = []
    if fmt == "ndjson":
        if first != "none":
            out.append(json.dumps({"outputs": [""]}) + "\n")
        out += [json.dumps({"outputs": [t]}) + "\n" for t in tokens]
    elif fmt == "tgi":
        if first != "none":
            out.append("data:" + json.dumps({"token": {"id": 0, "text": "", "special": False}}) + "\n\n")
        for i, t in enumerate(tokens):
            final = "".join(tokens) if i == len(tokens) - 1 else None
            out.append(
                "data:"
                + json.dumps({"token": {"id": i, "text": t, "special": False}, "generated_text": final})
                + "\n\n"
            )
    elif fmt == "openai":
        if first == "role":
            out.append(
                "data: " + json.dumps({"choices": [{"delta": {"role": "assistant", "content": ""}}]}) + "\n\n"
            )
        out += [
            "data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": t}}]}) + "\n\n"
            for t in tokens
        ]
        out.append(
            "data: " + json.dumps({"choices": [], "usage": {"completion_tokens": len(tokens)}}) + "\n\n"
        )
        out.append("data: [DONE]\n\n")
    elif fmt == "triton":
        out += ["data: " + json.dumps({"model_name": "m", "text_output": t}) + "\n\n" for t in tokens]
    return "".join(out).encode("utf-8")


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def _parse(fmt: str, parts: list[bytes], content_type: str | None = None) -> tuple[list[str], StreamParser]:
    parser = StreamParser(fmt, content_type)
    pieces: list[str] = []
    for part in parts:
        pieces += parser.feed(part)
    pieces += parser.finish()
    return pieces, parser


@settings(max_examples=150, deadline=None)
@given(
    fmt=st.sampled_from(["ndjson", "tgi", "openai", "triton"]),
    tokens=st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
    auto=st.booleans(),
)
def test_any_split_reassembles_to_the_same_tokens(
    fmt: str, tokens: list[str], cuts: list[int], auto: bool
) -> None:
    data = _events(fmt, tokens)
    content_type = "application/jsonlines" if fmt == "ndjson" else "text/event-stream"
    pieces, parser = _parse("auto" if auto else fmt, _split(data, cuts), content_type)
    assert [p for p in pieces if p] == [t for t in tokens if t]
    assert "".join(pieces) == "".join(tokens)
    if fmt == "openai":
        assert parser.usage_tokens == len(tokens)
        assert parser.done


@settings(max_examples=60, deadline=None)
@given(
    fmt=st.sampled_from(["ndjson", "tgi", "openai", "triton"]), merges=st.integers(min_value=1, max_value=5)
)
def test_merged_lines_in_one_part(fmt: str, merges: int) -> None:
    data = _events(fmt, TOKENS)
    chunk = max(1, len(data) // merges)
    pieces, _ = _parse(fmt, [data[i : i + chunk] for i in range(0, len(data), chunk)])
    assert [p for p in pieces if p] == TOKENS


def test_empty_and_role_only_first_chunks_are_pieces_not_tokens() -> None:
    pieces, _ = _parse("openai", [_events("openai", [" a", " b"], first="role")])
    assert pieces[0] == ""
    assert [p for p in pieces if p] == [" a", " b"]
    pieces, _ = _parse("tgi", [_events("tgi", [" a"], first="empty")])
    assert pieces == ["", " a"]


def test_tgi_special_tokens_and_generated_text_are_not_counted_twice() -> None:
    data = b'data:{"token":{"text":"</s>","special":true},"generated_text":"hello"}\n\n'
    assert _parse("tgi", [data])[0] == [""]


def test_detection() -> None:
    assert detect_format("application/jsonlines", b'{"outputs": ["a"]}\n') == "ndjson"
    assert detect_format("text/event-stream", b'data: {"choices": []}\n') == "openai"
    assert detect_format("text/event-stream", b'data:{"token": {}}\n') == "tgi"
    assert detect_format(None, b'data: {"text_output": "x"}\n') == "triton"
    assert detect_format("text/event-stream", b"data: plain words\n") == "sse"


def test_generic_sse_plain_text_and_multiline_events() -> None:
    pieces, _ = _parse("sse", [b"event: token\ndata: hel", b"lo\n\n: comment\ndata: a\ndata: b\n\n"])
    assert pieces == ["hello", "a\nb"]


def test_triton_in_band_error_and_bad_json() -> None:
    with pytest.raises(InBandError, match="boom"):
        _parse("triton", [b'data: {"text_output": "a"}\n\ndata: {"error": "boom"}\n\n'])
    with pytest.raises(DecodeError, match="not JSON"):
        _parse("ndjson", [b'{"outputs": ["a"]}\n{oops\n'])
    with pytest.raises(DecodeError):
        _parse("openai", [b"data: [1, 2]\n\n"])


def test_last_line_without_newline_counts() -> None:
    assert _parse("ndjson", [b'{"outputs": ["a"]}\n{"outputs": ["b"]}'])[0] == ["a", "b"]
