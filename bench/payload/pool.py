"""The pool of encoded requests of a run: tensors from specs or files, encoded once, before timing."""

from __future__ import annotations

import numpy as np

from bench.config import MAX_REQUEST_BYTES, PayloadSpec
from bench.errors import ConfigError
from bench.payload.files import load_payload_file
from bench.payload.tensors import NamedTensor, encoded_bytes_floor, synthetic_tensor
from bench.payload.triton import EncodedRequest, encode_request


def build_tensor_sets(spec: PayloadSpec) -> list[tuple[NamedTensor, ...]]:
    """The distinct requests of a run, as tensors: from files (round-robin order) or synthetic."""
    if spec.files:
        sets: list[tuple[NamedTensor, ...]] = []
        for path in spec.files:
            sets.extend(load_payload_file(path, spec.inputs))
        return sets
    if not spec.inputs:
        raise ConfigError("no request data: give --input NAME:DTYPE:SHAPE (repeatable) or --payload FILE")
    check_synthetic_size(spec)
    rng = np.random.default_rng(spec.seed)
    fixed = all(t.values for t in spec.inputs)
    variants = 1 if fixed else max(1, spec.synthetic_variants)
    return [
        tuple(NamedTensor(t.name, t.datatype, synthetic_tensor(t, rng)) for t in spec.inputs)
        for _ in range(variants)
    ]


def check_synthetic_size(spec: PayloadSpec) -> None:
    """ConfigError when the synthetic inputs cannot fit in one request, from their shapes alone
    (before gigabytes of data are generated only to be refused)."""
    floors = [(encoded_bytes_floor(t, spec.tensor_format), t) for t in spec.inputs]
    total = sum(floor for floor, _ in floors)
    if total <= MAX_REQUEST_BYTES:
        return
    tensor = max(floors, key=lambda pair: pair[0])[1]
    shape = ",".join(str(d) for d in tensor.shape)
    raise ConfigError(
        f"--input {tensor.name}:{tensor.datatype}:{shape}: the request body would be at least {total:,} "
        f"bytes ({tensor.element_count:,} elements of {tensor.datatype} in this input), over SageMaker's "
        f"real-time limit of {MAX_REQUEST_BYTES:,} bytes (6 MB); send smaller tensors or use asynchronous inference"
    )


def build_requests(spec: PayloadSpec) -> tuple[EncodedRequest, ...]:
    """Encoded request bodies, checked against SageMaker's 6 MB real-time payload limit."""
    requests = tuple(encode_request(ts, spec.outputs, spec.tensor_format) for ts in build_tensor_sets(spec))
    largest = max(requests, key=lambda r: len(r.body))
    if len(largest.body) > MAX_REQUEST_BYTES:
        raise ConfigError(
            f"request body is {len(largest.body):,} bytes, over SageMaker's real-time limit of "
            f"{MAX_REQUEST_BYTES:,} bytes (6 MB); send smaller tensors or use asynchronous inference"
        )
    return requests
