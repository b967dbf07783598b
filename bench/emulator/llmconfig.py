"""The ``[endpoint.llm]`` and ``[endpoint.stream_faults]`` sections of a ``kind = "llm"`` endpoint.

The schema is documented with the rest in ``bench.emulator.config``; this module reads and checks it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.emulator.distributions import (
    ServiceTimeConfig,
    TokenCountConfig,
    read_service_time,
    read_token_count,
)
from bench.emulator.tomltable import TomlTable

FORMATS = ("ndjson", "tgi", "openai", "triton")
FIRST_CHUNKS = ("none", "empty", "role")
# In-stream faults, in the order they are drawn and rendered.
STREAM_FAULTS = ("ModelInvocationTimeExceeded", "StreamBroken", "InternalStreamFailure", "DropConnection")
DEFAULT_TTFT = ServiceTimeConfig("fixed", ms=150.0)
DEFAULT_ITL = ServiceTimeConfig("fixed", ms=20.0)
DEFAULT_OUTPUT_TOKENS = 64
DEFAULT_TOKEN_COUNT = TokenCountConfig("fixed", count=DEFAULT_OUTPUT_TOKENS)


@dataclass(frozen=True)
class StreamFaultsConfig:
    rates: tuple[tuple[str, float], ...] = ()  # (fault, probability), non-zero only, STREAM_FAULTS order
    after_parts: int = 3
    slow_first_byte_ms: float = 0.0


NO_STREAM_FAULTS = StreamFaultsConfig()


@dataclass(frozen=True)
class LlmConfig:
    format: str = "tgi"
    ttft: ServiceTimeConfig = DEFAULT_TTFT
    itl: ServiceTimeConfig = DEFAULT_ITL
    itl_growth: float = 0.0
    output_tokens: TokenCountConfig = DEFAULT_TOKEN_COUNT
    first_chunk: str = "none"
    usage: bool = True
    split_probability: float = 0.0
    merge_probability: float = 0.0
    stream_faults: StreamFaultsConfig = NO_STREAM_FAULTS


def read_llm(endpoint: TomlTable) -> LlmConfig:
    """Read ``llm`` and ``stream_faults`` from the endpoint table (both optional)."""
    table = endpoint.child("llm", endpoint.take("llm", dict, {}))
    table.allow(
        "format",
        "ttft",
        "itl",
        "itl_growth",
        "output_tokens",
        "first_chunk",
        "usage",
        "split_probability",
        "merge_probability",
    )
    fmt = _choice(table, "format", FORMATS, "tgi")
    ttft = _time(table, "ttft", DEFAULT_TTFT)
    itl = _time(table, "itl", DEFAULT_ITL)
    itl_growth = table.take("itl_growth", float, 0.0)
    if not (itl_growth >= 0 and math.isfinite(itl_growth)):
        raise table.error("itl_growth", f"must be >= 0, got {itl_growth}")
    raw_tokens = table.take("output_tokens", dict, {})
    output_tokens = read_token_count(table.child("output_tokens", raw_tokens), DEFAULT_OUTPUT_TOKENS)
    first_chunk = _choice(table, "first_chunk", FIRST_CHUNKS, "none")
    usage = table.take("usage", bool, True)
    split_probability = _probability(table, "split_probability")
    merge_probability = _probability(table, "merge_probability")
    table.done()
    stream_faults = _stream_faults(endpoint.child("stream_faults", endpoint.take("stream_faults", dict, {})))
    return LlmConfig(
        format=fmt,
        ttft=ttft,
        itl=itl,
        itl_growth=itl_growth,
        output_tokens=output_tokens,
        first_chunk=first_chunk,
        usage=usage,
        split_probability=split_probability,
        merge_probability=merge_probability,
        stream_faults=stream_faults,
    )


def _stream_faults(table: TomlTable) -> StreamFaultsConfig:
    table.allow(*STREAM_FAULTS, "after_parts", "slow_first_byte_ms")
    rates = tuple((fault, rate) for fault in STREAM_FAULTS if (rate := _probability(table, fault)) > 0)
    if sum(rate for _, rate in rates) > 1.0 + 1e-9:
        raise table.error(rates[-1][0], "stream fault probabilities add up to more than 1")
    after_parts = table.take("after_parts", int, 3)
    if after_parts < 0:
        raise table.error("after_parts", f"must be >= 0, got {after_parts}")
    slow_first_byte_ms = table.take("slow_first_byte_ms", float, 0.0)
    if not (slow_first_byte_ms >= 0 and math.isfinite(slow_first_byte_ms)):
        raise table.error("slow_first_byte_ms", f"must be >= 0, got {slow_first_byte_ms}")
    table.done()
    return StreamFaultsConfig(rates=rates, after_parts=after_parts, slow_first_byte_ms=slow_first_byte_ms)


def _time(table: TomlTable, key: str, default: ServiceTimeConfig) -> ServiceTimeConfig:
    raw = table.take(key, dict, None)
    if raw is None:
        return default
    return read_service_time(table.child(key, raw))


def _choice(table: TomlTable, key: str, choices: tuple[str, ...], default: str) -> str:
    value = table.take(key, str, default)
    if value not in choices:
        raise table.error(key, f"unknown {value!r}; use one of {', '.join(choices)}")
    return str(value)


def _probability(table: TomlTable, key: str) -> float:
    rate = table.take(key, float, 0.0)
    if not 0.0 <= rate <= 1.0:
        raise table.error(key, f"must be a probability in 0..1, got {rate}")
    return float(rate)
