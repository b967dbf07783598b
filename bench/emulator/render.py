"""``EmulatorConfig`` -> TOML text in the schema of ``bench.emulator.config`` (every default spelled out).

``load_config_text(render_toml(c), ...)`` gives back a config equal to ``c`` (tested).
"""

from __future__ import annotations

import json

from bench.emulator.config import FAULT_SHAPES, EmulatorConfig, EndpointConfig, ModelConfig, TensorConfig
from bench.emulator.distributions import render_service_time, render_token_count
from bench.emulator.llmconfig import STREAM_FAULTS, LlmConfig


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
    ]
    if endpoint.llm is None:
        lines.append(f"service_time = {render_service_time(capacity.service_time)}")
    lines += ["", "[endpoint.faults]"]
    rates = dict(endpoint.faults)
    lines += [f"{shape} = {rates.get(shape, 0.0)!r}" for shape in FAULT_SHAPES]
    for model in endpoint.models:
        lines += ["", *_model(model)]
    if endpoint.llm is not None:
        lines += ["", *_llm(endpoint.llm)]
    return lines


def _llm(llm: LlmConfig) -> list[str]:
    faults = llm.stream_faults
    rates = dict(faults.rates)
    return [
        "[endpoint.llm]",
        f"format = {_string(llm.format)}",
        f"ttft = {render_service_time(llm.ttft)}",
        f"itl = {render_service_time(llm.itl)}",
        f"itl_growth = {llm.itl_growth!r}",
        f"output_tokens = {render_token_count(llm.output_tokens)}",
        f"first_chunk = {_string(llm.first_chunk)}",
        f"usage = {'true' if llm.usage else 'false'}",
        f"split_probability = {llm.split_probability!r}",
        f"merge_probability = {llm.merge_probability!r}",
        "",
        "[endpoint.stream_faults]",
        *(f"{fault} = {rates.get(fault, 0.0)!r}" for fault in STREAM_FAULTS),
        f"after_parts = {faults.after_parts}",
        f"slow_first_byte_ms = {faults.slow_first_byte_ms!r}",
    ]


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
