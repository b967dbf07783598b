"""``EmulatorConfig`` -> TOML text in the schema of ``bench.emulator.config`` (every default spelled out).

``load_config_text(render_toml(c), ...)`` gives back a config equal to ``c`` (tested).
"""

from __future__ import annotations

import json

from bench.emulator.config import FAULT_SHAPES, EmulatorConfig, EndpointConfig, ModelConfig, TensorConfig


def render_toml(config: EmulatorConfig) -> str:
    lines = [f"# Effective bench emulator configuration (from {config.source})"]
    if config.seed is not None:
        lines.append(f"seed = {config.seed}")
    lines += [f"account = {_string(config.account)}", f"region = {_string(config.region)}"]
    for endpoint in config.endpoints:
        lines += ["", *_endpoint(endpoint)]
    return "\n".join(lines) + "\n"


def _endpoint(endpoint: EndpointConfig) -> list[str]:
    capacity = endpoint.capacity
    service_time = capacity.service_time
    if service_time.distribution == "lognormal":
        median, p99 = service_time.median_ms, service_time.p99_ms
        timing = f'{{ distribution = "lognormal", median_ms = {median!r}, p99_ms = {p99!r} }}'
    else:
        timing = f'{{ distribution = "fixed", ms = {service_time.ms!r} }}'
    lines = [
        "[[endpoint]]",
        f"name = {_string(endpoint.name)}",
        f"kind = {_string(endpoint.kind)}",
        f"inference_components = {_strings(endpoint.inference_components)}",
    ]
    for variant in endpoint.variants:
        lines += [
            "",
            "[[endpoint.variant]]",
            f"name = {_string(variant.name)}",
            f"weight = {variant.weight!r}",
        ]
    lines += [
        "",
        "[endpoint.capacity]",
        f"slots = {capacity.slots}",
        f"queue_limit = {capacity.queue_limit}",
        f"service_time = {timing}",
        "",
        "[endpoint.faults]",
    ]
    rates = dict(endpoint.faults)
    lines += [f"{shape} = {rates.get(shape, 0.0)!r}" for shape in FAULT_SHAPES]
    for model in endpoint.models:
        lines += ["", *_model(model)]
    return lines


def _model(model: ModelConfig) -> list[str]:
    lines = [
        "[[endpoint.model]]",
        f"name = {_string(model.name)}",
        f"type = {_string(model.type)}",
        f"max_batch_size = {model.max_batch_size}",
        f"input = {_tensors(model.inputs)}",
        f"output = {_tensors(model.outputs)}",
    ]
    if model.type == "image_path":
        lines.append(f"output_prefix = {_string(model.output_prefix)}")
    return lines


def _tensors(tensors: tuple[TensorConfig, ...]) -> str:
    items = [
        f"{{ name = {_string(t.name)}, datatype = {_string(t.datatype)}, dims = {list(t.dims)} }}"
        for t in tensors
    ]
    return "[\n  " + ",\n  ".join(items) + ",\n]"


def _string(value: str) -> str:
    # A JSON string (non-ASCII kept literal, controls escaped) is a TOML basic string once DEL is escaped.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _strings(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_string(v) for v in values) + "]"
