"""``bench invoke``: one request (or one stream) through the configured transport, printed as JSON.

The same options as the Locust users (``bench.options``); with no endpoint the emulator is started for
the one request. Exit 0 with the decoded response, 1 when the endpoint answered with an error (the
record's error class, stage and message), 2 on bad options.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.config import RunConfig
from bench.emulatorcheck import check_emulator_targets
from bench.errors import ConfigError, EndpointError, ModelError
from bench.options import (
    needs_emulator,
    option_values,
    run_config_from_options,
)

_STREAM_OPTIONS = ("stream_endpoint", "prompt", "llm_payload")
_TENSOR_OPTIONS = ("input", "payload", "output")


def invoke(args: argparse.Namespace) -> int:
    """One request: a tensor request to --endpoint, or with a streaming option one response stream."""
    from bench.payload.llm import build_stream_bodies
    from bench.payload.pool import build_requests

    values = option_values(args)
    checked = run_config_from_options(values)  # bad options or data: fail before starting anything
    streaming = [f"--{o.replace('_', '-')}" for o in _STREAM_OPTIONS if values.get(o)]
    if streaming:
        tensor = [f"--{o}" for o in _TENSOR_OPTIONS if values.get(o)]
        if tensor:
            raise ConfigError(
                f"{tensor[0]} describes a tensor request and {streaming[0]} a stream; bench invoke sends "
                "one request: give the options of one (or run both users with locust)"
            )
        if checked.endpoint.container_url:
            raise ConfigError("a stream cannot use --container-url yet; use --endpoint-url (or bench serve)")
        spec = checked.stream
        assert spec is not None  # run_config_from_options always makes one
        body = build_stream_bodies(spec.prompts, spec.payload_file, spec.stream_format, spec.max_tokens)[0]
        target = spec.endpoint.name
    else:
        build_requests(checked.payload)
        target = checked.endpoint.name
    emulator = None
    if needs_emulator(values):
        from bench.emulator.process import start_emulator

        config_file = values.get("emulator_config")
        check_emulator_targets(checked, config_file, invoke=not streaming, stream=bool(streaming))
        emulator = start_emulator(Path(config_file) if config_file else None)
        source = (
            f"started the emulator from {config_file}"
            if config_file
            else ("no endpoint given; started the built-in emulator")
        )
        sys.stderr.write(f"bench: {source} at {emulator.url}; targeting {target}\n")
    try:
        config = run_config_from_options(values, emulator_url=emulator.url if emulator else None)
        result = _invoke_stream(config, body) if streaming else _invoke_tensor(config)
        print(json.dumps(result, indent=2))
        return 1 if result["status"] == "error" else 0
    finally:
        if emulator is not None:
            emulator.stop()


def _invoke_tensor(config: RunConfig) -> dict[str, Any]:
    """Send the first request of the payload; the result document (``status`` ok or error)."""
    from bench.payload.pool import build_requests
    from bench.payload.triton import check_outputs, decode_response, outputs_as_json
    from bench.transport import make_transport

    request = build_requests(config.payload)[0]
    transport = make_transport(config.endpoint, config.transport)
    result: dict[str, Any] = {
        "endpoint": config.endpoint.name,
        "inference_id": uuid.uuid4().hex,
        "request_bytes": len(request.body),
    }
    started = time.perf_counter()
    try:
        response = transport.invoke(request.body, request.content_type, result["inference_id"])
        result["execution_ms"] = _ms_since(started)
        outputs = decode_response(response.body, response.content_type)
        check_outputs(outputs, config.payload.outputs)
    except EndpointError as exc:  # DecodeError included
        result.setdefault("execution_ms", _ms_since(started))
        return {**result, **_error_fields(exc)}
    finally:
        transport.close()
    return {
        **result,
        "status": "ok",
        "http_status": response.http_status,
        "variant": response.variant,
        "content_type": response.content_type,
        "response_bytes": len(response.body),
        "outputs": outputs_as_json(outputs),
    }


def _invoke_stream(config: RunConfig, body: bytes) -> dict[str, Any]:
    """Send one InvokeEndpointWithResponseStream request; the result document with what arrived
    (parts, the decoded text), also when the stream failed part-way."""
    from bench.payload.llm import LLM_CONTENT_TYPE
    from bench.payload.streams import InBandError, StreamParser
    from bench.transport import make_stream_transport

    assert config.stream is not None
    spec = config.stream
    transport = make_stream_transport(spec.endpoint, config.transport)
    parser = StreamParser(spec.stream_format)
    result: dict[str, Any] = {
        "endpoint": spec.endpoint.name,
        "inference_id": uuid.uuid4().hex,
        "request_bytes": len(body),
    }
    stream: dict[str, Any] = {}  # what the response said before its parts
    arrived = {"parts": 0, "response_bytes": 0}
    pieces: list[str] = []
    error: EndpointError | None = None
    started = time.perf_counter()
    try:
        response = transport.invoke_stream(body, LLM_CONTENT_TYPE, result["inference_id"])
        stream.update(
            http_status=response.http_status, variant=response.variant, content_type=response.content_type
        )
        parser.content_type = response.content_type
        try:
            for part in response.parts:
                if not arrived["parts"]:
                    result["ttfp_ms"] = _ms_since(started)
                arrived["parts"] += 1
                arrived["response_bytes"] += len(part)
                pieces += parser.feed(part)
            pieces += parser.finish()
        except BaseException:
            response.close()
            raise
    except EndpointError as exc:
        error = exc
    except InBandError as exc:
        stage = "first_part" if arrived["parts"] <= 1 else "mid_stream"
        error = ModelError(str(exc), stage=stage, http_status=200)
    finally:
        transport.close()
    result["execution_ms"] = _ms_since(started)
    tokens = parser.usage_tokens if parser.usage_tokens is not None else sum(1 for p in pieces if p)
    received = {"stream_format": parser.format, **arrived, "tokens": tokens, "text": "".join(pieces)}
    if error is None:
        return {**result, "status": "ok", **stream, **received}
    failed = _error_fields(error)
    started_status = stream.pop("http_status", None)  # a mid-stream error came after an HTTP 200
    failed["http_status"] = failed["http_status"] or started_status
    return {**result, **failed, **stream, **received}


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


def _error_fields(exc: EndpointError) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "status": "error",
        "error_type": exc.error_type,
        "error_stage": exc.stage,
        "http_status": exc.http_status,
        "message": exc.message,
    }
    if isinstance(exc, ModelError):
        fields["original_status"] = exc.original_status
        fields["original_message"] = exc.original_message
    return fields
