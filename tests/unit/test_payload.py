"""Tensors from --input specs and from perf_analyzer JSON / .npz files."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from tritonclient.utils import serialize_byte_tensor

from bench.config import MAX_REQUEST_BYTES, PayloadSpec, parse_tensor_spec
from bench.errors import ConfigError
from bench.payload.files import load_payload_file
from bench.payload.pool import build_requests, build_tensor_sets
from bench.payload.triton_wire import decode_infer_request, json_header_size


def _write(tmp_path: Path, document: object, name: str = "data.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def test_flat_lists_take_the_shape_from_input_spec(tmp_path: Path) -> None:
    path = _write(tmp_path, {"data": [{"INPUT0": [1, 2, 3, 4]}, {"INPUT0": [5, 6, 7, 8]}]})
    sets = load_payload_file(path, [parse_tensor_spec("INPUT0:INT32:2,2")])
    assert len(sets) == 2
    assert sets[1][0].array.tolist() == [[5, 6], [7, 8]]
    assert sets[1][0].array.dtype == np.int32


def test_minus_one_dimension_is_inferred(tmp_path: Path) -> None:
    path = _write(tmp_path, {"data": [{"X": [1.5] * 12}]})
    (tensors,) = load_payload_file(path, [parse_tensor_spec("X:FP32:-1,4")])
    assert tensors[0].array.shape == (3, 4)


def test_content_and_shape_form(tmp_path: Path) -> None:
    path = _write(tmp_path, {"data": [{"X": {"content": [[1, 2, 3], [4, 5, 6]], "shape": [2, 3]}}]})
    (tensors,) = load_payload_file(path, [parse_tensor_spec("X:INT64:-1")])
    assert tensors[0].array.shape == (2, 3)
    assert tensors[0].array.reshape(-1).tolist() == [1, 2, 3, 4, 5, 6]


def test_b64_numeric_and_bytes(tmp_path: Path) -> None:
    floats = np.array([0.5, -2.0, 3.25], dtype="<f4")
    strings = np.array([b"s3://bucket/cat.jpg", b"s3://bucket/dog.jpg"], dtype=object)
    document = {
        "data": [
            {
                "F": {"b64": base64.b64encode(floats.tobytes()).decode()},
                "S": {
                    "content": {"b64": base64.b64encode(serialize_byte_tensor(strings).item()).decode()},
                    "shape": [2],
                },
            }
        ]
    }
    (tensors,) = load_payload_file(
        _write(tmp_path, document), [parse_tensor_spec("F:FP32:3"), parse_tensor_spec("S:BYTES:2")]
    )
    assert tensors[0].array.tolist() == [0.5, -2.0, 3.25]
    assert tensors[1].array.tolist() == [b"s3://bucket/cat.jpg", b"s3://bucket/dog.jpg"]


def test_bytes_from_strings_in_json(tmp_path: Path) -> None:
    path = _write(tmp_path, {"data": [{"IMAGE": ["s3://b/1.jpg"]}]})
    (tensors,) = load_payload_file(path, [parse_tensor_spec("IMAGE:BYTES:1")])
    assert tensors[0].array.tolist() == [b"s3://b/1.jpg"]


@pytest.mark.parametrize(
    ("document", "specs", "message"),
    [
        ({"data": [{"A": [1]}]}, [], "no --input gives their datatypes"),
        ({"data": [{"A": [1]}]}, ["B:INT32:1"], r"has inputs \['A'\] but --input declares \['B'\]"),
        ({"data": []}, ["A:INT32:1"], "at least one entry"),
        ({"rows": []}, ["A:INT32:1"], "perf_analyzer input data"),
        ({"data": [{"A": [1, 2, 3]}]}, ["A:INT32:2"], "do not fill shape"),
        ({"data": [{"A": {"b64": "!!!"}}]}, ["A:INT32:1"], "not valid base64"),
        ({"data": [{"A": {"b64": "AAA="}}]}, ["A:INT32:1"], "whole number"),
        ({"data": [{"A": ["x"]}]}, ["A:INT32:1"], "not INT32"),
    ],
)
def test_bad_payload_files(tmp_path: Path, document: object, specs: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_payload_file(_write(tmp_path, document), [parse_tensor_spec(s) for s in specs])


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_payload_file(tmp_path / "nope.json", [])
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [')
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_payload_file(bad, [])
    npz = tmp_path / "bad.npz"
    npz.write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match=r"not a readable \.npz"):
        load_payload_file(npz, [])


def test_npz_arrays_become_one_request(tmp_path: Path) -> None:
    path = tmp_path / "req.npz"
    np.savez(path, INPUT0=np.ones((1, 16), dtype=np.float32), NAMES=np.array(["a", "bb"]))
    (tensors,) = load_payload_file(path, [])
    by_name = {t.name: t for t in tensors}
    assert by_name["INPUT0"].datatype == "FP32"
    assert by_name["NAMES"].datatype == "BYTES"
    assert by_name["NAMES"].array.tolist() == [b"a", b"bb"]
    with pytest.raises(ConfigError, match="has shape"):
        load_payload_file(path, [parse_tensor_spec("INPUT0:FP32:1,8"), parse_tensor_spec("NAMES:BYTES:2")])


def test_synthetic_data_is_seeded_and_values_are_cycled() -> None:
    spec = PayloadSpec(
        inputs=(parse_tensor_spec("A:FP32:1,4"), parse_tensor_spec("URI:BYTES:3:s3://b/x.jpg,s3://b/y.jpg")),
        seed=7,
    )
    first, again = build_tensor_sets(spec), build_tensor_sets(spec)
    assert len(first) == spec.synthetic_variants
    assert np.array_equal(first[0][0].array, again[0][0].array)
    assert not np.array_equal(first[0][0].array, first[1][0].array)
    assert first[0][1].array.tolist() == [b"s3://b/x.jpg", b"s3://b/y.jpg", b"s3://b/x.jpg"]


@pytest.mark.parametrize("datatype", ["BOOL", "UINT8", "INT64", "FP16", "FP32", "FP64", "BF16", "BYTES"])
def test_every_datatype_encodes_to_a_decodable_request(datatype: str) -> None:
    (request, *_) = build_requests(PayloadSpec(inputs=(parse_tensor_spec(f"X:{datatype}:2,3"),)))
    decoded = decode_infer_request(request.body, json_header_size(request.content_type, len(request.body)))
    assert decoded.inputs[0].datatype == datatype
    assert decoded.inputs[0].shape == (2, 3)


def test_payload_over_the_real_time_limit_is_refused() -> None:
    elements = MAX_REQUEST_BYTES // 4 + 16
    with pytest.raises(ConfigError, match="over SageMaker's real-time limit of 6,291,456 bytes"):
        build_requests(PayloadSpec(inputs=(parse_tensor_spec(f"X:FP32:1,{elements}"),), synthetic_variants=1))


def test_no_data_and_unresolved_shapes_are_refused() -> None:
    with pytest.raises(ConfigError, match="no request data"):
        build_requests(PayloadSpec())
    with pytest.raises(ConfigError, match="has -1"):
        build_requests(PayloadSpec(inputs=(parse_tensor_spec("X:FP32:-1,4"),)))
