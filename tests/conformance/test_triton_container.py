"""The harness against a real Triton 2.51 through its SageMaker frontend (--container-url), and the
emulator checked against it: same values, same errors, same messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from support import TEST_EMULATOR_CONFIG, locust_totals, only_run_dir, read_requests, run_locust
from triton_server import PYTHON_BACKEND_DATATYPES, TritonServer

from bench import errors
from bench.config import EndpointSpec, PayloadSpec, TransportSpec, parse_output_spec, parse_tensor_spec
from bench.emulator.process import EmulatorProcess, start_emulator
from bench.payload.pool import build_requests, build_tensor_sets
from bench.payload.triton import decode_response
from bench.transport.container import ContainerTransport

DATATYPES = PYTHON_BACKEND_DATATYPES


def _container(url: str) -> ContainerTransport:
    transport = ContainerTransport(
        EndpointSpec(name="container", container_url=url), TransportSpec(read_timeout_s=30)
    )
    transport.ping()
    return transport


@pytest.fixture(scope="module")
def emulated_container() -> Iterator[EmulatorProcess]:
    """The emulator's own add_sub container (demo-triton of tests/data/emulator.toml)."""
    with start_emulator(TEST_EMULATOR_CONFIG, container="demo-triton") as process:
        yield process


@pytest.mark.parametrize("tensor_format", ["binary", "json"])
def test_every_datatype_decodes_to_what_the_model_computed(
    triton_identity: TritonServer, tensor_format: str
) -> None:
    # In the JSON format every output is named: FP16 is then asked for as binary (Triton refuses it as JSON).
    named = tuple(parse_output_spec(f"OUT_{d}:{d}:2,3") for d in DATATYPES) if tensor_format == "json" else ()
    payload = PayloadSpec(
        inputs=tuple(parse_tensor_spec(f"IN_{d}:{d}:2,3") for d in DATATYPES),
        outputs=named,
        tensor_format=tensor_format,
        synthetic_variants=1,
    )
    sent = {t.name.removeprefix("IN_"): t.array for t in build_tensor_sets(payload)[0]}
    request = build_requests(payload)[0]
    response = _container(triton_identity.sagemaker_url).invoke(request.body, request.content_type, "conf-1")
    got = {o.name.removeprefix("OUT_"): o for o in decode_response(response.body, response.content_type)}
    assert set(got) == set(DATATYPES)
    for datatype in DATATYPES:
        assert got[datatype].datatype == datatype
        assert got[datatype].array.shape == (2, 3)
        expected = sent[datatype].reshape(-1).tolist()
        if (
            datatype == "FP64" and tensor_format == "json"
        ):  # Triton writes FP64 JSON with 16 significant digits
            assert np.allclose(got[datatype].array.reshape(-1), expected, rtol=1e-15, atol=0), datatype
        else:
            assert got[datatype].array.reshape(-1).tolist() == expected, datatype


def test_add_sub_and_image_path_values(triton_add_sub: TritonServer, triton_image_path: TritonServer) -> None:
    payload = PayloadSpec(
        inputs=(parse_tensor_spec("INPUT0:FP32:3,16"), parse_tensor_spec("INPUT1:FP32:3,16")),
        synthetic_variants=1,
    )
    a, b = (t.array for t in build_tensor_sets(payload)[0])
    request = build_requests(payload)[0]
    response = _container(triton_add_sub.sagemaker_url).invoke(request.body, request.content_type, "conf-2")
    outputs = {o.name: o.array for o in decode_response(response.body, response.content_type)}
    assert np.array_equal(outputs["OUTPUT0"], a + b)
    assert np.array_equal(outputs["OUTPUT1"], a - b)
    images = PayloadSpec(
        inputs=(
            parse_tensor_spec("IMAGE_PATH:BYTES:2:s3://bucket/images/cat.jpg,s3://bucket/images/dog.png"),
        )
    )
    request = build_requests(images)[0]
    response = _container(triton_image_path.sagemaker_url).invoke(
        request.body, request.content_type, "conf-3"
    )
    (labels,) = decode_response(response.body, response.content_type)
    assert labels.array.tolist() == [b"s3://results/labels/cat.json", b"s3://results/labels/dog.json"]


BAD_REQUESTS = {
    "unknown input name": ("INPUT0:FP32:1,16", "WRONG:FP32:1,16"),
    "wrong datatype": ("INPUT0:FP64:1,16", "INPUT1:FP32:1,16"),
    "wrong shape": ("INPUT0:FP32:1,15", "INPUT1:FP32:1,16"),
    "batch too large": ("INPUT0:FP32:9,16", "INPUT1:FP32:9,16"),
    "missing input": ("INPUT0:FP32:1,16",),
    "no batch dimension": ("INPUT0:FP32:16", "INPUT1:FP32:16"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_errors_match_the_real_server(
    triton_add_sub: TritonServer, emulated_container: EmulatorProcess, case: str
) -> None:
    """Triton's own error reaches the record as a ModelError with its status and message, and the
    emulator answers the same bad request with the same status and the same message."""
    request = build_requests(
        PayloadSpec(inputs=tuple(parse_tensor_spec(s) for s in BAD_REQUESTS[case]), synthetic_variants=1)
    )[0]
    seen = {}
    for who, url in (("triton", triton_add_sub.sagemaker_url), ("emulator", emulated_container.url)):
        with pytest.raises(errors.ModelError) as caught:
            _container(url).invoke(request.body, request.content_type, "bad")
        seen[who] = (
            caught.value.original_status,
            json.loads(caught.value.original_message or "{}").get("error"),
        )
    print(case, seen["triton"])
    assert seen["triton"][0] == 400
    assert seen["emulator"] == seen["triton"]


def test_fp16_output_as_json_is_refused_like_triton(triton_identity: TritonServer) -> None:
    """Without --output, the JSON format asks every output as JSON: Triton refuses an FP16 one."""
    payload = PayloadSpec(
        inputs=tuple(parse_tensor_spec(f"IN_{d}:{d}:2,3") for d in DATATYPES),
        tensor_format="json",
        synthetic_variants=1,
    )
    request = build_requests(payload)[0]
    with pytest.raises(errors.ModelError) as caught:
        _container(triton_identity.sagemaker_url).invoke(request.body, request.content_type, "conf-4")
    assert caught.value.original_status == 400
    assert "sending FP16 data via JSON is not supported" in (caught.value.original_message or "")


def test_headless_locust_against_the_real_server(triton_add_sub: TritonServer, tmp_path: Path) -> None:
    result = run_locust(
        "--headless", "-u", "4", "-r", "4", "-t", "4s", "TritonUser", "--container-url", triton_add_sub.sagemaker_url,
        "--input", "INPUT0:FP32:1,16", "--input", "INPUT1:FP32:1,16", "--output", "OUTPUT0:FP32:1,16",
        "--report-dir", str(tmp_path / "reports"), "--json-file", str(tmp_path / "locust"),
    )  # fmt: skip
    assert result.code == 0, result.stderr[-3000:]
    total, failures = locust_totals(tmp_path / "locust")
    rows = read_requests(only_run_dir(tmp_path / "reports"))
    assert failures == 0
    assert len(rows) == total > 50
    assert {r["status"] for r in rows} == {"ok"}
