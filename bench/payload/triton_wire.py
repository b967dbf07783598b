"""Triton's binary+json wire format as a server reads and writes it (PROTOCOLS.md 3 and 4.2).

Pure functions over bytes, shared by the emulator (decode requests, encode responses). The client
side (``bench.payload.triton``) encodes and decodes with tritonclient's own codecs; tests check the
two against each other for every datatype.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tritonclient.utils import deserialize_bytes_tensor, serialize_byte_tensor

from bench.errors import WireFormatError
from bench.payload.tensors import ELEMENT_BYTES, as_tensor, numpy_dtype

BINARY_JSON_PREFIX = "application/vnd.sagemaker-triton.binary+json;json-header-size="
JSON_CONTENT_TYPE = "application/json"


def json_header_size(content_type: str | None, body_length: int) -> int | None:
    """N from ``...binary+json;json-header-size=N``; None when the whole body is JSON.

    Mirrors Triton's SageMaker frontend: the MIME string must start with the prefix exactly, N must
    be within 0..len(body).
    """
    if not content_type or BINARY_JSON_PREFIX not in content_type:
        return None
    if not content_type.startswith(BINARY_JSON_PREFIX):
        raise WireFormatError(
            f"expect MIME type for binary data starts with '{BINARY_JSON_PREFIX}', got: {content_type}"
        )
    text = content_type[len(BINARY_JSON_PREFIX) :].split(";", 1)[0].strip()
    try:
        size = int(text)
    except ValueError:
        size = 0  # Triton parses N with atoi: a non-number is 0, a raw binary request
    if size < 0 or size > body_length:
        raise WireFormatError(f"inference header size should be in range (0, {body_length}), got: {size}")
    return size


def response_content_type(json_size: int | None) -> str:
    return JSON_CONTENT_TYPE if json_size is None else f"{BINARY_JSON_PREFIX}{json_size}"


@dataclass(frozen=True)
class WireTensor:
    """A tensor as it crossed the wire: name, datatype, shape and data (numpy form)."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    array: np.ndarray


@dataclass(frozen=True)
class RequestedOutput:
    name: str
    binary: bool | None = None


@dataclass(frozen=True)
class InferRequest:
    inputs: tuple[WireTensor, ...]
    outputs: tuple[RequestedOutput, ...] = ()
    request_id: str = ""
    binary_data_output: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)

    def output_is_binary(self, name: str) -> bool:
        for output in self.outputs:
            if output.name == name and output.binary is not None:
                return output.binary
        return self.binary_data_output


def request_prefix(request_id: str) -> str:
    """Triton core's ``LogRequest()`` prefix on request validation messages."""
    return f"[request id: {request_id or '<id_unknown>'}] "


def decode_infer_request(body: bytes, header_size: int | None, *, model_name: str = "") -> InferRequest:
    """Parse a KServe v2 inference request with optional binary tensors after the JSON header.

    Messages and statuses follow Triton's HTTP frontend (r24.01+): JSON-library failures are 500,
    framing and data-size failures 400.
    """
    if header_size == 0:
        raise WireFormatError("raw binary requests (json-header-size=0) are not supported by this model")
    header_bytes = body if header_size is None else body[:header_size]
    document = _parse_json(header_bytes)
    raw_inputs = document.get("inputs")
    if raw_inputs is None:
        raise WireFormatError(_NO_MEMBER.format(key="inputs"), status=500)
    if not isinstance(raw_inputs, list):
        raise WireFormatError(
            "Unable to parse 'inputs': attempt to access JSON non-array as array", status=500
        )
    request_id = str(document.get("id", ""))
    context = _Context(model_name=model_name, prefix=request_prefix(request_id))
    binary = memoryview(body)[header_size:] if header_size is not None else memoryview(b"")
    offset = 0
    inputs = []
    for raw in raw_inputs:
        tensor, used = _decode_input(raw, binary[offset:], context)
        inputs.append(tensor)
        offset += used
    if offset != len(binary):
        raise WireFormatError(f"unexpected additional input data for model '{model_name}'")
    parameters = document.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise WireFormatError(
            "Unable to parse 'parameters': attempt to access JSON non-object as object", status=500
        )
    outputs = tuple(_decode_requested_output(raw) for raw in document.get("outputs") or [])
    return InferRequest(
        inputs=tuple(inputs),
        outputs=outputs,
        request_id=request_id,
        binary_data_output=bool(parameters.get("binary_data_output", False)),
        parameters=parameters,
    )


_NO_MEMBER = "Unable to parse '{key}': attempt to access non-existing object member '{key}'"
_NO_DATA = (
    "Input must set only one of the following fields: 'data', 'binary_data_size' in 'parameters', "
    "'shared_memory_region' in 'parameters'. But no field is set"
)


@dataclass(frozen=True)
class _Context:
    model_name: str
    prefix: str


def _parse_json(header: bytes) -> dict[str, Any]:
    try:
        document = json.loads(header)
    except UnicodeDecodeError:
        raise WireFormatError(
            "failed to parse the request JSON buffer: Invalid encoding. at 0", status=500
        ) from None
    except json.JSONDecodeError as exc:
        reason = "The document is empty." if not header.strip() else "Invalid value."
        raise WireFormatError(
            f"failed to parse the request JSON buffer: {reason} at {exc.pos}", status=500
        ) from None
    if not isinstance(document, dict):
        raise WireFormatError(_NO_MEMBER.format(key="inputs"), status=500)
    return document


def _decode_requested_output(raw: Any) -> RequestedOutput:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise WireFormatError(_NO_MEMBER.format(key="name"), status=500)
    params = raw.get("parameters") or {}
    binary = params.get("binary_data") if isinstance(params, dict) else None
    return RequestedOutput(name=raw["name"], binary=None if binary is None else bool(binary))


def _decode_input(raw: Any, binary: memoryview, context: _Context) -> tuple[WireTensor, int]:
    for key in ("name", "shape", "datatype"):
        if not isinstance(raw, dict) or key not in raw:
            raise WireFormatError(_NO_MEMBER.format(key=key), status=500)
    name, datatype, shape = raw["name"], raw["datatype"], raw["shape"]
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise WireFormatError(
            "Unable to parse 'shape': attempt to access JSON non-unsigned-integer as unsigned-integer",
            status=500,
        )
    if datatype != "BYTES" and datatype not in ELEMENT_BYTES:
        raise WireFormatError(f"invalid datatype for input {name}")
    count = math.prod(shape)
    params = raw.get("parameters") or {}
    size = params.get("binary_data_size") if isinstance(params, dict) else None
    if size is not None:
        if not isinstance(size, int) or size < 0 or size > len(binary):
            raise WireFormatError(
                f"unexpected size for input '{name}', expecting {int(size) - len(binary)} additional bytes "
                f"for model '{context.model_name}'"
            )
        array = _array_from_binary(bytes(binary[:size]), datatype, count, name, context)
        return WireTensor(name, datatype, tuple(shape), array.reshape(shape)), size
    if "data" not in raw:
        raise WireFormatError(_NO_DATA)
    if datatype in ("FP16", "BF16"):
        raise WireFormatError(
            f"receiving {datatype} data via JSON is not supported. Please use the binary data format for input {name}"
        )
    flat = _flatten(raw["data"])
    if len(flat) != count:
        raise WireFormatError(
            "Unable to parse 'data': Shape does not match true shape of 'data' field", status=500
        )
    try:
        array = as_tensor(flat, datatype)
    except (ValueError, TypeError, OverflowError):
        raise WireFormatError(
            f"Unable to parse 'data': attempt to access JSON non-{datatype.lower()} as {datatype.lower()}",
            status=500,
        ) from None
    return WireTensor(name, datatype, tuple(shape), array.reshape(shape)), 0


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _array_from_binary(raw: bytes, datatype: str, count: int, name: str, context: _Context) -> np.ndarray:
    if datatype == "BYTES":
        try:
            array = np.asarray(deserialize_bytes_tensor(raw), dtype=object)
        except Exception:  # tritonclient raises struct.error / IndexError on a truncated element
            array = None
        if array is None or array.size != count:
            got = "a malformed buffer" if array is None else str(array.size)
            raise WireFormatError(
                f"{context.prefix}expected {count} string elements for inference input '{name}' "
                f"for model '{context.model_name}', got {got}"
            )
        return array
    expected = count * ELEMENT_BYTES[datatype]
    if len(raw) != expected:
        raise WireFormatError(
            f"{context.prefix}input byte size mismatch for input '{name}' for model '{context.model_name}'. "
            f"Expected {expected}, got {len(raw)}"
        )
    dtype = numpy_dtype(datatype).newbyteorder("<")
    return np.frombuffer(raw, dtype=dtype).astype(numpy_dtype(datatype))


def encode_infer_response(
    *,
    model_name: str,
    model_version: str,
    outputs: list[tuple[WireTensor, bool]],
    request_id: str = "",
) -> tuple[bytes, str]:
    """Body and Content-Type for a response; each output as binary or JSON ``data``.

    An FP16 or BF16 output asked for as JSON is refused as Triton 2.51 refuses it (checked against the
    real server): ``WireFormatError`` 400 "sending FP16 data via JSON is not supported...".
    """
    json_outputs = []
    chunks = []
    for tensor, binary in outputs:
        entry: dict[str, Any] = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": list(tensor.shape),
        }
        if not binary and tensor.datatype in ("FP16", "BF16"):
            raise WireFormatError(
                f"sending {tensor.datatype} data via JSON is not supported. Please use the binary data format for output"
            )
        if binary:
            raw = _binary_from_array(tensor.array, tensor.datatype)
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = _json_data(tensor.array, tensor.datatype)
        json_outputs.append(entry)
    document: dict[str, Any] = {"model_name": model_name, "model_version": model_version}
    if request_id:
        document["id"] = request_id
    document["outputs"] = json_outputs
    header = json.dumps(document, separators=(",", ":")).encode("utf-8")
    if not chunks:
        return header, JSON_CONTENT_TYPE
    return header + b"".join(chunks), response_content_type(len(header))


def _binary_from_array(array: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        serialized = serialize_byte_tensor(np.asarray(array, dtype=object))
        return bytes(serialized.item()) if serialized.size else b""
    return np.ascontiguousarray(array, dtype=numpy_dtype(datatype).newbyteorder("<")).tobytes()


def _json_data(array: np.ndarray, datatype: str) -> list[Any]:
    flat = array.reshape(-1)
    if datatype == "BYTES":
        return [v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v) for v in flat]
    if datatype in ("FP16", "BF16"):
        return [float(v) for v in flat.astype(np.float32)]
    return list(flat.tolist())
