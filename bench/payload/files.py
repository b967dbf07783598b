"""Request data from files: perf_analyzer ``--input-data`` JSON and numpy ``.npz``.

perf_analyzer JSON (``{"data": [entry, ...]}``), each entry mapping input names to one of:

- a flat (or nested) list of values, row-major; the shape comes from ``--input NAME:DTYPE:SHAPE``
  (a ``-1`` dimension is inferred from the element count);
- ``{"content": [...] | {"b64": ...}, "shape": [...]}``;
- ``{"b64": "..."}``: little-endian raw bytes; BYTES as 4-byte length-prefixed elements.

JSON carries no datatypes, so each input needs an ``--input`` naming its datatype. An ``.npz``
file is one request: its arrays by name, datatypes from the arrays unless an ``--input`` overrides.
Entries are used round-robin, in file order.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.npyio import NpzFile
from tritonclient.utils import deserialize_bytes_tensor

from bench.config import TensorSpec
from bench.errors import ConfigError
from bench.payload.tensors import NamedTensor, as_tensor, numpy_dtype, triton_datatype


def load_payload_file(path: Path, specs: Sequence[TensorSpec]) -> list[tuple[NamedTensor, ...]]:
    """Every request the file describes, as tensors in a stable input order."""
    if not path.exists():
        raise ConfigError(f"--payload {path}: no such file; give a perf_analyzer JSON file or an .npz")
    if path.suffix.lower() == ".npz":
        return [_load_npz(path, specs)]
    return _load_json(path, specs)


def _load_json(path: Path, specs: Sequence[TensorSpec]) -> list[tuple[NamedTensor, ...]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--payload {path}: cannot read it ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"--payload {path}: not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"
        ) from exc
    entries = document.get("data") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(
            f'--payload {path}: expected perf_analyzer input data {{"data": [{{"INPUT0": [...]}}, ...]}} '
            "with at least one entry"
        )
    by_name = {spec.name: spec for spec in specs}
    requests = []
    for index, entry in enumerate(entries):
        where = f"--payload {path}: entry {index}"
        if not isinstance(entry, dict) or not entry:
            raise ConfigError(f"{where} is not an object of input names to data")
        if set(entry) != set(by_name):
            raise ConfigError(_mismatch_message(where, entry.keys(), by_name.keys()))
        tensors = tuple(
            _json_tensor(entry[spec.name], spec, where=f"{where} input {spec.name!r}") for spec in specs
        )
        requests.append(tensors)
    return requests


def _mismatch_message(where: str, found: Any, declared: Any) -> str:
    found_names, declared_names = sorted(found), sorted(declared)
    if not declared_names:
        return (
            f"{where} has inputs {found_names} but no --input gives their datatypes; "
            f"add --input NAME:DTYPE:SHAPE for each (SHAPE may be -1 to take it from the file)"
        )
    return (
        f"{where} has inputs {found_names} but --input declares {declared_names}; "
        "make the names match (one --input NAME:DTYPE:SHAPE per input in the file)"
    )


def _json_tensor(value: Any, spec: TensorSpec, *, where: str) -> NamedTensor:
    shape: Sequence[int] | None = None
    if isinstance(value, dict) and "content" in value:
        shape = value.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ConfigError(f'{where}: "content" needs "shape": a list of non-negative integers')
        value = value["content"]
    if isinstance(value, dict) and "b64" in value:
        array = _from_b64(value["b64"], spec.datatype, where=where)
    elif isinstance(value, dict):
        raise ConfigError(f'{where}: expected a list, {{"content": ..., "shape": ...}} or {{"b64": ...}}')
    elif isinstance(value, list):
        try:
            array = as_tensor(np.asarray(value, dtype=object).reshape(-1), spec.datatype)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{where}: values are not {spec.datatype} ({exc})") from exc
    else:
        raise ConfigError(f"{where}: expected a list of values, got {type(value).__name__}")
    target = tuple(shape) if shape is not None else _resolve_shape(spec.shape, array.size, where=where)
    if math.prod(target) != array.size:
        raise ConfigError(f"{where}: {array.size} values do not fill shape {list(target)}")
    if shape is not None and spec.is_concrete and tuple(shape) != spec.shape:
        raise ConfigError(f"{where}: file shape {list(shape)} differs from --input shape {list(spec.shape)}")
    return NamedTensor(spec.name, spec.datatype, array.reshape(target))


def _from_b64(text: Any, datatype: str, *, where: str) -> np.ndarray:
    if not isinstance(text, str):
        raise ConfigError(f'{where}: "b64" must be a base64 string')
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f'{where}: "b64" is not valid base64 ({exc})') from exc
    if datatype == "BYTES":
        try:
            return np.asarray(deserialize_bytes_tensor(raw), dtype=object)
        except Exception as exc:  # tritonclient raises struct.error or IndexError on truncation
            raise ConfigError(f'{where}: "b64" is not a length-prefixed BYTES tensor ({exc})') from exc
    dtype = numpy_dtype(datatype).newbyteorder("<")
    if len(raw) % dtype.itemsize:
        raise ConfigError(f'{where}: "b64" holds {len(raw)} bytes, not a whole number of {datatype} elements')
    return np.frombuffer(raw, dtype=dtype).astype(numpy_dtype(datatype))


def _resolve_shape(declared: tuple[int, ...], count: int, *, where: str) -> tuple[int, ...]:
    unknown = [i for i, d in enumerate(declared) if d < 0]
    if not unknown:
        return declared
    known = math.prod(d for d in declared if d >= 0)
    if len(unknown) > 1 or known == 0 or count % known:
        raise ConfigError(
            f"{where}: cannot infer shape {list(declared)} from {count} values; give the shape in --input "
            'or as {"content": [...], "shape": [...]}'
        )
    return tuple(count // known if d < 0 else d for d in declared)


def _load_npz(path: Path, specs: Sequence[TensorSpec]) -> tuple[NamedTensor, ...]:
    arrays = _npz_arrays(path)
    by_name = {spec.name: spec for spec in specs}
    if by_name and set(by_name) != set(arrays):
        raise ConfigError(_mismatch_message(f"--payload {path}", arrays.keys(), by_name.keys()))
    tensors = []
    for name, array in arrays.items():
        spec = by_name.get(name)
        where = f"--payload {path}: array {name!r}"
        if array.ndim == 0:
            raise ConfigError(
                f"{where} is 0-d (a scalar); a tensor has at least one dimension: "
                "save it as np.array([value]) or with its shape"
            )
        if array.dtype.kind not in _TENSOR_KINDS:
            raise ConfigError(
                f"{where} has numpy dtype {array.dtype}, which no Triton datatype holds; "
                "save it as a bool, integer, float, str or bytes array"
            )
        datatype = spec.datatype if spec else triton_datatype(array)
        if spec and spec.is_concrete and tuple(array.shape) != spec.shape:
            raise ConfigError(f"{where} has shape {list(array.shape)} but --input says {list(spec.shape)}")
        try:
            data = as_tensor(array.reshape(-1), datatype).reshape(array.shape)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{where}: cannot convert {array.dtype} to {datatype} ({exc})") from exc
        tensors.append(NamedTensor(name, datatype, data))
    return tuple(tensors)


# numpy dtype kinds a Triton datatype holds: bool, signed and unsigned integers, floats, str and bytes
# (BYTES). Not complex, datetimes, structured (void) or object arrays (pickles: never loaded).
_TENSOR_KINDS = frozenset("biufUS")


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """The archive's arrays by name; a member that is not a plain array is a ConfigError naming it."""
    not_npz = (
        f"--payload {path}: not a readable .npz archive (not a zip of NAME.npy arrays); "
        "write it with np.savez(path, NAME=array, ...)"
    )
    if not zipfile.is_zipfile(path):  # an .npy file, a pickle or anything else under an .npz name
        raise ConfigError(not_npz)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"--payload {path}: not a readable .npz archive ({_one_line(exc)})") from exc
    if not isinstance(archive, NpzFile):
        raise ConfigError(not_npz)
    arrays: dict[str, np.ndarray] = {}
    with archive:
        for name in archive.files:
            where = f"--payload {path}: member {name!r}"
            try:
                member = archive[name]
            except ValueError as exc:
                if "allow_pickle" in str(exc):
                    raise ConfigError(
                        f"{where} is an object array, stored as a pickle (not loaded: a pickle can run code); "
                        "save it as a numeric, str or bytes array, e.g. np.array(values, dtype=np.bytes_)"
                    ) from exc
                raise ConfigError(f"{where} is not a readable array ({_one_line(exc)})") from exc
            except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                raise ConfigError(f"{where} is not a readable array ({_one_line(exc)})") from exc
            if not isinstance(member, np.ndarray):  # a file np.savez did not write: np.load gives its bytes
                raise ConfigError(
                    f"{where} is not a numpy array (np.savez writes NAME.npy members); "
                    "remove it from the archive or save the archive with np.savez"
                )
            arrays[name] = member
    if not arrays:
        raise ConfigError(f"--payload {path}: the archive holds no arrays")
    return arrays


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
