"""Streams through our boto3 transport and the streaming user, against the real emulator process."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from clients import run_streaming_user

from bench import errors
from bench.config import EndpointSpec, StreamSpec, TransportSpec
from bench.emulator.llmformats import generate_tokens
from bench.emulator.process import EmulatorProcess
from bench.payload.llm import LLM_CONTENT_TYPE, prompt_body
from bench.payload.streams import StreamParser
from bench.transport import make_stream_transport

PROMPT = "How many tokens per second does one instance sustain?"


def _records(
    emulator: EmulatorProcess,
    endpoint: str,
    tmp_path: Path,
    *,
    count: int = 1,
    fmt: str = "auto",
    max_tokens: int = 12,
) -> list[dict[str, str]]:
    spec = StreamSpec(
        endpoint=EndpointSpec(name=endpoint, endpoint_url=emulator.url, emulated=True),
        stream_format=fmt,
        prompts=(PROMPT,),
        max_tokens=max_tokens,
    )
    transport = make_stream_transport(spec.endpoint, TransportSpec(read_timeout_s=10.0))
    try:
        return run_streaming_user(spec, transport, tmp_path / f"{endpoint}.csv", count=count)
    finally:
        transport.close()


@pytest.mark.parametrize(
    ("endpoint", "fmt"),
    [("llm-tgi", "tgi"), ("llm-openai", "openai"), ("llm-ndjson", "ndjson"), ("llm-triton", "triton")],
)
@pytest.mark.parametrize("auto", [False, True], ids=["named", "auto"])
def test_every_format_streams_the_model_tokens(
    emulator: EmulatorProcess, endpoint: str, fmt: str, auto: bool
) -> None:
    transport = make_stream_transport(
        EndpointSpec(name=endpoint, endpoint_url=emulator.url, emulated=True), TransportSpec()
    )
    response = transport.invoke_stream(prompt_body(PROMPT, fmt, 12), LLM_CONTENT_TYPE, "t-1")
    parser = StreamParser("auto" if auto else fmt, response.content_type)
    pieces: list[str] = []
    for part in response.parts:
        pieces += parser.feed(part)
    pieces += parser.finish()
    assert "".join(pieces) == "".join(generate_tokens(PROMPT, 12))
    assert [p for p in pieces if p] == generate_tokens(PROMPT, 12)
    assert response.variant == "AllTraffic"
    expected_type = "application/jsonlines" if fmt == "ndjson" else "text/event-stream"
    assert (response.content_type or "").startswith(expected_type)
    if auto:
        assert parser.format == fmt


@pytest.mark.parametrize("endpoint", ["llm-tgi", "llm-openai", "llm-ndjson", "llm-triton"])
def test_user_records_of_every_format(emulator: EmulatorProcess, tmp_path: Path, endpoint: str) -> None:
    rows = _records(emulator, endpoint, tmp_path, count=3)
    assert len(rows) == 3
    for row in rows:
        assert (row["request_type"], row["status"], row["tokens"]) == ("stream", "ok", "12")
        assert int(row["parts"]) >= 1
        assert float(row["ttfp_ms"]) <= float(row["ttft_ms"]) <= float(row["latency_ms"])
    if endpoint == "llm-tgi":  # an empty first chunk at admission: TTFP is early, TTFT waits for real text
        assert float(rows[0]["ttft_ms"]) - float(rows[0]["ttfp_ms"]) >= 20.0


@pytest.mark.parametrize(
    ("endpoint", "error_type", "stage"),
    [
        ("llm-modelinvocationtimeexceeded", "ModelStreamError:ModelInvocationTimeExceeded", "mid_stream"),
        ("llm-streambroken", "ModelStreamError:StreamBroken", "mid_stream"),
        ("llm-internalstreamfailure", "InternalStreamFailure", "mid_stream"),
        ("llm-dropconnection", "Connection", "mid_stream"),
    ],
)
def test_mid_stream_faults_are_classified_with_what_was_received(
    emulator: EmulatorProcess, tmp_path: Path, endpoint: str, error_type: str, stage: str
) -> None:
    (row,) = _records(emulator, endpoint, tmp_path)
    assert (row["status"], row["error_type"], row["error_stage"]) == ("error", error_type, stage)
    assert row["parts"] == "3"
    assert row["tokens"] == "3"
    assert row["ttfp_ms"] != ""


def test_pre_stream_errors_use_the_normal_shapes(emulator: EmulatorProcess) -> None:
    transport = make_stream_transport(
        EndpointSpec(name="llm-tgi", endpoint_url=emulator.url, emulated=True), TransportSpec()
    )
    with pytest.raises(errors.ModelError) as caught:
        transport.invoke_stream(b"not json", LLM_CONTENT_TYPE, "t-2")
    assert (caught.value.original_status, caught.value.stage) == (400, "request")
    with pytest.raises(errors.ValidationError):
        make_stream_transport(
            EndpointSpec(name="no-such-llm", endpoint_url=emulator.url, emulated=True), TransportSpec()
        ).invoke_stream(b"{}", LLM_CONTENT_TYPE, "t-3")


def test_known_answer_ttft_200ms_and_20ms_between_tokens(emulator: EmulatorProcess, tmp_path: Path) -> None:
    """The emulator's TTFT is fixed at 200 ms and each token at 20 ms; one stream at a time."""
    rows = _records(emulator, "llm-known", tmp_path, count=5, max_tokens=64)
    ttfp = [float(r["ttfp_ms"]) for r in rows]
    ttft = [float(r["ttft_ms"]) for r in rows]
    gaps = [float(r["itl_mean_ms"]) for r in rows]
    print(
        f"known answer: ttfp median {statistics.median(ttfp):.1f} ms, ttft median {statistics.median(ttft):.1f} ms, mean gap median {statistics.median(gaps):.2f} ms"
    )
    assert all(r["parts"] == "20" and r["tokens"] == "20" for r in rows)
    # Known answers, medians of 5 streams: 200 ms (-1 ms for timer granularity, +7.5% for a busy machine),
    # 20 ms a gap (-10%/+15%). The harness must neither miss the delay nor add its own to it.
    assert 199.0 <= statistics.median(ttfp) <= 215.0
    assert 199.0 <= statistics.median(ttft) <= 215.0
    assert 18.0 <= statistics.median(gaps) <= 23.0
