"""Simulated Triton models: validate a decoded request like Triton, compute real outputs, encode.

Validation follows ``InferenceRequest::Normalize`` in Triton core, in its order: duplicate inputs,
requested outputs, input count, per input name and batch dimension, batch size, then per input
datatype and shape. It stops at the first error. Every failure is a ``WireFormatError`` carrying
Triton's exact text (``tritonmessages``) and the status Triton answers with.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.emulator import tritonmessages as msg
from bench.emulator.modelconfig import ModelConfig, TensorConfig
from bench.errors import WireFormatError
from bench.payload.triton_wire import InferRequest, WireTensor, encode_infer_response

MODEL_VERSION = "1"
S3_SCHEME = b"s3://"
RESULT_EXTENSION = ".json"


class TritonModel:
    """One model of an endpoint, precomputed from its config for a lean per-request path."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.name = config.name
        self._inputs = {t.name: t for t in config.inputs}
        self._input_names = [t.name for t in config.inputs]
        self._output_names = {t.name for t in config.outputs}
        self._compute = _COMPUTE[config.type]

    def validate(self, request: InferRequest) -> None:
        """Raise ``WireFormatError`` with Triton's message when the request does not fit the model."""
        prefix = msg.request_prefix(request.request_id)
        names = [t.name for t in request.inputs]
        if len(set(names)) != len(names):
            duplicate = next(n for i, n in enumerate(names) if n in names[:i])
            raise WireFormatError(msg.duplicate_input(prefix, duplicate))
        for output in request.outputs:
            if output.name not in self._output_names:
                raise WireFormatError(msg.unknown_output(output.name, self.name))
        if len(names) != len(self._input_names):
            missing = [n for n in self._input_names if n not in names]
            raise WireFormatError(msg.input_count(prefix, self.name, len(self._input_names), names, missing))
        max_batch_size = self.config.max_batch_size
        batch = -1
        for tensor in request.inputs:
            if tensor.name not in self._inputs:
                raise WireFormatError(msg.unknown_input(tensor.name, self.name))
            if max_batch_size > 0:
                if not tensor.shape:
                    raise WireFormatError(msg.no_batch_dim(prefix, tensor.name, self.name))
                if batch < 0:
                    batch = tensor.shape[0]
                elif tensor.shape[0] != batch:
                    raise WireFormatError(msg.batch_mismatch(prefix, tensor.name, self.name))
        if batch > max_batch_size:
            raise WireFormatError(msg.batch_too_large(prefix, max_batch_size, self.name))
        for tensor in request.inputs:
            self._check_tensor(tensor, self._inputs[tensor.name], prefix)

    def _check_tensor(self, tensor: WireTensor, config: TensorConfig, prefix: str) -> None:
        if tensor.datatype != config.datatype:
            raise WireFormatError(
                msg.wrong_datatype(prefix, tensor.name, tensor.datatype, self.name, config.datatype)
            )
        batching = self.config.max_batch_size > 0
        shape = tensor.shape[1:] if batching else tensor.shape
        if len(shape) != len(config.dims) or any(
            d not in (-1, s) for d, s in zip(config.dims, shape, strict=True)
        ):
            expected = ([-1] if batching else []) + list(config.dims)
            raise WireFormatError(
                msg.wrong_shape(prefix, tensor.name, self.name, expected, list(tensor.shape), batching)
            )

    def infer(self, request: InferRequest) -> tuple[bytes, str]:
        """Body and Content-Type of the response to a validated request."""
        by_name = {t.name: t for t in self._compute(self.config, request)}
        if request.outputs:
            selected = [(by_name[o.name], request.output_is_binary(o.name)) for o in request.outputs]
        else:
            selected = [(by_name[t.name], request.binary_data_output) for t in self.config.outputs]
        return encode_infer_response(
            model_name=self.name, model_version=MODEL_VERSION, outputs=selected, request_id=request.request_id
        )


def _add_sub(config: ModelConfig, request: InferRequest) -> list[WireTensor]:
    inputs = {t.name: t for t in request.inputs}
    a, b = (inputs[t.name] for t in config.inputs)
    if a.shape != b.shape:
        raise WireFormatError(
            f"{msg.request_prefix(request.request_id)}model '{config.name}': inputs '{a.name}' and "
            f"'{b.name}' need equal shapes, got {msg.dims_text(a.shape)} and {msg.dims_text(b.shape)}"
        )
    with np.errstate(all="ignore"):
        results = (a.array + b.array, a.array - b.array)
    return [
        WireTensor(out.name, out.datatype, a.shape, result.astype(a.array.dtype, copy=False))
        for out, result in zip(config.outputs, results, strict=True)
    ]


def _identity(config: ModelConfig, request: InferRequest) -> list[WireTensor]:
    inputs = {t.name: t for t in request.inputs}
    return [
        WireTensor(out.name, out.datatype, inputs[src.name].shape, inputs[src.name].array)
        for src, out in zip(config.inputs, config.outputs, strict=True)
    ]


def _image_path(config: ModelConfig, request: InferRequest) -> list[WireTensor]:
    tensor = request.inputs[0]
    flat = tensor.array.reshape(-1)
    results = np.empty(flat.shape, dtype=object)
    for i, value in enumerate(flat):
        uri = value if isinstance(value, bytes) else str(value).encode("utf-8")
        if not uri.startswith(S3_SCHEME) or b"/" not in uri[len(S3_SCHEME) :]:
            raise WireFormatError(
                f"{msg.request_prefix(request.request_id)}model '{config.name}': element {i} of input "
                f"'{tensor.name}' is not an S3 object URI: {uri[:200]!r}; expected s3://bucket/key"
            )
        results[i] = result_uri(uri, config.output_prefix)
    output = config.outputs[0]
    return [WireTensor(output.name, output.datatype, tensor.shape, results.reshape(tensor.array.shape))]


def result_uri(uri: bytes, output_prefix: str) -> bytes:
    """``s3://b/images/cat.jpg`` -> ``s3://b/images/cat.json``; with a prefix, ``<prefix>cat.json``."""
    directory, _, filename = uri.rpartition(b"/")
    stem = filename.rsplit(b".", 1)[0] if b"." in filename[1:] else filename
    result = stem + RESULT_EXTENSION.encode()
    return output_prefix.encode("utf-8") + result if output_prefix else directory + b"/" + result


_COMPUTE: dict[str, Callable[[ModelConfig, InferRequest], list[WireTensor]]] = {
    "add_sub": _add_sub,
    "identity": _identity,
    "image_path": _image_path,
}
