"""Proxy mode (``--upstream``): the emulator's SageMaker runtime API in front of a model container.

The containers are emulators too: ``container="demo-triton"`` answers ``POST /invocations`` as
Triton's SageMaker frontend does, ``container="llm-tgi"`` streams raw SSE when the body says
``"stream": true`` (30 ms ttft, 2 ms per token), ``container="llm-dropconnection"`` drops the
connection after 3 chunks. A small ``http.server`` recorder shows what reaches the container.
Plain boto3 drives the proxies.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import EventStreamError
from clients import emulator_stats, runtime_client
from support import BIN, ROOT, TEST_EMULATOR_CONFIG
from tritonclient.http import InferenceServerClient, InferInput

from bench.emulator.process import EmulatorProcess, start_emulator
from bench.emulator.tritonmessages import error_body, unknown_input
from bench.errors import ConfigError

BINARY_PREFIX = "application/vnd.sagemaker-triton.binary+json;json-header-size="
LLM_BODY = json.dumps(
    {"inputs": "Tell me about load testing", "parameters": {"max_new_tokens": 8}, "stream": True}
)


@pytest.fixture(scope="module")
def triton_proxy() -> Iterator[EmulatorProcess]:
    with (
        start_emulator(TEST_EMULATOR_CONFIG, container="demo-triton") as upstream,
        start_emulator(upstream=upstream.url) as proxy,
    ):
        yield proxy


@pytest.fixture(scope="module")
def llm_upstream() -> Iterator[EmulatorProcess]:
    with start_emulator(TEST_EMULATOR_CONFIG, container="llm-tgi") as upstream:
        yield upstream


@pytest.fixture(scope="module")
def llm_proxy(llm_upstream: EmulatorProcess) -> Iterator[EmulatorProcess]:
    with start_emulator(upstream=llm_upstream.url) as proxy:
        yield proxy


def _add_sub_request(input_name: str = "INPUT0") -> tuple[bytes, str, np.ndarray, np.ndarray]:
    a = np.arange(16, dtype=np.float32).reshape(1, 16)
    b = np.full((1, 16), 0.5, dtype=np.float32)
    inputs = [InferInput(input_name, [1, 16], "FP32"), InferInput("INPUT1", [1, 16], "FP32")]
    inputs[0].set_data_from_numpy(a)
    inputs[1].set_data_from_numpy(b)
    body, json_size = InferenceServerClient.generate_request_body(inputs)
    return body, f"{BINARY_PREFIX}{json_size}", a, b


def _ping(process: EmulatorProcess) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"{process.url}/ping", timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def _drain(stream: Any, parts: list[bytes]) -> None:
    for event in stream:
        parts.append(event["PayloadPart"]["Bytes"])


def test_triton_values_round_trip_through_the_proxy(triton_proxy: EmulatorProcess) -> None:
    assert triton_proxy.endpoints == ["upstream"]
    body, content_type, a, b = _add_sub_request()
    response = runtime_client(triton_proxy.url).invoke_endpoint(
        EndpointName="any-endpoint-name", Body=body, ContentType=content_type
    )
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["ResponseMetadata"]["RequestId"]
    assert response["ContentType"].startswith(BINARY_PREFIX)
    header_length = int(response["ContentType"].removeprefix(BINARY_PREFIX))
    result = InferenceServerClient.parse_response_body(response["Body"].read(), header_length=header_length)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)
    proxy_stats = emulator_stats(triton_proxy)["proxy"]
    assert proxy_stats["requests"] >= 1
    assert proxy_stats["ok"] >= 1


def test_container_error_becomes_model_error_with_the_original_body(triton_proxy: EmulatorProcess) -> None:
    client = runtime_client(triton_proxy.url)
    body, content_type, _, _ = _add_sub_request("WRONG")
    with pytest.raises(client.exceptions.ModelError) as info:
        client.invoke_endpoint(EndpointName="tokens", Body=body, ContentType=content_type)
    error = info.value.response
    assert error["OriginalStatusCode"] == 400
    assert error["OriginalMessage"] == error_body(
        unknown_input("WRONG", "add_sub")
    )  # Triton's body, verbatim
    assert error["Error"]["Message"].startswith(
        f'Received client error (400) from primary with message "{error["OriginalMessage"]}". See https://'
    )
    assert "/aws/sagemaker/Endpoints/tokens" in error["LogStreamArn"]


def test_endpoint_names_and_variants_are_still_checked(triton_proxy: EmulatorProcess) -> None:
    client = runtime_client(triton_proxy.url)
    with pytest.raises(client.exceptions.ValidationError, match="regular expression pattern"):
        client.invoke_endpoint(EndpointName="not_a_valid_name", Body=b"{}")
    with pytest.raises(client.exceptions.ValidationError, match="Variant canary not found"):
        client.invoke_endpoint(EndpointName="ok", Body=b"{}", TargetVariant="canary")


class _RecordingContainer(BaseHTTPRequestHandler):
    """Records each POST's headers; echoes custom attributes; ``/ping`` answers ``server.ping_status``."""

    protocol_version = "HTTP/1.1"
    server: _RecorderServer

    def do_GET(self) -> None:
        self._answer(self.server.ping_status, b"", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.seen.append({"path": self.path, "body": body.decode(), **dict(self.headers.items())})
        echo = {
            "X-Amzn-SageMaker-Custom-Attributes": "seen=" + self.headers["X-Amzn-SageMaker-Custom-Attributes"]
        }
        self._answer(200, b'{"ok": true}', "application/x-recorded", echo)

    def _answer(
        self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in {
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
            **(extra or {}),
        }.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _RecorderServer(ThreadingHTTPServer):
    daemon_threads = True
    ping_status = 200
    seen: list[dict[str, str]]


def test_headers_reach_the_container_and_ping_reflects_it() -> None:
    recorder = _RecorderServer(("127.0.0.1", 0), _RecordingContainer)
    recorder.seen = []
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    try:
        with start_emulator(upstream=f"http://127.0.0.1:{recorder.server_address[1]}/") as proxy:
            response = runtime_client(proxy.url).invoke_endpoint(
                EndpointName="recorded",
                Body=b'{"x": 1}',
                ContentType="application/json",
                Accept="application/x-recorded",
                CustomAttributes="trace=abc,tenant=7",
                TargetModel="model-a.tar.gz",
                InferenceId="inference-42",
            )
            assert response["Body"].read() == b'{"ok": true}'
            assert response["ContentType"] == "application/x-recorded"
            assert response["CustomAttributes"] == "seen=trace=abc,tenant=7"
            [seen] = recorder.seen
            assert seen["path"] == "/invocations"
            assert seen["body"] == '{"x": 1}'
            expected = {
                "Content-Type": "application/json",
                "Accept": "application/x-recorded",
                "X-Amzn-SageMaker-Custom-Attributes": "trace=abc,tenant=7",
                "X-Amzn-SageMaker-Target-Model": "model-a.tar.gz",
                "X-Amzn-SageMaker-Inference-Id": "inference-42",
            }
            assert {k: v for k, v in seen.items() if k in expected} == expected
            assert "Authorization" not in seen  # SageMaker passes API headers only
            assert _ping(proxy) == (200, b"")
            recorder.ping_status = 500
            assert _ping(proxy) == (503, b"")
    finally:
        recorder.shutdown()
        recorder.server_close()


def test_stopped_container_fails_ping_and_invocations_answer_model_error_0() -> None:
    with (
        start_emulator(TEST_EMULATOR_CONFIG, container="demo-triton") as upstream,
        start_emulator(upstream=upstream.url) as proxy,
    ):
        assert _ping(proxy) == (200, b"")
        upstream.stop()
        assert _ping(proxy) == (503, b"")
        client = runtime_client(proxy.url)
        body, content_type, _, _ = _add_sub_request()
        for call in (client.invoke_endpoint, client.invoke_endpoint_with_response_stream):
            with pytest.raises(client.exceptions.ModelError) as info:
                call(EndpointName="gone", Body=body, ContentType=content_type)
            error = info.value.response
            assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
            assert error["OriginalStatusCode"] == 0
            assert (
                error["OriginalMessage"]
                == "Amazon SageMaker could not get a response from the gone endpoint."
            )
            assert error["Error"]["Message"].startswith("Received server error (0) from primary with message")
        assert emulator_stats(proxy)["proxy"]["no_response"] == 2


def test_stream_parts_concatenate_to_the_container_stream_and_arrive_over_time(
    llm_upstream: EmulatorProcess, llm_proxy: EmulatorProcess
) -> None:
    request = urllib.request.Request(
        f"{llm_upstream.url}/invocations",
        data=LLM_BODY.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as direct:
        expected = direct.read()
    started = time.perf_counter()
    response = runtime_client(llm_proxy.url).invoke_endpoint_with_response_stream(
        EndpointName="llm", Body=LLM_BODY, ContentType="application/json", CustomAttributes="c=1"
    )
    assert response["ContentType"] == "text/event-stream"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    arrivals = [(time.perf_counter() - started, event["PayloadPart"]["Bytes"]) for event in response["Body"]]
    stream = b"".join(data for _, data in arrivals)
    assert stream == expected
    tokens = [json.loads(line[5:])["token"]["text"] for line in stream.decode().split("\n\n") if line]
    assert len([t for t in tokens if t]) == 8
    assert len(arrivals) > 1
    # The empty first chunk comes at admission, the tokens after the 30 ms ttft: forwarded as they come.
    assert arrivals[-1][0] - arrivals[0][0] >= 0.02


def test_stream_errors_before_and_during_the_stream(llm_proxy: EmulatorProcess) -> None:
    client = runtime_client(llm_proxy.url)
    with pytest.raises(client.exceptions.ModelError) as info:
        client.invoke_endpoint_with_response_stream(EndpointName="llm", Body=b"{}")
    assert info.value.response["OriginalStatusCode"] == 400
    assert "Missing prompt" in json.loads(info.value.response["OriginalMessage"])["error"]

    with (
        start_emulator(TEST_EMULATOR_CONFIG, container="llm-dropconnection") as upstream,
        start_emulator(upstream=upstream.url) as proxy,
    ):
        response = runtime_client(proxy.url).invoke_endpoint_with_response_stream(
            EndpointName="llm", Body=LLM_BODY
        )
        parts: list[bytes] = []
        with pytest.raises(EventStreamError) as broken:
            _drain(response["Body"], parts)
        assert broken.value.response["Error"]["Code"] == "ModelStreamError"
        assert "stream from the model broke" in broken.value.response["Error"]["Message"]
        assert len(parts) == 3
        assert emulator_stats(proxy)["proxy"]["stream_errors"] == 1


def test_stream_path_and_cli_flags() -> None:
    with (
        start_emulator(TEST_EMULATOR_CONFIG, container="demo-triton") as upstream,
        start_emulator(
            upstream=upstream.url, upstream_stream_path="/v2/models/tokens/generate_stream"
        ) as proxy,
    ):
        client = runtime_client(proxy.url)
        with pytest.raises(client.exceptions.ModelError) as info:  # the emulated container has no such route
            client.invoke_endpoint_with_response_stream(EndpointName="llm", Body=LLM_BODY)
        assert info.value.response["OriginalStatusCode"] == 404
        assert emulator_stats(proxy)["proxy"]["stream_path"] == "/v2/models/tokens/generate_stream"
    with pytest.raises(ConfigError, match="--upstream localhost:8080: give the model container's address"):
        start_emulator(upstream="localhost:8080")
    serve = subprocess.Popen(
        [str(BIN / "bench"), "serve", "--port", "0", "--upstream", "http://127.0.0.1:9"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert serve.stdout is not None
        line = serve.stdout.readline()
        assert line.startswith("bench emulator listening on http://127.0.0.1:")
        assert line.endswith(" (endpoints: upstream)\n")
    finally:
        serve.terminate()
        serve.wait(timeout=10)
