"""Client side of Triton's binary+json protocol through SageMaker, with tritonclient's own codecs.

Requests are encoded once, before any timing, by ``InferenceServerClient.generate_request_body``;
the JSON header size travels in the content type
``application/vnd.sagemaker-triton.binary+json;json-header-size=N`` (PROTOCOLS.md 4.2). Responses
are decoded by reading N from the response content type and calling ``parse_response_body``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tritonclient.http import InferenceServerClient, InferInput, InferRequestedOutput, InferResult
from tritonclient.http import _infer_result as triton_infer_result
from tritonclient.utils import InferenceServerException, raise_error

from bench.config import OutputSpec
from bench.errors import ConfigError, DecodeError, WireFormatError
from bench.payload.tensors import NamedTensor, as_tensor
from bench.payload.triton_wire import JSON_CONTENT_TYPE, json_header_size, response_content_type

# Triton's HTTP frontend refuses these datatypes as JSON data ("receiving FP16 data via JSON is not supported").
_BINARY_ONLY = ("FP16", "BF16")


@dataclass(frozen=True)
class EncodedRequest:
    """A request body ready to send, with its content type."""

    body: bytes
    content_type: str


@dataclass(frozen=True)
class DecodedOutput:
    name: str
    datatype: str
    array: np.ndarray


def encode_request(
    tensors: Sequence[NamedTensor], outputs: Sequence[OutputSpec] = (), tensor_format: str = "binary"
) -> EncodedRequest:
    """Encode inputs (and requested outputs) as binary+json or JSON.

    In the JSON format inputs travel as JSON ``data`` (FP16 and BF16 stay binary: Triton refuses them
    as JSON) and outputs are asked for as JSON too, except outputs named FP16/BF16 by ``--output``
    (Triton refuses to send those as JSON: a model with such outputs needs them named).
    """
    binary = tensor_format == "binary"
    inputs = []
    for tensor in tensors:
        infer_input = InferInput(tensor.name, list(tensor.array.shape), tensor.datatype)
        try:
            infer_input.set_data_from_numpy(
                tensor.array, binary_data=binary or tensor.datatype in _BINARY_ONLY
            )
        except InferenceServerException as exc:
            raise ConfigError(
                f"input {tensor.name}: cannot encode as {tensor.datatype}: {exc.message()}"
            ) from exc
        inputs.append(infer_input)
    requested = [
        InferRequestedOutput(o.name, binary_data=binary or o.datatype in _BINARY_ONLY) for o in outputs
    ]
    body, json_size = InferenceServerClient.generate_request_body(inputs, outputs=requested or None)
    if not binary and not requested:
        body, json_size = _ask_json_outputs(body, json_size)
    return EncodedRequest(body=bytes(body), content_type=response_content_type(json_size))


def _ask_json_outputs(body: bytes, json_size: int | None) -> tuple[bytes, int | None]:
    """tritonclient asks for binary outputs when none are named; the JSON format wants JSON ones."""
    header_end = len(body) if json_size is None else json_size
    document = json.loads(body[:header_end])
    document.setdefault("parameters", {})["binary_data_output"] = False
    header = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return header + body[header_end:], None if json_size is None else len(header)


def decode_response(body: bytes, content_type: str | None) -> list[DecodedOutput]:
    """Outputs of a Triton response; DecodeError when the bytes are not a valid response."""
    try:
        header_length = json_header_size(content_type, len(body))
    except WireFormatError as exc:
        raise DecodeError(f"response content type {content_type!r}: {exc.message}") from exc
    if content_type and header_length is None and not content_type.startswith(JSON_CONTENT_TYPE):
        raise DecodeError(f"response content type {content_type!r} is neither JSON nor Triton binary+json")
    try:
        result = ResponseBody(body, header_length)
        response = result.get_response()
        outputs = []
        for output in response.get("outputs", []):
            array = result.as_numpy(output["name"])
            if array is None:
                raise DecodeError(f"output {output['name']!r} has no data")
            if output["datatype"] == "BYTES":  # JSON data decodes to str: one form for both
                array = as_tensor(array, "BYTES")
            outputs.append(DecodedOutput(output["name"], output["datatype"], array))
    except DecodeError:
        raise
    except (InferenceServerException, KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"response is not a valid Triton inference response: {exc}") from exc
    return outputs


class ResponseBody(InferResult):  # type: ignore[misc]  # tritonclient is untyped
    """``InferenceServerClient.parse_response_body(body, header_length=n)`` for an uncompressed body.

    The same parsing (``InferResult.__init__``'s, with tritonclient's own JSON module), and
    tritonclient's ``as_numpy`` and ``get_response``; only the two classes that ``from_response_body``
    and ``__init__`` define on every call (about 12 us a response, half the decoding) are gone.
    SageMaker hands responses over without Content-Encoding, so the decompressing path never applies.
    """

    def __init__(self, body: bytes, header_length: int | None) -> None:  # no super(): this is its body
        loads = triton_infer_result.json.loads
        if header_length is None:
            try:
                self._result = loads(body)
            except UnicodeDecodeError as e:
                raise_error(
                    f"Failed to encode using UTF-8. Please use binary_data=True, if"
                    f" you want to pass a byte array. UnicodeError: {e}"
                )
            return
        self._result = loads(body[:header_length])
        self._output_name_to_buffer_map: dict[str, int] = {}
        self._buffer = body[header_length:]
        buffer_index = 0
        for output in self._result["outputs"]:
            parameters = output.get("parameters")
            if parameters is not None:
                this_data_size = parameters.get("binary_data_size")
                if this_data_size is not None:
                    self._output_name_to_buffer_map[output["name"]] = buffer_index
                    buffer_index = buffer_index + this_data_size


class ResponseCheck:
    """``check_outputs(decode_response(body, content_type), expected)`` for one run, remembered per response.

    The verdict (valid, or the DecodeError message) is a pure function of the content type and the body
    bytes, so a response seen before gets the same verdict without decoding again: exact, whatever the
    model. A load test sends a fixed pool of bodies, and a deterministic model answers each with the same
    bytes every time, so most responses are repeats; a new one (a model whose outputs vary) costs one
    hash of its body more than decoding alone. At most ``entries`` verdicts are kept (then forgotten all
    at once), and only for bodies up to ``max_body_bytes``; larger ones are always decoded.
    """

    def __init__(
        self, expected: Sequence[OutputSpec], *, entries: int = 256, max_body_bytes: int = 64 * 1024
    ) -> None:
        self.expected = tuple(expected)
        self._entries = entries
        self._max_body_bytes = max_body_bytes
        self._verdicts: dict[tuple[str | None, bytes], str | None] = {}

    def __call__(self, body: bytes, content_type: str | None) -> None:
        """Raises DecodeError when the response is not a valid Triton response with the expected outputs."""
        if len(body) > self._max_body_bytes:
            check_outputs(decode_response(body, content_type), self.expected)
            return
        key = (content_type, body)
        try:
            verdict = self._verdicts[key]
        except KeyError:
            try:
                check_outputs(decode_response(body, content_type), self.expected)
                verdict = None
            except DecodeError as exc:
                verdict = exc.message
            if len(self._verdicts) >= self._entries:
                self._verdicts.clear()
            self._verdicts[key] = verdict
        if verdict is not None:
            raise DecodeError(verdict)


def check_outputs(outputs: Sequence[DecodedOutput], expected: Sequence[OutputSpec]) -> None:
    """Each expected output is present with its datatype and shape (-1 matches any dimension)."""
    if not outputs:
        raise DecodeError("response has no outputs")
    by_name = {o.name: o for o in outputs}
    for spec in expected:
        found = by_name.get(spec.name)
        if found is None:
            raise DecodeError(f"output {spec.name!r} missing from the response (got {sorted(by_name)})")
        if spec.datatype and found.datatype != spec.datatype:
            raise DecodeError(f"output {spec.name!r} is {found.datatype}, expected {spec.datatype}")
        if spec.shape is not None and not _shape_matches(found.array.shape, spec.shape):
            raise DecodeError(
                f"output {spec.name!r} has shape {list(found.array.shape)}, expected {list(spec.shape)}"
            )


def _shape_matches(actual: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    return len(actual) == len(expected) and all(
        e < 0 or a == e for a, e in zip(actual, expected, strict=True)
    )


def outputs_as_json(outputs: Sequence[DecodedOutput]) -> list[dict[str, object]]:
    """Outputs as JSON-friendly dicts (BYTES decoded as UTF-8 where possible)."""
    rendered: list[dict[str, object]] = []
    for output in outputs:
        flat = output.array.reshape(-1)
        if output.datatype == "BYTES":
            data: list[object] = [
                v.decode("utf-8", errors="backslashreplace") if isinstance(v, bytes) else str(v) for v in flat
            ]
        elif output.datatype in ("FP16", "BF16"):
            data = [float(v) for v in flat.astype(np.float32)]
        else:
            data = list(flat.tolist())
        rendered.append(
            {
                "name": output.name,
                "datatype": output.datatype,
                "shape": list(output.array.shape),
                "data": data,
            }
        )
    return rendered
