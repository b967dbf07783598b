"""Triton model sections of the emulator config (``[[endpoint.model]]``) and the rules per model type.

Schema: see ``bench.emulator.config``. ``read_triton_models`` reads the ``model`` array of one
endpoint table; each type's rule checks the inputs and outputs it can compute.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bench.config import DATATYPES, parse_datatype
from bench.emulator.tomltable import TomlTable, check_unique
from bench.errors import ConfigError

MODEL_TYPES = ("add_sub", "identity", "image_path")
_TARGET_MODEL = re.compile(r"^\S[\x20-\x7e]*$")
_NUMERIC = tuple(d for d in DATATYPES if d not in ("BOOL", "BYTES"))


@dataclass(frozen=True)
class TensorConfig:
    name: str
    datatype: str
    dims: tuple[int, ...]


@dataclass(frozen=True)
class ModelConfig:
    name: str
    type: str
    inputs: tuple[TensorConfig, ...]
    outputs: tuple[TensorConfig, ...]
    max_batch_size: int = 0
    output_prefix: str = ""


def read_triton_models(table: TomlTable) -> tuple[ModelConfig, ...]:
    raw_models = table.take("model", list, [])
    if not raw_models:
        raise table.error("model", "a triton endpoint needs at least one [[endpoint.model]]")
    models = tuple(_model(table.child(f"model[{i}]", raw)) for i, raw in enumerate(raw_models))
    check_unique(table, "model", [m.name for m in models])
    return models


def _model(table: TomlTable) -> ModelConfig:
    table.allow("name", "type", "max_batch_size", "input", "output", "output_prefix")
    name = table.take("name", str)
    if not _TARGET_MODEL.match(name) or len(name) > 1024:
        raise table.error("name", f"{name!r} must be 1..1024 printable characters, not starting with a space")
    table.path = f"{table.path.rsplit('.model[', 1)[0]}.model[{name}]"
    model_type = table.take("type", str)
    if model_type not in MODEL_TYPES:
        raise table.error("type", f"unknown model type {model_type!r}; use one of {', '.join(MODEL_TYPES)}")
    max_batch_size = table.take("max_batch_size", int, 0)
    if max_batch_size < 0:
        raise table.error("max_batch_size", f"must be >= 0, got {max_batch_size}")
    inputs = _tensors(table, "input")
    outputs = _tensors(table, "output")
    output_prefix = table.take("output_prefix", str, "") if model_type == "image_path" else ""
    if output_prefix and not output_prefix.startswith("s3://"):
        raise table.error("output_prefix", f"must start with s3://, got {output_prefix!r}")
    table.done()
    model = ModelConfig(name, model_type, inputs, outputs, max_batch_size, output_prefix)
    problem = _TYPE_RULES[model_type](model)
    if problem:
        raise table.error("type", f"{model_type}: {problem}")
    return model


def _tensors(table: TomlTable, key: str) -> tuple[TensorConfig, ...]:
    raw_tensors = table.take(key, list)
    if not raw_tensors:
        raise table.error(key, "list at least one tensor")
    tensors = []
    for i, raw in enumerate(raw_tensors):
        entry = table.child(f"{key}[{i}]", raw)
        entry.allow("name", "datatype", "dims")
        name = entry.take("name", str)
        datatype_text = entry.take("datatype", str)
        if datatype_text.upper().startswith("TYPE_"):
            datatype_text = datatype_text[5:]
        try:
            datatype = parse_datatype(datatype_text, where=entry.key("datatype"))
        except ConfigError as exc:
            raise ConfigError(f"{table.source}: {exc}") from None
        dims = entry.take("dims", list)
        if not dims or not all(
            isinstance(d, int) and not isinstance(d, bool) and (d >= 1 or d == -1) for d in dims
        ):
            raise entry.error("dims", f"must be a non-empty list of integers >= 1 or -1, got {dims}")
        entry.done()
        tensors.append(TensorConfig(name=name, datatype=datatype, dims=tuple(dims)))
    check_unique(table, key, [t.name for t in tensors])
    return tuple(tensors)


def _add_sub_rule(model: ModelConfig) -> str:
    tensors = model.inputs + model.outputs
    if len(model.inputs) != 2 or len(model.outputs) != 2:
        return "needs exactly 2 inputs and 2 outputs"
    if len({t.datatype for t in tensors}) != 1 or tensors[0].datatype not in _NUMERIC:
        return "inputs and outputs need one numeric datatype (not BOOL or BYTES)"
    if len({t.dims for t in tensors}) != 1:
        return "inputs and outputs need equal dims"
    return ""


def _identity_rule(model: ModelConfig) -> str:
    if len(model.inputs) != len(model.outputs):
        return "needs as many outputs as inputs (output i echoes input i)"
    for source, target in zip(model.inputs, model.outputs, strict=True):
        if (source.datatype, source.dims) != (target.datatype, target.dims):
            return f"output {target.name!r} needs the datatype and dims of input {source.name!r}"
    return ""


def _image_path_rule(model: ModelConfig) -> str:
    tensors = model.inputs + model.outputs
    if len(model.inputs) != 1 or len(model.outputs) != 1 or any(t.datatype != "BYTES" for t in tensors):
        return "needs exactly one BYTES input and one BYTES output"
    if model.inputs[0].dims != model.outputs[0].dims:
        return "input and output need equal dims"
    return ""


_TYPE_RULES: dict[str, Callable[[ModelConfig], str]] = {
    "add_sub": _add_sub_rule,
    "identity": _identity_rule,
    "image_path": _image_path_rule,
}
