"""Codec golden bytes and round trips, checked against tritonclient's own encoder and decoder."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from tritonclient.http import InferenceServerClient, InferInput

from bench.config import OutputSpec
from bench.errors import DecodeError, WireFormatError
from bench.payload.tensors import NamedTensor
from bench.payload.triton import DecodedOutput, check_outputs, decode_response, encode_request
from bench.payload.triton_wire import (
    BINARY_JSON_PREFIX,
    WireTensor,
    decode_infer_request,
    encode_infer_response,
    json_header_size,
)

SAMPLES: dict[str, np.ndarray] = {
    "BOOL": np.array([[True, False, True]]),
    "UINT8": np.array([[0, 7, 255]], dtype=np.uint8),
    "UINT16": np.array([[0, 7, 65535]], dtype=np.uint16),
    "UINT32": np.array([[0, 7, 2**32 - 1]], dtype=np.uint32),
    "UINT64": np.array([[0, 7, 2**64 - 1]], dtype=np.uint64),
    "INT8": np.array([[-128, 0, 127]], dtype=np.int8),
    "INT16": np.array([[-32768, 0, 32767]], dtype=np.int16),
    "INT32": np.array([[-(2**31), 0, 2**31 - 1]], dtype=np.int32),
    "INT64": np.array([[-(2**63), 0, 2**63 - 1]], dtype=np.int64),
    "FP16": np.array([[-1.5, 0.0, 65504.0]], dtype=np.float16),
    "FP32": np.array([[-1.25, 0.0, 3.4e38]], dtype=np.float32),
    "FP64": np.array([[-1.25, 0.0, 1e300]], dtype=np.float64),
    "BF16": np.array([[-1.5, 0.0, 2.0]], dtype=ml_dtypes.bfloat16),
    "BYTES": np.array([[b"s3://bucket/a.jpg", b"", "héllo".encode()]], dtype=object),
}


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and all(
        x == y for x, y in zip(a.reshape(-1).tolist(), b.reshape(-1).tolist(), strict=True)
    )


@pytest.mark.parametrize("tensor_format", ["binary", "json"])
@pytest.mark.parametrize("datatype", list(SAMPLES))
def test_request_from_tritonclient_decodes_to_the_same_tensor(datatype: str, tensor_format: str) -> None:
    array = SAMPLES[datatype]
    encoded = encode_request([NamedTensor("X", datatype, array)], tensor_format=tensor_format)
    size = json_header_size(encoded.content_type, len(encoded.body))
    binary_only = datatype in ("FP16", "BF16")
    assert (size is not None) == (tensor_format == "binary" or binary_only)
    request = decode_infer_request(encoded.body, size)
    (tensor,) = request.inputs
    assert (tensor.name, tensor.datatype, tensor.shape) == ("X", datatype, array.shape)
    assert _equal(tensor.array, array)
    assert request.binary_data_output is (tensor_format == "binary")


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("datatype", list(SAMPLES))
def test_response_decodes_with_tritonclient(datatype: str, binary: bool) -> None:
    array = SAMPLES[datatype]
    if datatype in ("FP16", "BF16") and not binary:  # Triton 2.51 refuses these as JSON outputs
        with pytest.raises(WireFormatError, match=f"sending {datatype} data via JSON is not supported"):
            encode_infer_response(
                model_name="m",
                model_version="1",
                outputs=[(WireTensor("Y", datatype, array.shape, array), False)],
            )
        return
    body, content_type = encode_infer_response(
        model_name="m", model_version="1", outputs=[(WireTensor("Y", datatype, array.shape, array), binary)]
    )
    expect_binary = binary
    assert content_type.startswith(BINARY_JSON_PREFIX) == expect_binary
    header = json_header_size(content_type, len(body))
    result = InferenceServerClient.parse_response_body(body, header_length=header)
    decoded = result.as_numpy("Y")
    if datatype == "BYTES" and not expect_binary:
        decoded = np.array(
            [v if isinstance(v, bytes) else str(v).encode() for v in decoded.reshape(-1)], dtype=object
        ).reshape(decoded.shape)
    assert _equal(decoded, array)
    (output,) = decode_response(body, content_type)
    assert output.datatype == datatype
    assert output.array.shape == array.shape


@pytest.mark.parametrize("datatype", list(SAMPLES))
def test_binary_section_bytes_match_tritonclient(datatype: str) -> None:
    """Golden bytes: our response encoder writes exactly the bytes tritonclient writes for a request input."""
    array = SAMPLES[datatype]
    reference = InferInput("Y", list(array.shape), datatype)
    reference.set_data_from_numpy(array, binary_data=True)
    body, content_type = encode_infer_response(
        model_name="m", model_version="1", outputs=[(WireTensor("Y", datatype, array.shape, array), True)]
    )
    header = json_header_size(content_type, len(body))
    assert header is not None
    assert body[header:] == reference._get_binary_data()


def test_worked_example_from_protocols_md() -> None:
    """PROTOCOLS.md 3.3: INT32 [1,2] + BYTES [hi, abc], one binary output requested: 242 + 21 bytes."""
    from tritonclient.http import InferRequestedOutput

    from bench.payload.triton import InferenceServerClient as Client

    a = InferInput("INPUT0", [2], "INT32")
    a.set_data_from_numpy(np.array([1, 2], dtype=np.int32))
    b = InferInput("TEXT", [2], "BYTES")
    b.set_data_from_numpy(np.array([b"hi", b"abc"], dtype=object))
    body, size = Client.generate_request_body([a, b], outputs=[InferRequestedOutput("OUT", binary_data=True)])
    assert size == 242
    assert len(body) == 263
    assert body[242:] == bytes.fromhex("0100000002000000" + "020000006869" + "03000000616263")
    request = decode_infer_request(body, size)
    assert [t.name for t in request.inputs] == ["INPUT0", "TEXT"]
    assert request.output_is_binary("OUT") is True
    assert request.inputs[1].array.tolist() == [b"hi", b"abc"]


def test_json_header_size_rules() -> None:
    assert json_header_size("application/json", 10) is None
    assert json_header_size(None, 10) is None
    assert json_header_size(BINARY_JSON_PREFIX + "4", 10) == 4
    with pytest.raises(WireFormatError, match=r"inference header size should be in range \(0, 10\), got: 11"):
        json_header_size(BINARY_JSON_PREFIX + "11", 10)
    with pytest.raises(WireFormatError, match="starts with"):
        json_header_size("text/plain; " + BINARY_JSON_PREFIX + "4", 10)


def test_wire_errors_follow_triton_messages() -> None:
    encoded = encode_request([NamedTensor("INPUT0", "FP32", np.zeros((1, 16), dtype=np.float32))])
    size = json_header_size(encoded.content_type, len(encoded.body))
    assert size is not None
    with pytest.raises(WireFormatError, match="unexpected additional input data for model 'demo'") as extra:
        decode_infer_request(encoded.body + b"\0\0\0\0", size, model_name="demo")
    assert extra.value.status == 400
    with pytest.raises(WireFormatError, match="expecting 4 additional bytes for model 'demo'"):
        decode_infer_request(encoded.body[:-4], size, model_name="demo")
    with pytest.raises(WireFormatError, match="failed to parse the request JSON buffer") as bad_json:
        decode_infer_request(b"abc", None)
    assert bad_json.value.status == 500
    with pytest.raises(WireFormatError, match="Unable to parse 'inputs'"):
        decode_infer_request(b"{}", None)
    with pytest.raises(WireFormatError, match="Shape does not match true shape of 'data' field"):
        decode_infer_request(b'{"inputs":[{"name":"A","datatype":"INT32","shape":[3],"data":[1,2]}]}', None)


def test_decode_response_rejects_garbage() -> None:
    with pytest.raises(DecodeError):
        decode_response(b"\x00\x01not json", "application/json")
    with pytest.raises(DecodeError, match="neither JSON nor Triton"):
        decode_response(b"{}", "text/html")
    with pytest.raises(DecodeError, match="range"):
        decode_response(b"{}", BINARY_JSON_PREFIX + "99")


def test_check_outputs_names_dtype_and_shape() -> None:
    outputs = [DecodedOutput("OUTPUT0", "FP32", np.zeros((1, 16), dtype=np.float32))]
    check_outputs(outputs, [OutputSpec("OUTPUT0", "FP32", (-1, 16))])
    with pytest.raises(DecodeError, match="missing"):
        check_outputs(outputs, [OutputSpec("OUTPUT9")])
    with pytest.raises(DecodeError, match="is FP32, expected INT8"):
        check_outputs(outputs, [OutputSpec("OUTPUT0", "INT8")])
    with pytest.raises(DecodeError, match="shape"):
        check_outputs(outputs, [OutputSpec("OUTPUT0", None, (1, 8))])
    with pytest.raises(DecodeError, match="no outputs"):
        check_outputs([], [])
