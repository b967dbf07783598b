"""The emulator's streaming LLM endpoints as unmodified boto3 sees them, over real loopback sockets.

One emulator child process (``start_emulator`` on port 0) serves every test with the endpoints of
``tests/data/emulator-stream.toml``. Expected tokens come from ``bench.emulator.llmformats`` (same
prompt, same tokens); timing tests use fixed ttft/itl so that the figures have a known answer. The
formats, part planning and configuration checks (pure) are in ``tests/unit/``.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import re
import socket
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3.exceptions
from botocore.exceptions import ClientError, EventStreamError
from clients import emulator_stats, reset_emulator, runtime_client
from support import DATA, wait_until

from bench.emulator.llmformats import content_type, full_response, generate_tokens, render_events
from bench.emulator.process import EmulatorProcess, start_emulator

PROMPT = "Tell me about load testing"
FORMATS = ("ndjson", "tgi", "openai", "triton")
# As configured in emulator-stream.toml: llm-<format> endpoints, their first chunks, 12 tokens; the
# fault-<fault> endpoints fail after 3 parts.
FIRST_CHUNK = {"ndjson": "none", "tgi": "empty", "openai": "role", "triton": "none"}
TOKENS = 12
FAULT_PARTS = 3
STREAM_CONFIG = DATA / "emulator-stream.toml"
STREAM_FAULT_CODES = {
    # fault -> (EventStreamError code, message fragment)
    "ModelInvocationTimeExceeded": ("ModelStreamError", "invocation time limit"),
    "StreamBroken": ("ModelStreamError", "stream from the model broke"),
    "InternalStreamFailure": ("InternalStreamFailure", "internal stream failure"),
}


@pytest.fixture(scope="module")
def stream_emulator() -> Iterator[EmulatorProcess]:
    with start_emulator(STREAM_CONFIG) as process:
        yield process


@pytest.fixture(scope="module")
def client(stream_emulator: EmulatorProcess) -> Any:
    return runtime_client(stream_emulator.url)


def _body(prompt: str = PROMPT, **extra: Any) -> bytes:
    return json.dumps({"inputs": prompt, **extra}).encode()


def _parts(response: dict[str, Any]) -> list[bytes]:
    return [event["PayloadPart"]["Bytes"] for event in response["Body"] if "PayloadPart" in event]


def _collect(response: dict[str, Any], received: list[bytes]) -> None:
    """Append each PayloadPart's bytes to ``received`` until the stream ends or raises."""
    for event in response["Body"]:
        received.append(event["PayloadPart"]["Bytes"])


def _stats(emulator: EmulatorProcess, endpoint: str) -> dict[str, Any]:
    stats: dict[str, Any] = emulator_stats(emulator)["by_endpoint"][endpoint]
    return stats


def _normalized(stream: bytes) -> bytes:
    """OpenAI chunks carry a per-request id and the current time: blank both."""
    stream = re.sub(rb'"id": "chatcmpl-[^"]*"', b'"id": "chatcmpl-x"', stream)
    return re.sub(rb'"created": \d+', b'"created": 0', stream)


def _text(fmt: str, stream: bytes) -> str:
    """The generated text, parsed back out of a stream in format ``fmt``."""
    if fmt == "ndjson":
        return "".join(json.loads(line)["outputs"][0] for line in stream.decode().splitlines())
    pieces = []
    for event in stream.decode().split("\n\n")[:-1]:
        data = event.removeprefix("data:").strip()
        if data == "[DONE]":
            continue
        document = json.loads(data)
        if fmt == "tgi":
            pieces.append(document["token"]["text"])
        elif fmt == "openai":
            pieces += [choice["delta"].get("content", "") for choice in document["choices"]]
        else:
            pieces.append(document["text_output"])
    return "".join(pieces)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_streams_the_deterministic_tokens(client: Any, fmt: str) -> None:
    endpoint = f"llm-{fmt}"
    response = client.invoke_endpoint_with_response_stream(
        EndpointName=endpoint, Body=_body(), CustomAttributes="trace=1"
    )
    assert response["ContentType"] == content_type(fmt)
    assert response["ContentType"] == ("application/jsonlines" if fmt == "ndjson" else "text/event-stream")
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["CustomAttributes"] == "trace=1"
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    assert headers["transfer-encoding"] == "chunked"
    parts = _parts(response)
    tokens = generate_tokens(PROMPT, TOKENS)
    events = render_events(
        fmt, tokens, first_chunk=FIRST_CHUNK[fmt], prompt_tokens=len(PROMPT.split()), model=endpoint
    )
    assert len(parts) == len(events)  # one PayloadPart per event without split/merge
    assert _normalized(b"".join(parts)) == _normalized(b"".join(events))
    assert _text(fmt, b"".join(parts)) == "".join(tokens)

    whole = client.invoke_endpoint(EndpointName=endpoint, Body=_body())
    assert whole["ContentType"] == "application/json"
    body = whole["Body"].read()
    expected = full_response(fmt, tokens, prompt_tokens=len(PROMPT.split()), model=endpoint)
    assert _normalized(body) == _normalized(expected)


def test_prompt_and_max_tokens_are_read_leniently(client: Any) -> None:
    bodies = [
        {"inputs": PROMPT, "parameters": {"max_new_tokens": 4}},
        {"prompt": PROMPT, "max_tokens": 4},
        {"text_input": PROMPT, "max_new_tokens": 4},
        {
            "messages": [{"role": "user", "content": "x"}, {"role": "user", "content": PROMPT}],
            "max_tokens": 4,
        },
        {"inputs": PROMPT, "parameters": {"max_tokens": 4}},
    ]
    for body in bodies:
        parts = _parts(
            client.invoke_endpoint_with_response_stream(EndpointName="llm-triton", Body=json.dumps(body))
        )
        assert _text("triton", b"".join(parts)) == "".join(generate_tokens(PROMPT, 4)), body


def test_split_and_merge_still_reassemble_exactly(client: Any) -> None:
    """split 0.5, merge 0.5: parts end inside events and events inside parts; the bytes are unchanged."""
    tokens = generate_tokens(PROMPT, 80)
    events = render_events("openai", tokens, prompt_tokens=len(PROMPT.split()), model="chopped")
    event_ends = set(itertools.accumulate(len(e) for e in events))
    for _ in range(3):
        parts = _parts(client.invoke_endpoint_with_response_stream(EndpointName="chopped", Body=_body()))
        assert _normalized(b"".join(parts)) == _normalized(b"".join(events))
        assert _text("openai", b"".join(parts)) == "".join(tokens)
        part_ends = set(itertools.accumulate(len(p) for p in parts))
        assert part_ends - event_ends, "some part must end inside an event (a split)"
        assert event_ends - part_ends, "some event must end inside a part (a merge)"


@pytest.mark.parametrize("fault", list(STREAM_FAULT_CODES))
def test_in_stream_faults_arrive_after_the_configured_parts(
    client: Any, stream_emulator: EmulatorProcess, fault: str
) -> None:
    code, fragment = STREAM_FAULT_CODES[fault]
    response = client.invoke_endpoint_with_response_stream(
        EndpointName=f"fault-{fault.lower()}", Body=_body()
    )
    received: list[bytes] = []
    with pytest.raises(EventStreamError) as info:
        _collect(response, received)
    assert len(received) == FAULT_PARTS
    assert info.value.response["Error"]["Code"] == code
    assert fragment in info.value.response["Error"]["Message"]
    assert _stats(stream_emulator, f"fault-{fault.lower()}")["stream_faults"][fault] >= 1


def test_drop_connection_cuts_the_stream(client: Any, stream_emulator: EmulatorProcess) -> None:
    response = client.invoke_endpoint_with_response_stream(EndpointName="fault-dropconnection", Body=_body())
    received: list[bytes] = []
    with pytest.raises(urllib3.exceptions.ProtocolError, match="Response ended prematurely"):
        _collect(response, received)
    assert len(received) == FAULT_PARTS
    stats = _stats(stream_emulator, "fault-dropconnection")
    assert stats["stream_faults"]["DropConnection"] >= 1
    assert stats["completed"] == 0


def test_errors_before_the_stream_are_http_errors(client: Any) -> None:
    with pytest.raises(client.exceptions.ModelError) as info:
        client.invoke_endpoint_with_response_stream(EndpointName="llm-tgi", Body=b"not json")
    assert info.value.response["OriginalStatusCode"] == 400
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert json.loads(info.value.response["OriginalMessage"])["error"].startswith("Failed to parse")
    with pytest.raises(client.exceptions.ModelError) as info:
        client.invoke_endpoint(EndpointName="llm-tgi", Body=json.dumps({"parameters": {}}))
    assert "Missing prompt" in info.value.response["OriginalMessage"]
    with pytest.raises(client.exceptions.ServiceUnavailable):
        client.invoke_endpoint_with_response_stream(EndpointName="unavailable", Body=_body())
    with pytest.raises(client.exceptions.ValidationError) as info:
        client.invoke_endpoint_with_response_stream(
            EndpointName="llm-tgi", Body=_body(), TargetVariant="blue"
        )
    assert info.value.response["Error"]["Message"] == "Variant blue not found for endpoint llm-tgi."
    with pytest.raises(client.exceptions.ValidationError) as info:
        client.invoke_endpoint_with_response_stream(EndpointName="tensor", Body=b"{}")
    assert "does not support invocations-response-stream" in info.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.ValidationError) as info:
        client.invoke_endpoint_with_response_stream(EndpointName="nowhere", Body=_body())
    assert "Endpoint nowhere of account" in info.value.response["Error"]["Message"]


def test_known_answer_ttft_and_inter_token_time(client: Any) -> None:
    """ttft fixed 200 ms, itl fixed 20 ms, 20 tokens, one request at a time."""
    client.invoke_endpoint(EndpointName="llm-ndjson", Body=_body())  # a warm connection
    started = time.perf_counter()
    response = client.invoke_endpoint_with_response_stream(EndpointName="known", Body=_body())
    arrivals = [time.perf_counter() for _ in response["Body"]]
    ttft_ms = (arrivals[0] - started) * 1000
    gaps_ms = [(b - a) * 1000 for a, b in itertools.pairwise(arrivals)]
    print(f"known answer: ttft {ttft_ms:.1f} ms, median gap {statistics.median(gaps_ms):.2f} ms, "
          f"min {min(gaps_ms):.2f}, max {max(gaps_ms):.2f}")  # fmt: skip
    assert len(arrivals) == 20
    assert ttft_ms >= 200.0  # the injected 200 ms, timed from before the call: one sample, no upper bound
    # Known answers (median of 19 gaps, and their sum), tolerance stated: 20 ms a gap, -10%/+20%; 380 ms
    # for the 19, -10 ms when the first part is late, +30 ms when the last is (lateness is not accumulated:
    # each part is due at ttft + i x itl, so late writes do not push the later ones back).
    assert 18.0 <= statistics.median(gaps_ms) <= 24.0
    assert 370.0 <= (arrivals[-1] - arrivals[0]) * 1000 <= 410.0


def test_frames_arrive_separately_on_the_socket(stream_emulator: EmulatorProcess) -> None:
    """Raw HTTP/1.1: chunked, and each PayloadPart leaves the emulator when its token is due (40 ms apart)."""
    host, port = stream_emulator.url.removeprefix("http://").split(":")
    body = _body()
    request = (
        f"POST /endpoints/paced/invocations-response-stream HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    seen: list[float] = []
    received = b""
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        while chunk := sock.recv(65536):
            received += chunk
            seen += [time.perf_counter()] * (received.count(b"PayloadPart") - len(seen))
    head = received.split(b"\r\n\r\n", 1)[0].decode().lower()
    assert "transfer-encoding: chunked" in head
    assert "content-type: application/vnd.amazon.eventstream" in head
    assert received.endswith(b"0\r\n\r\n")
    assert len(seen) == 5
    gaps_ms = [(b - a) * 1000 for a, b in itertools.pairwise(seen)]
    # Due 40 ms apart: a gap is shorter only by the previous part's lateness (10 ms of slack here); a late
    # part makes its own gap longer, which says nothing about batching, so there is no upper bound.
    assert min(gaps_ms) >= 30.0, gaps_ms


def test_a_client_that_goes_away_frees_its_slot(client: Any, stream_emulator: EmulatorProcess) -> None:
    """slots 1, queue 0, a 2 s stream: once its client hangs up, the next request is served, not throttled."""
    host, port = stream_emulator.url.removeprefix("http://").split(":")
    body = _body()
    request = (
        f"POST /endpoints/single/invocations-response-stream HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    received = b""
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        while b"PayloadPart" not in received:
            received += sock.recv(65536)
    # The emulator notices at its next write (20 ms later) and frees the slot.
    wait_until(
        lambda: _stats(stream_emulator, "single")["disconnects"] == 1, 5.0, 0.01, what="the disconnect"
    )
    response = client.invoke_endpoint(EndpointName="single", Body=_body(max_tokens=1))
    assert response["Body"].read() == full_response("tgi", generate_tokens(PROMPT, 1))
    stats = _stats(stream_emulator, "single")
    assert (stats["disconnects"], stats["completed"], stats["errors"]) == (1, 0, 0)


def test_slow_first_byte_delays_the_response_headers(client: Any) -> None:
    started = time.perf_counter()
    response = client.invoke_endpoint_with_response_stream(EndpointName="slow-start", Body=_body())
    headers_ms = (time.perf_counter() - started) * 1000
    assert len(_parts(response)) == TOKENS
    assert headers_ms >= 150.0, headers_ms  # slow_first_byte_ms = 150: a minimum; one sample, no upper bound


def test_slots_and_queue_limit_throttle_streams(client: Any) -> None:
    barrier = threading.Barrier(4)

    def call() -> str:
        barrier.wait()
        try:
            response = client.invoke_endpoint_with_response_stream(EndpointName="tight", Body=_body())
            _parts(response)
        except ClientError as exc:  # ThrottlingException is not modeled: a plain ClientError
            return f"{type(exc).__name__}:{exc.response['Error']['Code']}"
        return "ok"

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        outcomes = Counter(pool.map(lambda _: call(), range(4)))
    assert outcomes["ClientError:ThrottlingException"] >= 1
    assert outcomes["ok"] >= 1
    assert set(outcomes) <= {"ok", "ClientError:ThrottlingException"}


def test_itl_growth_slows_concurrent_sequences(client: Any) -> None:
    """itl 10 ms, itl_growth 0.5: alone ~10 ms per token; four at once ~25 ms."""

    def mean_gap_ms(barrier: threading.Barrier | None = None) -> float:
        if barrier is not None:
            barrier.wait()
        response = client.invoke_endpoint_with_response_stream(EndpointName="batching", Body=_body())
        arrivals = [time.perf_counter() for _ in response["Body"]]
        return (arrivals[-1] - arrivals[0]) * 1000 / (len(arrivals) - 1)

    alone = mean_gap_ms()
    barrier = threading.Barrier(4)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda _: mean_gap_ms(barrier), range(4)))
    print(f"itl_growth: alone {alone:.1f} ms/token, four at once {[round(g, 1) for g in together]}")
    # 10 ms a token, 1 ms of slack for a late first part; no upper bound: the ratio below is the test.
    assert alone >= 9.0
    assert min(together) > 1.5 * alone


def test_stream_counters(client: Any, stream_emulator: EmulatorProcess) -> None:
    reset_emulator(stream_emulator)
    _parts(client.invoke_endpoint_with_response_stream(EndpointName="llm-ndjson", Body=_body()))
    client.invoke_endpoint(EndpointName="llm-ndjson", Body=_body())
    with pytest.raises(client.exceptions.ModelError):
        client.invoke_endpoint_with_response_stream(EndpointName="llm-ndjson", Body=b"[")
    stats = _stats(stream_emulator, "llm-ndjson")
    assert {k: stats[k] for k in ("requests", "errors", "streams", "completed", "parts", "tokens")} == {
        "requests": 3,
        "errors": 1,
        "streams": 1,
        "completed": 1,
        "parts": TOKENS,
        "tokens": 2 * TOKENS,
    }


def test_container_mode_streams_raw_events() -> None:
    with start_emulator(STREAM_CONFIG, container="solo") as process:
        request = urllib.request.Request(
            f"{process.url}/invocations",
            data=_body(stream=True),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.headers["Content-Type"] == "text/event-stream"
            assert response.headers["Transfer-Encoding"] == "chunked"
            stream = response.read()
        tokens = generate_tokens(PROMPT, TOKENS)
        assert stream == b"".join(render_events("tgi", tokens, model="solo"))
        request = urllib.request.Request(f"{process.url}/invocations", data=_body())
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response) == [{"generated_text": "".join(tokens)}]
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(
                urllib.request.Request(f"{process.url}/invocations", data=b"{}"), timeout=5
            )
        assert info.value.code == 400
        assert "Missing prompt" in json.load(info.value)["error"]
