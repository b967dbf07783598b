"""Tensors as numpy arrays: Triton datatype mapping and seeded synthetic data.

BYTES tensors are numpy object arrays of ``bytes``; BF16 uses ``ml_dtypes.bfloat16`` (what
tritonclient expects since r26.06); BOOL is numpy ``bool``.
"""

from __future__ import annotations

import string

import numpy as np
from tritonclient.utils import np_to_triton_dtype, triton_to_np_dtype

from bench.config import TensorSpec
from bench.errors import ConfigError

# Bytes per element on the wire; BYTES elements are variable (4-byte length prefix + data).
ELEMENT_BYTES = {
    "BOOL": 1,
    "UINT8": 1,
    "UINT16": 2,
    "UINT32": 4,
    "UINT64": 8,
    "INT8": 1,
    "INT16": 2,
    "INT32": 4,
    "INT64": 8,
    "FP16": 2,
    "FP32": 4,
    "FP64": 8,
    "BF16": 2,
}
_TEXT_ALPHABET = np.array(list(string.ascii_letters + string.digits))
_RANDOM_TEXT_LENGTH = 16
BYTES_LENGTH_PREFIX = 4  # binary BYTES elements: a 4-byte little-endian length before each value
_JSON_BINARY = ("FP16", "BF16")  # stay binary in the JSON format (Triton refuses them as JSON)


def numpy_dtype(datatype: str) -> np.dtype[np.generic]:
    """The numpy dtype that holds a Triton datatype (object for BYTES)."""
    dtype: np.dtype[np.generic] = np.dtype(triton_to_np_dtype(datatype))
    return dtype


def triton_datatype(array: np.ndarray) -> str:
    """The Triton datatype for a numpy array; str/bytes/object arrays are BYTES."""
    if array.dtype.kind in ("U", "S", "O"):
        return "BYTES"
    datatype = np_to_triton_dtype(array.dtype)
    if datatype is None:
        raise ConfigError(f"numpy dtype {array.dtype} has no Triton datatype; convert the array first")
    return str(datatype)


def as_tensor(values: object, datatype: str) -> np.ndarray:
    """Convert list data (numbers, bools, strings) to the numpy form of ``datatype``."""
    if datatype == "BYTES":
        flat = np.asarray(values, dtype=object)
        return np.vectorize(_to_bytes, otypes=[object])(flat) if flat.size else flat
    dtype = numpy_dtype(datatype)
    try:
        return np.asarray(values, dtype=dtype)  # exact for integers past int64 (UINT64)
    except (OverflowError, ValueError, TypeError):
        return np.asarray(values).astype(dtype)


def _to_bytes(value: object) -> bytes:
    if isinstance(value, bytes):  # np.bytes_ too (a subclass)
        return value
    return str(value).encode("utf-8")


def synthetic_tensor(spec: TensorSpec, rng: np.random.Generator) -> np.ndarray:
    """Data for one input: ``spec.values`` cycled, or seeded random values of the datatype.

    Random ranges are small and non-negative so that the data is valid for every integer type and
    typical models (indices, token ids) do not reject it.
    """
    if not spec.is_concrete:
        raise ConfigError(
            f"--input {spec.name}: shape {list(spec.shape)} has -1; give every dimension for synthetic data"
        )
    count = spec.element_count
    if spec.values:
        cycled = [spec.values[i % len(spec.values)] for i in range(count)]
        if spec.datatype == "BOOL":
            data: object = [v.lower() in ("1", "true") for v in cycled]
        elif spec.datatype == "BYTES":
            data = cycled
        elif spec.datatype.startswith(("INT", "UINT")):
            data = [int(float(v)) if "." in v or "e" in v.lower() else int(v) for v in cycled]
        else:
            data = [float(v) for v in cycled]
        return as_tensor(data, spec.datatype).reshape(spec.shape)
    datatype = spec.datatype
    if datatype == "BOOL":
        array: np.ndarray = rng.integers(0, 2, size=count).astype(bool)
    elif datatype == "BYTES":
        letters = rng.choice(_TEXT_ALPHABET, size=(count, _RANDOM_TEXT_LENGTH))
        array = np.array(["".join(row).encode("ascii") for row in letters] or [], dtype=object)
    elif datatype.startswith(("INT", "UINT")):
        array = rng.integers(0, 100, size=count).astype(numpy_dtype(datatype))
    else:
        array = rng.random(size=count, dtype=np.float64).astype(numpy_dtype(datatype))
    return array.reshape(spec.shape)


def encoded_bytes_floor(spec: TensorSpec, tensor_format: str = "binary") -> int:
    """At least how many bytes the synthetic data of ``spec`` takes in a request body (from its shape).

    Known before any data exists, so that a tensor too large to send is refused without allocating
    it. Binary: the element count times the datatype's size (BYTES: the 4-byte length prefix plus the
    shortest value, 16 for random text). JSON: at least one character and a separator per number, a
    BYTES value with its quotes and separator. 0 for shapes with -1 (their data comes from a file).
    """
    if not spec.is_concrete:
        return 0
    count = spec.element_count
    if spec.datatype == "BYTES":
        shortest = min((len(v.encode("utf-8")) for v in spec.values), default=_RANDOM_TEXT_LENGTH)
        per_element = BYTES_LENGTH_PREFIX + shortest if tensor_format == "binary" else shortest + 3
    elif tensor_format == "binary" or spec.datatype in _JSON_BINARY:
        per_element = ELEMENT_BYTES[spec.datatype]
    else:
        per_element = 2
    return count * per_element - (1 if count and tensor_format != "binary" else 0)


class NamedTensor:
    """An input tensor ready to encode: name, Triton datatype and data in its numpy form."""

    __slots__ = ("array", "datatype", "name")

    def __init__(self, name: str, datatype: str, array: np.ndarray) -> None:
        self.name = name
        self.datatype = datatype
        self.array = array

    def __repr__(self) -> str:
        return f"NamedTensor({self.name!r}, {self.datatype}, shape={list(self.array.shape)})"
