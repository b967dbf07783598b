"""What an LLM container reads and writes: the request body, pseudo-text tokens and four stream formats.

Stream formats (``render_events``: one complete event or line each, delimiter included):

- ``ndjson`` (the AWS documentation example, ``application/jsonlines``): ``{"outputs": [" tok"]}\\n``
- ``tgi`` (TGI / LMI server-sent events): ``data:{"token": {"id", "text", "logprob", "special"},
  "generated_text": null, "details": null}\\n\\n``; the last token's event carries the full text
- ``openai`` (chat completion chunks): ``data: {"id", "object": "chat.completion.chunk", "created",
  "model", "choices": [{"index": 0, "delta": {"content": " tok"}, "finish_reason": null}]}\\n\\n``;
  ``finish_reason`` "stop" on the last token; with ``usage`` a chunk with ``"choices": []`` and
  ``"usage"``; then ``data: [DONE]\\n\\n``
- ``triton`` (generate_stream): ``data: {"model_name", "model_version": "1", "text_output": " tok"}\\n\\n``

``first_chunk`` adds a first event with empty text (``role``: for openai the delta
``{"role": "assistant", "content": ""}``, for the others the same as ``empty``).
Tokens are ``" word"`` (leading space) from a small word list, seeded by the prompt: same prompt,
same tokens (``generate_tokens``); the text is ``"".join(tokens)``. Prompt tokens = words of the prompt.
"""

from __future__ import annotations

import json
import random
import zlib
from dataclasses import dataclass
from typing import Any

from bench.errors import WireFormatError

WORDS = (
    "the", "model", "token", "stream", "latency", "endpoint", "request", "response", "batch", "queue",
    "river", "mountain", "signal", "quiet", "bright", "swift", "measure", "answer", "vector", "cloud",
    "harbor", "lantern", "orbit", "pattern", "garden", "engine", "thread", "window", "silver", "morning",
    "and", "of", "to", "in", "is", "a", "with", "for", "on", "that",
)  # fmt: skip
TOKEN_ID_BASE = 1000
_TOKEN_IDS = {f" {word}": TOKEN_ID_BASE + index for index, word in enumerate(WORDS)}
CONTENT_TYPES = {
    "ndjson": "application/jsonlines",
    "tgi": "text/event-stream",
    "openai": "text/event-stream",
    "triton": "text/event-stream",
}
MODEL_VERSION = "1"
AT_ADMISSION = -1  # timed_events: sent as soon as the sequence is admitted, before the first token
_PROMPT_KEYS = ("inputs", "prompt", "text_input")
_MAX_TOKEN_KEYS = ("max_new_tokens", "max_tokens")


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    max_tokens: int | None = None
    stream: bool = False  # "stream": true (read by the bare container; SageMaker picks the operation)


def parse_request(body: bytes) -> GenerationRequest:
    """The prompt and max tokens of a request body; ``WireFormatError`` (400) when there is no prompt.

    Lenient like real containers: the prompt is ``inputs``, ``prompt``, ``text_input`` or the last
    ``messages[].content``; max tokens ``parameters.max_new_tokens``, ``max_tokens``,
    ``max_new_tokens`` or ``parameters.max_tokens``.
    """
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireFormatError(f"Failed to parse the request body as JSON: {exc}") from None
    if not isinstance(document, dict):
        raise WireFormatError("The request body must be a JSON object")
    prompt = _prompt(document)
    if prompt is None:
        raise WireFormatError("Missing prompt: give inputs, prompt, text_input or messages")
    parameters = document.get("parameters")
    candidates = [parameters.get("max_new_tokens")] if isinstance(parameters, dict) else []
    candidates += [document.get(key) for key in _MAX_TOKEN_KEYS]
    candidates += [parameters.get("max_tokens")] if isinstance(parameters, dict) else []
    max_tokens = next((value for value in candidates if value is not None), None)
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)):
        raise WireFormatError(f"max tokens must be an integer, got {max_tokens!r}")
    if max_tokens is not None and max_tokens < 1:
        raise WireFormatError(f"max tokens must be >= 1, got {max_tokens}")
    return GenerationRequest(prompt=prompt, max_tokens=max_tokens, stream=document.get("stream") is True)


def _prompt(document: dict[str, Any]) -> str | None:
    for key in _PROMPT_KEYS:
        value = document.get(key)
        if isinstance(value, str):
            return value
    messages = document.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        content = messages[-1].get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):  # OpenAI content parts: [{"type": "text", "text": "..."}]
            texts = [p.get("text") for p in content if isinstance(p, dict)]
            return "".join(t for t in texts if isinstance(t, str))
    return None


def generate_tokens(prompt: str, count: int) -> list[str]:
    """``count`` pseudo-word tokens seeded by ``prompt`` (a longer count extends a shorter one)."""
    rng = random.Random(zlib.crc32(prompt.encode("utf-8")))
    return [" " + rng.choice(WORDS) for _ in range(count)]


def prompt_token_count(prompt: str) -> int:
    return len(prompt.split())


def content_type(fmt: str) -> str:
    """The container's response Content-Type (``X-Amzn-SageMaker-Content-Type`` for boto3's ContentType)."""
    return CONTENT_TYPES[fmt]


def render_events(
    fmt: str,
    tokens: list[str],
    *,
    first_chunk: str = "none",
    usage: bool = True,
    prompt_tokens: int = 0,
    model: str = "demo",
    completion_id: str = "chatcmpl-demo",
    created: int = 0,
) -> list[bytes]:
    """The complete stream as its events (SSE events or JSON lines), each ending with its delimiter."""
    timed = timed_events(
        fmt,
        tokens,
        first_chunk=first_chunk,
        usage=usage,
        prompt_tokens=prompt_tokens,
        model=model,
        completion_id=completion_id,
        created=created,
    )
    return [event for event, _ in timed]


def timed_events(
    fmt: str,
    tokens: list[str],
    *,
    first_chunk: str = "none",
    usage: bool = True,
    prompt_tokens: int = 0,
    model: str = "demo",
    completion_id: str = "chatcmpl-demo",
    created: int = 0,
) -> list[tuple[bytes, int]]:
    """``render_events`` with, per event, the index of the token it waits for (``AT_ADMISSION``: none)."""
    last = len(tokens) - 1
    events: list[tuple[bytes, int]] = []
    if fmt == "openai":
        base = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model}

        def chunk(delta: dict[str, str], finish_reason: str | None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
            return _sse({**base, "choices": [choice]}, "data: ")

        if first_chunk != "none":
            delta = {"role": "assistant", "content": ""} if first_chunk == "role" else {"content": ""}
            events.append((chunk(delta, None), AT_ADMISSION))
        for index, token in enumerate(tokens):
            events.append((chunk({"content": token}, "stop" if index == last else None), index))
        if usage:
            counts = _usage(prompt_tokens, len(tokens))
            events.append((_sse({**base, "choices": [], "usage": counts}, "data: "), last))
        events.append((b"data: [DONE]\n\n", last))
        return events
    render = _TOKEN_EVENTS[fmt]
    if first_chunk != "none":
        events.append((render("", None, model), AT_ADMISSION))
    text = "".join(tokens)
    for index, token in enumerate(tokens):
        events.append((render(token, text if index == last else None, model), index))
    return events


def full_response(
    fmt: str,
    tokens: list[str],
    prompt_tokens: int = 0,
    model: str = "demo",
    completion_id: str = "chatcmpl-demo",
    created: int = 0,
) -> bytes:
    """The non-streaming response body (``application/json``) with the whole text."""
    text = "".join(tokens)
    document: Any
    if fmt == "tgi":
        document = [{"generated_text": text}]
    elif fmt == "openai":
        document = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": _usage(prompt_tokens, len(tokens)),
        }
    elif fmt == "triton":
        document = {"model_name": model, "model_version": MODEL_VERSION, "text_output": text}
    else:
        document = {"outputs": [text]}
    return json.dumps(document).encode("utf-8")


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _sse(document: object, prefix: str) -> bytes:
    return f"{prefix}{json.dumps(document)}\n\n".encode()


def _ndjson_event(token: str, full_text: str | None, model: str) -> bytes:
    return f"{json.dumps({'outputs': [token]})}\n".encode()


def _tgi_event(token: str, full_text: str | None, model: str) -> bytes:
    detail = {"id": _TOKEN_IDS.get(token, 0), "text": token, "logprob": -0.1, "special": False}
    return _sse({"token": detail, "generated_text": full_text, "details": None}, "data:")


def _triton_event(token: str, full_text: str | None, model: str) -> bytes:
    document = {"model_name": model, "model_version": MODEL_VERSION, "text_output": token}
    return _sse(document, "data: ")


_TOKEN_EVENTS = {"ndjson": _ndjson_event, "tgi": _tgi_event, "triton": _triton_event}
