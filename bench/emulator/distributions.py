"""The random distributions of the configuration: times (``service_time``, ``ttft``, ``itl``) and counts.

Times: ``{ distribution = "fixed", ms = 20.0 }``, ``{ distribution = "lognormal", median_ms, p99_ms }`` or
``{ distribution = "exponential", mean_ms = 20.0 }`` (memoryless: an M/M/c queue's service time).
Counts (``output_tokens``): ``{ distribution = "fixed", count = 64 }`` or
``{ distribution = "lognormal", median = 64, p99 = 256 }`` (rounded, at least 1).
A lognormal is given by its median and 99th percentile: mu = ln(median), sigma = ln(p99 / median) / z99.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from bench.emulator.tomltable import TomlTable

DISTRIBUTIONS = ("fixed", "lognormal")
TIME_DISTRIBUTIONS = ("fixed", "lognormal", "exponential")
# z-score of the 99th percentile of the standard normal distribution.
Z_P99 = 2.3263478740408408


@dataclass(frozen=True)
class ServiceTimeConfig:
    distribution: str = "fixed"
    ms: float = 0.0
    median_ms: float = 0.0
    p99_ms: float = 0.0
    mean_ms: float = 0.0


@dataclass(frozen=True)
class TokenCountConfig:
    distribution: str = "fixed"
    count: int = 64
    median: float = 0.0
    p99: float = 0.0


def read_service_time(table: TomlTable, default_ms: float = 0.0) -> ServiceTimeConfig:
    distribution = table.take("distribution", str, "fixed")
    if distribution == "fixed":
        ms = table.take("ms", float, default_ms)
        if not (ms >= 0 and math.isfinite(ms)):
            raise table.error("ms", f"must be >= 0, got {ms}")
        table.done()
        return ServiceTimeConfig("fixed", ms=ms)
    if distribution == "lognormal":
        median_ms = table.take("median_ms", float)
        p99_ms = table.take("p99_ms", float)
        if not (0 < median_ms <= p99_ms and math.isfinite(p99_ms)):
            raise table.error("p99_ms", f"need 0 < median_ms <= p99_ms, got {median_ms} and {p99_ms}")
        table.done()
        return ServiceTimeConfig("lognormal", median_ms=median_ms, p99_ms=p99_ms)
    if distribution == "exponential":
        mean_ms = table.take("mean_ms", float)
        if not (mean_ms > 0 and math.isfinite(mean_ms)):
            raise table.error("mean_ms", f"must be > 0, got {mean_ms}")
        table.done()
        return ServiceTimeConfig("exponential", mean_ms=mean_ms)
    raise table.error("distribution", f"unknown {distribution!r}; use one of {', '.join(TIME_DISTRIBUTIONS)}")


def read_token_count(table: TomlTable, default_count: int) -> TokenCountConfig:
    distribution = table.take("distribution", str, "fixed")
    if distribution == "fixed":
        count = table.take("count", int, default_count)
        if count < 1:
            raise table.error("count", f"must be >= 1, got {count}")
        table.done()
        return TokenCountConfig("fixed", count=count)
    if distribution == "lognormal":
        median = table.take("median", float)
        p99 = table.take("p99", float)
        if not (1 <= median <= p99 and math.isfinite(p99)):
            raise table.error("p99", f"need 1 <= median <= p99, got {median} and {p99}")
        table.done()
        return TokenCountConfig("lognormal", median=median, p99=p99)
    raise table.error("distribution", f"unknown {distribution!r}; use one of {', '.join(DISTRIBUTIONS)}")


def render_service_time(config: ServiceTimeConfig) -> str:
    """The TOML inline table of ``config`` (``bench serve --print-config``)."""
    if config.distribution == "lognormal":
        return (
            f'{{ distribution = "lognormal", median_ms = {config.median_ms!r}, p99_ms = {config.p99_ms!r} }}'
        )
    if config.distribution == "exponential":
        return f'{{ distribution = "exponential", mean_ms = {config.mean_ms!r} }}'
    return f'{{ distribution = "fixed", ms = {config.ms!r} }}'


def render_token_count(config: TokenCountConfig) -> str:
    if config.distribution == "lognormal":
        return f'{{ distribution = "lognormal", median = {config.median!r}, p99 = {config.p99!r} }}'
    return f'{{ distribution = "fixed", count = {config.count} }}'


def service_time_sampler(config: ServiceTimeConfig, rng: random.Random) -> Callable[[], float]:
    """A function returning one time in seconds per call."""
    if config.distribution == "lognormal":
        mu = math.log(config.median_ms / 1000.0)
        sigma = math.log(config.p99_ms / config.median_ms) / Z_P99
        lognormvariate = rng.lognormvariate
        return lambda: lognormvariate(mu, sigma)
    if config.distribution == "exponential":
        rate_per_s = 1000.0 / config.mean_ms
        expovariate = rng.expovariate
        return lambda: expovariate(rate_per_s)
    fixed_s = config.ms / 1000.0
    return lambda: fixed_s


def token_count_sampler(config: TokenCountConfig, rng: random.Random) -> Callable[[], int]:
    """A function returning one token count (>= 1) per call."""
    if config.distribution == "lognormal":
        mu = math.log(config.median)
        sigma = math.log(config.p99 / config.median) / Z_P99
        lognormvariate = rng.lognormvariate
        return lambda: max(1, round(lognormvariate(mu, sigma)))
    count = config.count
    return lambda: count
