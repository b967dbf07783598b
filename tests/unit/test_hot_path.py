"""The per-request fast paths against the reference code they replace.

- ``SigV4Signer`` (fast transport) against awscrt's ``aws_sign_request``: the same headers, byte for byte.
- ``ResponseBody`` (response decoding) against ``InferenceServerClient.parse_response_body``.
- ``new_inference_id`` against ``uuid.uuid4().hex``'s format.
- ``RequestRecord.to_row`` against the formatting the CSV columns document.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import struct
import uuid
from pathlib import Path

import numpy as np
import pytest
from awscrt import auth as crt_auth
from awscrt import http as crt_http
from hypothesis import given, settings
from hypothesis import strategies as st
from tritonclient.http import InferenceServerClient
from tritonclient.utils import InferenceServerException

from bench.collect.record import COLUMNS, RequestRecord
from bench.payload.triton import ResponseBody
from bench.transport.signing import SigV4Signer
from bench.users import new_inference_id

KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def _awscrt_headers(
    path: str, headers: dict[str, str], body: bytes, when_s: int, token: str | None, region: str
) -> list[tuple[str, str]]:
    config = crt_auth.AwsSigningConfig(
        algorithm=crt_auth.AwsSigningAlgorithm.V4,
        signature_type=crt_auth.AwsSignatureType.HTTP_REQUEST_HEADERS,
        credentials_provider=crt_auth.AwsCredentialsProvider.new_static(KEY, SECRET, token),
        region=region,
        service="sagemaker",
        date=datetime.datetime.fromtimestamp(when_s, datetime.UTC),
        signed_body_value=hashlib.sha256(body).hexdigest(),
    )
    request = crt_http.HttpRequest("POST", path, crt_http.HttpHeaders(list(headers.items())))
    crt_auth.aws_sign_request(request, config).result()
    return list(request.headers)


_NAMES = st.sampled_from(
    [
        "X-Amzn-SageMaker-Custom-Attributes",
        "X-Amzn-SageMaker-Target-Model",
        "X-Amzn-SageMaker-Target-Variant",
        "X-Amzn-SageMaker-Inference-Component",
        "Accept",
    ]
)
_VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40).filter(
    lambda v: v.strip() != ""
)
_SEGMENT = st.text(st.sampled_from("abcXYZ019-_.~"), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    extra=st.dictionaries(_NAMES, _VALUES, max_size=4),
    content_type=_VALUES,
    segments=st.lists(_SEGMENT, min_size=1, max_size=4),
    body=st.binary(max_size=200),
    when_s=st.integers(min_value=1_500_000_000, max_value=2_000_000_000),
    token=st.none() | st.text(st.sampled_from("AZaz09+/="), min_size=1, max_size=60),
    region=st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2"]),
)
def test_signer_gives_awscrt_headers(
    extra: dict[str, str],
    content_type: str,
    segments: list[str],
    body: bytes,
    when_s: int,
    token: str | None,
    region: str,
) -> None:
    path = "/endpoints/" + "/".join(segments) + "/invocations"
    headers = {
        "host": "runtime.sagemaker.example.com",
        "Content-Type": content_type,
        "X-Amzn-SageMaker-Inference-Id": new_inference_id(),
        **extra,
    }
    ours = SigV4Signer(region, "sagemaker").headers(path, headers, body, KEY, SECRET, token, now_s=when_s)
    assert list(ours.items()) == _awscrt_headers(path, headers, body, when_s, token, region)


def test_signer_reuses_its_key_only_within_a_day_and_a_secret() -> None:
    signer = SigV4Signer("us-east-1", "sagemaker")
    headers = {"host": "h", "Content-Type": "application/json"}
    for when_s, secret in (
        (1_700_000_000, SECRET),
        (1_700_000_000 + 86_400, SECRET),
        (1_700_090_000, "other"),
    ):
        ours = signer.headers("/p", headers, b"{}", KEY, secret, None, now_s=when_s)
        reference = SigV4Signer("us-east-1", "sagemaker").headers(
            "/p", headers, b"{}", KEY, secret, None, now_s=when_s
        )
        assert ours == reference
    assert signer.matches_awscrt("/endpoints/e/invocations", headers, KEY, SECRET, "token")


def _binary_response(outputs: list[tuple[str, str, list[int], bytes]]) -> tuple[bytes, int]:
    document = {
        "model_name": "m",
        "outputs": [
            {"name": n, "datatype": d, "shape": s, "parameters": {"binary_data_size": len(b)}}
            for n, d, s, b in outputs
        ],
    }
    header = json.dumps(document).encode()
    return header + b"".join(b for *_, b in outputs), len(header)


def _strings(*values: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(v)) + v for v in values)


_FP32 = np.arange(8, dtype=np.float32).tobytes()
RESPONSES = [
    _binary_response([("OUT", "FP32", [2, 4], _FP32)]),
    _binary_response(
        [
            ("A", "INT32", [4], np.arange(4, dtype=np.int32).tobytes()),
            ("B", "BYTES", [2], _strings(b"x", b"yz")),
        ]
    ),
    _binary_response([("E", "FP32", [0], b"")]),
    _binary_response([("SHORT", "FP32", [2, 4], _FP32[:12])]),  # fewer bytes than the shape needs
    (
        json.dumps(
            {"outputs": [{"name": "J", "datatype": "INT64", "shape": [3], "data": [1, 2, 3]}]}
        ).encode(),
        None,
    ),
    (
        json.dumps({"outputs": [{"name": "S", "datatype": "BYTES", "shape": [1], "data": ["hi"]}]}).encode(),
        None,
    ),
    (b'{"outputs": [{"name": "X"}]}', None),  # no datatype
    (b'{"error": "model failed"}', None),
    (b"\xff\xfe not json", None),
    (b'{"outputs": [', None),
    (b'{"model_name": "m"}' + _FP32, 19),  # a header with no outputs
]


@pytest.mark.parametrize(("body", "header_length"), RESPONSES)
def test_response_body_parses_as_tritonclient_does(body: bytes, header_length: int | None) -> None:
    def parsed(parse: object) -> object:
        try:
            result = parse(body, header_length)  # type: ignore[operator]
            response = result.get_response()
            arrays = []
            for output in response.get("outputs", []):
                array = result.as_numpy(output["name"])
                arrays.append(None if array is None else (array.dtype.str, array.shape, array.tolist()))
            return response, arrays
        except (InferenceServerException, KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
            return type(exc).__name__

    reference = parsed(lambda b, n: InferenceServerClient.parse_response_body(b, header_length=n))
    assert parsed(ResponseBody) == reference


def test_inference_ids_are_uuid4_hex() -> None:
    ids = {new_inference_id() for _ in range(1000)}
    assert len(ids) == 1000
    for value in ids:
        parsed = uuid.UUID(hex=value)
        assert (parsed.hex, parsed.version, parsed.variant) == (value, 4, uuid.RFC_4122)


def test_record_row_formats_every_column() -> None:
    full = RequestRecord(
        1.5, 1.25, "w", "U", "stream", "n", "e", "v", "m", "id", 16, 2, "error", "Timeout", "mid_stream",
        424, 12.3456, 1.0, 2.0004, 7, 9, 0.5, 0.75, 10, 20, 250.0, 262.3456,
    )  # fmt: skip
    assert dict(zip(COLUMNS, full.to_row(), strict=True)) == {
        "timestamp_s": "1.500000", "intended_start_s": "1.250000", "worker": "w", "user_class": "U",
        "request_type": "stream", "name": "n", "endpoint": "e", "variant": "v", "target_model": "m",
        "inference_id": "id", "users": "16", "step": "2", "status": "error", "error_type": "Timeout",
        "error_stage": "mid_stream", "http_status": "424", "latency_ms": "12.346", "ttfp_ms": "1.000",
        "ttft_ms": "2.000", "parts": "7", "tokens": "9", "itl_mean_ms": "0.500", "itl_max_ms": "0.750",
        "request_bytes": "10", "response_bytes": "20", "schedule_lag_ms": "250.000",
        "effective_latency_ms": "262.346",
    }  # fmt: skip
    empty = RequestRecord(
        2.0, 2.0, "w", "U", "invoke", "n", "e", None, None, None, None, None, "ok", None, None, None, 0.0
    )
    assert empty.to_row()[7:16] == ["", "", "", "", "", "ok", "", "", ""]
    assert empty.to_row()[17:] == [""] * 8 + ["0.000", "0.000"]  # closed loop: no lag, effective = latency


def test_response_check_remembers_verdicts_exactly() -> None:
    from bench.config import OutputSpec
    from bench.errors import DecodeError
    from bench.payload.triton import ResponseCheck, check_outputs, decode_response

    good, good_size = RESPONSES[0]
    short, short_size = RESPONSES[3]
    content = "application/vnd.sagemaker-triton.binary+json;json-header-size="
    check = ResponseCheck((OutputSpec("OUT", "FP32", (2, 4)),), entries=2, max_body_bytes=len(good))
    for _ in range(3):  # first decoded, then remembered: the same verdict each time
        check(good, f"{content}{good_size}")
        with pytest.raises(DecodeError) as caught:
            check(short, f"{content}{short_size}")
        with pytest.raises(DecodeError) as fresh:
            check_outputs(decode_response(short, f"{content}{short_size}"), check.expected)
        assert (caught.value.message, caught.value.stage) == (fresh.value.message, fresh.value.stage)
        with pytest.raises(DecodeError, match="expected \\[2, 3\\]"):  # other expectations, other verdict
            ResponseCheck((OutputSpec("OUT", "FP32", (2, 3)),))(good, f"{content}{good_size}")
    with pytest.raises(DecodeError):  # the same bytes under another content type are another response
        check(good, "application/json")
    with pytest.raises(DecodeError, match="missing"):  # bodies over the limit are always decoded
        ResponseCheck((OutputSpec("NOPE", None, None),), max_body_bytes=0)(good, f"{content}{good_size}")


def test_writer_formats_in_batches_in_completion_order(tmp_path: Path) -> None:
    import csv

    from bench.collect.writer import PENDING_RECORDS, CsvRecordWriter

    def record(i: int) -> RequestRecord:
        return RequestRecord(float(i), float(i), "local", "U", "invoke", "n", "e", None, None, str(i), 1, None, "ok", None, None, 200, 1.0)  # fmt: skip

    path = tmp_path / "requests.csv"
    writer = CsvRecordWriter(path, flush_interval_s=3600)
    expected = []
    for i in range(PENDING_RECORDS + 10):
        writer.write(record(i))
        expected.append(record(i).to_row())
    shipped = record(500)
    writer.write_records([shipped])  # a worker's batch after ten records still pending: after them
    expected.append(shipped.to_row())
    writer.write(record(999))
    expected.append(record(999).to_row())
    assert writer.rows == len(expected)
    writer.flush()  # pending records are written by a flush, not only at close
    with path.open(newline="") as handle:
        assert list(csv.reader(handle))[1:] == expected
    writer.close()
