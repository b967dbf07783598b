"""Triton's request-validation error texts, in one place.

Copied from triton-inference-server/core (r24.10 and main): ``src/infer_request.cc``
(``Normalize``, ``ValidateRequestInputs``, ``AddOriginalInput``) and ``src/model.cc`` (``GetInput``,
``GetOutput``); ``DimsListToString`` from common ``model_config.cc``. Messages built with
``LogRequest()`` start with ``[request id: <id>] `` (``<id_unknown>`` when the request has no id);
``Model::GetInput``/``GetOutput`` messages have no prefix. All are INVALID_ARG, i.e. HTTP 400, and the
body Triton sends is compact ``{"error":"<message>"}``. The HTTP frontend's parsing and framing
messages live with the codec in ``bench.payload.triton_wire``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

# InferenceRequest::LogRequest(), shared with the codec.
from bench.payload.triton_wire import request_prefix as request_prefix

IMPLICIT_BATCH_NOTE = (
    "NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to be "
    "prepended to each input shape. If you want to specify the full shape including the batch dim in "
    "your input dims config, try setting max_batch_size to zero. See the model configuration docs for "
    "more info on max_batch_size."
)


def dims_text(dims: Iterable[int]) -> str:
    """``DimsListToString``: ``[-1,16]``, no spaces."""
    return "[" + ",".join(str(d) for d in dims) + "]"


def error_body(message: str) -> str:
    """The body Triton answers with (``EVBufferAddErrorJson``)."""
    return json.dumps({"error": message}, separators=(",", ":"))


def unknown_input(name: str, model: str) -> str:
    return f"unexpected inference input '{name}' for model '{model}'"


def unknown_output(name: str, model: str) -> str:
    return f"unexpected inference output '{name}' for model '{model}'"


def duplicate_input(prefix: str, name: str) -> str:
    return f"{prefix}input '{name}' already exists in request"


def input_count(prefix: str, model: str, expected: int, given: list[str], missing: list[str]) -> str:
    # Triton builds each list as "[" + "'a'," ... then pop_back(); with nothing missing that deletes
    # the "[" and the text reads "missing required input(s) ]" (reproduced on purpose).
    given_text = "[" + ",".join(f"'{n}'" for n in given) + "]" if given else "[]"
    missing_text = "[" + ",".join(f"'{n}'" for n in missing) + "]" if missing else "]"
    return (
        f"{prefix}expected {expected} inputs but got {len(given)} inputs for model '{model}'. "
        f"Got input(s) {given_text}, but missing required input(s) {missing_text}. "
        "Please provide all required input(s)."
    )


def no_batch_dim(prefix: str, name: str, model: str) -> str:
    return f"{prefix}input '{name}' has no shape but model requires batch dimension for '{model}'"


def batch_mismatch(prefix: str, name: str, model: str) -> str:
    return f"{prefix}input '{name}' batch size does not match other inputs for '{model}'"


def batch_too_large(prefix: str, max_batch_size: int, model: str) -> str:
    return f"{prefix}inference request batch-size must be <= {max_batch_size} for '{model}'"


def wrong_datatype(prefix: str, name: str, given: str, model: str, expected: str) -> str:
    return (
        f"{prefix}inference input '{name}' data-type is '{given}', but model '{model}' expects '{expected}'"
    )


def wrong_shape(
    prefix: str, name: str, model: str, expected: list[int], given: list[int], batching: bool
) -> str:
    note = IMPLICIT_BATCH_NOTE if batching else ""
    return (
        f"{prefix}unexpected shape for input '{name}' for model '{model}'. "
        f"Expected {dims_text(expected)}, got {dims_text(given)}. {note}"
    )
