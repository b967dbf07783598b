"""The streaming user with the fake transport inside a real Locust Environment."""

from __future__ import annotations

from pathlib import Path

from clients import run_streaming_user

from bench.config import EndpointSpec, StreamSpec
from bench.errors import ModelError, ModelStreamError
from bench.transport.fake import FakeStream, FakeTransport


def _run(tmp_path: Path, transport: FakeTransport, count: int = 1, fmt: str = "auto") -> list[dict[str, str]]:
    spec = StreamSpec(
        endpoint=EndpointSpec(name="llm"), stream_format=fmt, prompts=("hi", "there"), max_tokens=8
    )
    return run_streaming_user(spec, transport, tmp_path / "requests.csv", count=count)


ROLE = b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n'
TOK = b'data: {"choices":[{"delta":{"content":" tok"}}]}\n\n'
USAGE = b'data: {"choices":[],"usage":{"completion_tokens":3}}\n\ndata: [DONE]\n\n'


def test_a_stream_record_has_every_measurement(tmp_path: Path) -> None:
    parts = [ROLE, TOK[:10], TOK[10:] + TOK, TOK + USAGE]
    (row,) = _run(tmp_path, FakeTransport(streams=[FakeStream(parts)]))
    assert (row["request_type"], row["name"], row["status"], row["variant"]) == (
        "stream",
        "llm",
        "ok",
        "AllTraffic",
    )
    assert row["parts"] == "4"
    assert row["tokens"] == "3"  # the server's usage
    assert float(row["ttfp_ms"]) <= float(row["ttft_ms"]) <= float(row["latency_ms"])
    assert float(row["itl_mean_ms"]) <= float(row["itl_max_ms"])
    assert int(row["response_bytes"]) == sum(len(p) for p in parts)


def test_tokens_are_counted_without_usage(tmp_path: Path) -> None:
    (row,) = _run(
        tmp_path,
        FakeTransport(
            streams=[FakeStream([b'{"outputs": [" a"]}\n{"outputs": [" b"]}\n'], "application/jsonlines")]
        ),
    )
    assert (row["tokens"], row["parts"], row["itl_mean_ms"]) == ("2", "1", "")


def test_mid_stream_failure_keeps_what_was_measured(tmp_path: Path) -> None:
    broken = FakeStream([TOK, TOK, ModelStreamError("broken", error_code="StreamBroken", stage="mid_stream")])
    (row,) = _run(tmp_path, FakeTransport(streams=[broken]))
    assert (row["status"], row["error_type"], row["error_stage"]) == (
        "error",
        "ModelStreamError:StreamBroken",
        "mid_stream",
    )
    assert (row["parts"], row["tokens"]) == ("2", "2")
    assert row["ttfp_ms"] != ""
    assert row["ttft_ms"] != ""


def test_failures_before_and_at_the_first_part(tmp_path: Path) -> None:
    rows = _run(
        tmp_path,
        FakeTransport(
            streams=[
                ModelError("bad prompt", original_status=400),
                FakeStream([b"data: {oops\n\n"]),
                FakeStream([b'data: {"error": "no"}\n\n']),
            ]
        ),
        count=3,
        fmt="openai",
    )
    assert [(r["error_type"], r["error_stage"]) for r in rows] == [
        ("ModelError", "request"),
        ("Decode", "decode"),
        ("ModelError", "first_part"),
    ]
    assert rows[0]["parts"] == "0"
    assert rows[0]["ttfp_ms"] == ""
