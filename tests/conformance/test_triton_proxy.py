"""The emulator as a SageMaker front (``bench serve --upstream``) for a real Triton: each transport
(boto3 and fast) through the proxy to Triton's SageMaker frontend, and a decoupled model's
generate_stream through InvokeEndpointWithResponseStream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from clients import run_streaming_user
from triton_server import PYTHON_BACKEND_DATATYPES, TritonServer

from bench import errors
from bench.config import EndpointSpec, PayloadSpec, StreamSpec, TransportSpec, parse_tensor_spec
from bench.emulator.process import EmulatorProcess, start_emulator
from bench.payload.pool import build_requests, build_tensor_sets
from bench.payload.triton import decode_response
from bench.transport import make_stream_transport, make_transport

DATATYPES = PYTHON_BACKEND_DATATYPES
TRANSPORTS = pytest.mark.parametrize("kind", ["boto3", "fast"])


@pytest.fixture(scope="module")
def identity_proxy(triton_identity: TritonServer) -> Iterator[EmulatorProcess]:
    with start_emulator(upstream=triton_identity.sagemaker_url) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def add_sub_proxy(triton_add_sub: TritonServer) -> Iterator[EmulatorProcess]:
    stream_url = f"{triton_add_sub.http_url}/v2/models/tokens/generate_stream"
    with start_emulator(upstream=triton_add_sub.sagemaker_url, upstream_stream_path=stream_url) as proxy:
        yield proxy


def _endpoint(proxy: EmulatorProcess) -> EndpointSpec:
    return EndpointSpec(name="triton", endpoint_url=proxy.url, emulated=True)


@TRANSPORTS
def test_every_datatype_through_each_transport_and_the_proxy(
    identity_proxy: EmulatorProcess, kind: str
) -> None:
    payload = PayloadSpec(
        inputs=tuple(parse_tensor_spec(f"IN_{d}:{d}:2,3") for d in DATATYPES), synthetic_variants=1
    )
    sent = {t.name.removeprefix("IN_"): t.array for t in build_tensor_sets(payload)[0]}
    request = build_requests(payload)[0]
    response = make_transport(_endpoint(identity_proxy), TransportSpec(kind=kind)).invoke(
        request.body, request.content_type, "p-1"
    )
    assert response.variant == "AllTraffic"
    got = {
        o.name.removeprefix("OUT_"): o.array for o in decode_response(response.body, response.content_type)
    }
    assert {d: got[d].reshape(-1).tolist() for d in DATATYPES} == {
        d: sent[d].reshape(-1).tolist() for d in DATATYPES
    }


@TRANSPORTS
def test_triton_errors_through_each_transport_and_the_proxy(
    add_sub_proxy: EmulatorProcess, kind: str
) -> None:
    request = build_requests(
        PayloadSpec(inputs=(parse_tensor_spec("INPUT0:FP32:1,16"), parse_tensor_spec("BOGUS:FP32:1,16")))
    )[0]
    with pytest.raises(errors.ModelError) as caught:
        make_transport(_endpoint(add_sub_proxy), TransportSpec(kind=kind)).invoke(
            request.body, request.content_type, "p-2"
        )
    assert (caught.value.original_status, caught.value.http_status) == (400, 424)
    assert (
        caught.value.original_message
        == "{\"error\":\"unexpected inference input 'BOGUS' for model 'add_sub'\"}"
    )


@TRANSPORTS
def test_generate_stream_through_the_proxy_gives_ttfp_and_tokens(
    add_sub_proxy: EmulatorProcess, tmp_path: Path, kind: str
) -> None:
    spec = StreamSpec(
        endpoint=_endpoint(add_sub_proxy), stream_format="auto", prompts=("hello",), max_tokens=8
    )
    transport = make_stream_transport(spec.endpoint, TransportSpec(kind=kind))
    try:
        rows = run_streaming_user(spec, transport, tmp_path / "requests.csv", count=3, body_format="triton")
    finally:
        transport.close()
    assert [r["status"] for r in rows] == ["ok"] * 3, rows[0]
    for row in rows:
        assert row["tokens"] == "8"
        assert int(row["parts"]) >= 1
        assert 0 < float(row["ttfp_ms"]) <= float(row["ttft_ms"]) < float(row["latency_ms"])
    print(
        "triton generate_stream through the proxy:",
        [(r["ttfp_ms"], r["parts"], r["itl_mean_ms"]) for r in rows],
    )
