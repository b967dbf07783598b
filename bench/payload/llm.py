"""Request bodies for streaming LLM endpoints: from prompts (shaped for the stream format) or a JSONL file.

Bodies are built once, before timing. ``--llm-payload FILE`` sends each line of a JSONL file as is
(round-robin), for containers whose request schema differs from the shapes below.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.config import MAX_REQUEST_BYTES
from bench.errors import ConfigError

DEFAULT_PROMPT = "Explain the difference between latency and throughput of an inference endpoint."
LLM_CONTENT_TYPE = "application/json"


def prompt_body(prompt: str, fmt: str, max_tokens: int) -> bytes:
    """A request body in the schema the container of ``fmt`` expects."""
    body: dict[str, Any]
    if fmt == "openai":
        body = {
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    elif fmt == "triton":
        body = {"text_input": prompt, "max_tokens": max_tokens, "stream": True}
    elif fmt == "ndjson":
        body = {"inputs": prompt, "parameters": {"max_new_tokens": max_tokens}}
    else:  # tgi, sse, auto: the TGI / LMI schema most SageMaker LLM containers accept
        body = {"inputs": prompt, "parameters": {"max_new_tokens": max_tokens}, "stream": True}
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def load_llm_payloads(path: Path) -> list[bytes]:
    """Each non-empty line of a JSONL file, checked to be a JSON object, as a request body."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(
            f"--llm-payload {path}: no such file; give a JSONL file of request bodies"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--llm-payload {path}: cannot read it ({exc})") from exc
    bodies = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--llm-payload {path}: line {number} is not JSON ({exc.msg})") from None
        if not isinstance(document, dict):
            raise ConfigError(f"--llm-payload {path}: line {number} is not a JSON object")
        body = line.strip().encode("utf-8")
        if len(body) > MAX_REQUEST_BYTES:
            raise ConfigError(f"--llm-payload {path}: line {number} is over SageMaker's 6 MB limit")
        bodies.append(body)
    if not bodies:
        raise ConfigError(f"--llm-payload {path}: the file holds no request bodies")
    return bodies


def build_stream_bodies(
    prompts: tuple[str, ...], payload_file: Path | None, fmt: str, max_tokens: int
) -> tuple[bytes, ...]:
    """The request bodies of the streaming user: the JSONL file's lines, or one body per prompt."""
    if payload_file is not None:
        return tuple(load_llm_payloads(payload_file))
    return tuple(prompt_body(p, fmt, max_tokens) for p in prompts or (DEFAULT_PROMPT,))
