"""boto3 through our transport against the real emulator process: values, errors, variants, routing."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from support import free_port

from bench import errors
from bench.config import (
    DATATYPES,
    EndpointSpec,
    PayloadSpec,
    TransportSpec,
    parse_output_spec,
    parse_tensor_spec,
)
from bench.emulator.process import EmulatorProcess
from bench.payload.pool import build_requests, build_tensor_sets
from bench.payload.triton import decode_response
from bench.transport import make_transport
from bench.transport.boto import Boto3Transport


def _transport(emulator: EmulatorProcess, name: str, **kwargs: object) -> Boto3Transport:
    spec = TransportSpec(read_timeout_s=float(kwargs.pop("read_timeout_s", 10.0)))  # type: ignore[arg-type]
    return Boto3Transport(EndpointSpec(name=name, endpoint_url=emulator.url, emulated=True, **kwargs), spec)  # type: ignore[arg-type]


def _invoke(transport: Boto3Transport, payload: PayloadSpec, index: int = 0) -> tuple[object, list]:  # type: ignore[type-arg]
    request = build_requests(payload)[index]
    response = transport.invoke(request.body, request.content_type, f"test-{index}")
    return response, decode_response(response.body, response.content_type)


@pytest.mark.parametrize("tensor_format", ["binary", "json"])
def test_every_datatype_round_trips_through_boto3(emulator: EmulatorProcess, tensor_format: str) -> None:
    # In the JSON format every output is asked for by name: FP16 and BF16 ones as binary (Triton sends no other).
    named = tuple(parse_output_spec(f"OUT_{d}:{d}:2,3") for d in DATATYPES) if tensor_format == "json" else ()
    payload = PayloadSpec(
        inputs=tuple(parse_tensor_spec(f"IN_{d}:{d}:2,3") for d in DATATYPES),
        outputs=named,
        tensor_format=tensor_format,
        synthetic_variants=1,
    )
    sent = {t.name.removeprefix("IN_"): t.array for t in build_tensor_sets(payload)[0]}
    response, outputs = _invoke(_transport(emulator, "identity-all"), payload)
    got = {o.name.removeprefix("OUT_"): o for o in outputs}
    assert set(got) == set(DATATYPES)
    for datatype in DATATYPES:
        assert got[datatype].datatype == datatype
        assert got[datatype].array.shape == (2, 3)
        expected = sent[datatype].reshape(-1).tolist()
        actual = got[datatype].array.reshape(-1).tolist()
        if datatype == "BYTES":
            actual = [v if isinstance(v, bytes) else str(v).encode() for v in actual]
        assert actual == expected, datatype
    assert response.variant == "AllTraffic"  # type: ignore[attr-defined]
    # FP16 and BF16 outputs are binary in both formats (Triton never writes them as JSON).
    assert response.content_type.startswith("application/vnd.sagemaker-triton.binary+json;json-header-size=")  # type: ignore[attr-defined]


def test_json_format_without_binary_only_types_gets_a_json_response(emulator: EmulatorProcess) -> None:
    payload = PayloadSpec(
        inputs=(parse_tensor_spec("INPUT0:FP32:1,16"), parse_tensor_spec("INPUT1:FP32:1,16")),
        tensor_format="json",
    )
    response, outputs = _invoke(_transport(emulator, "demo-triton"), payload)
    assert response.content_type == "application/json"  # type: ignore[attr-defined]
    assert {o.name for o in outputs} == {"OUTPUT0", "OUTPUT1"}


def test_add_sub_values_and_image_paths(emulator: EmulatorProcess) -> None:
    payload = PayloadSpec(
        inputs=(parse_tensor_spec("INPUT0:FP32:2,16"), parse_tensor_spec("INPUT1:FP32:2,16")),
        synthetic_variants=1,
    )
    a, b = (t.array for t in build_tensor_sets(payload)[0])
    _, outputs = _invoke(_transport(emulator, "demo-triton"), payload)
    by_name = {o.name: o.array for o in outputs}
    assert np.allclose(by_name["OUTPUT0"], a + b)
    assert np.allclose(by_name["OUTPUT1"], a - b)
    images = PayloadSpec(
        inputs=(
            parse_tensor_spec("IMAGE_PATH:BYTES:2:s3://bucket/images/cat.jpg,s3://bucket/images/dog.png"),
        )
    )
    _, outputs = _invoke(_transport(emulator, "image-path"), images)
    (labels,) = outputs
    assert labels.name == "LABEL_PATH"
    assert all(v.startswith(b"s3://results/labels/") for v in labels.array.reshape(-1).tolist())


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("fault-validationerror", errors.ValidationError),
        ("fault-modelerror", errors.ModelError),
        ("fault-modelnotreadyexception", errors.ModelNotReady),
        ("fault-throttlingexception", errors.Throttling),
        ("fault-internalfailure", errors.InternalFailure),
        ("fault-serviceunavailable", errors.ServiceUnavailable),
        ("fault-internaldependencyexception", errors.InternalDependency),
        ("no-such-endpoint", errors.ValidationError),
    ],
)
def test_injected_faults_arrive_as_bench_errors(
    emulator: EmulatorProcess, endpoint: str, expected: type[errors.EndpointError]
) -> None:
    # The emulator serves each fault endpoint (else a ValidationError would be "not found", not injected).
    assert (endpoint in emulator.endpoints) is (endpoint != "no-such-endpoint")
    payload = PayloadSpec(
        inputs=(parse_tensor_spec("INPUT0:FP32:1,16"), parse_tensor_spec("INPUT1:FP32:1,16"))
    )
    with pytest.raises(errors.EndpointError) as caught:
        _invoke(_transport(emulator, endpoint), payload)
    assert type(caught.value) is expected
    assert caught.value.stage == "request"
    if expected is errors.ModelError:
        assert isinstance(caught.value, errors.ModelError)
        assert caught.value.original_status == 500


def test_triton_validation_failure_is_a_model_error_with_original_status(emulator: EmulatorProcess) -> None:
    payload = PayloadSpec(
        inputs=(parse_tensor_spec("INPUT0:FP32:1,16"), parse_tensor_spec("WRONG:FP32:1,16"))
    )
    with pytest.raises(errors.ModelError) as caught:
        _invoke(_transport(emulator, "demo-triton"), payload)
    assert caught.value.original_status == 400
    assert "unexpected inference input 'WRONG'" in (caught.value.original_message or "")


def test_variant_weights_and_target_variant(emulator: EmulatorProcess) -> None:
    payload = PayloadSpec(
        inputs=(parse_tensor_spec("INPUT0:FP32:1,16"), parse_tensor_spec("INPUT1:FP32:1,16")),
        synthetic_variants=1,
    )
    request = build_requests(payload)[0]
    transport = _transport(emulator, "weighted")
    counts = Counter(
        transport.invoke(request.body, request.content_type, f"w{i}").variant for i in range(400)
    )
    assert set(counts) == {"primary", "canary"}
    # Not timing: weight 0.8 of 400 draws, 3 standard deviations (0.02 each) either way.
    assert 0.74 <= counts["primary"] / 400 <= 0.86
    forced = _transport(emulator, "weighted", target_variant="canary")
    assert {forced.invoke(request.body, request.content_type, f"f{i}").variant for i in range(20)} == {
        "canary"
    }
    with pytest.raises(errors.ValidationError):
        _transport(emulator, "weighted", target_variant="nope").invoke(
            request.body, request.content_type, "x"
        )


def test_target_model_routes_a_multi_model_endpoint(emulator: EmulatorProcess) -> None:
    ints = PayloadSpec(inputs=(parse_tensor_spec("X:INT32:4:1,2,3,4"),))
    _, outputs = _invoke(_transport(emulator, "multi-model", target_model="model-b.tar.gz"), ints)
    assert outputs[0].array.tolist() == [1, 2, 3, 4]
    with pytest.raises(errors.ValidationError):
        _invoke(_transport(emulator, "multi-model"), ints)


def test_timeouts_and_refused_connections(emulator: EmulatorProcess) -> None:
    payload = PayloadSpec(
        inputs=(parse_tensor_spec("INPUT0:FP32:1,16"), parse_tensor_spec("INPUT1:FP32:1,16"))
    )
    with pytest.raises(errors.TimeoutError_):
        _invoke(_transport(emulator, "slow", read_timeout_s=0.3), payload)
    refused = make_transport(
        EndpointSpec(name="x", endpoint_url=f"http://127.0.0.1:{free_port()}", emulated=True),
        TransportSpec(connect_timeout_s=1.0),
    )
    request = build_requests(payload)[0]
    with pytest.raises(errors.ConnectionError_):
        refused.invoke(request.body, request.content_type, "x")
