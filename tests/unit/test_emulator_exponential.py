"""The emulator's exponential time distribution: ``{ distribution = "exponential", mean_ms = ... }``.

Sampling matches theory (mean and the survival at the mean, e^-1) on 200,000 seeded draws; the TOML is
read, checked (one-line errors naming the file and key) and rendered back.
"""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Any

import pytest

from bench.emulator.config import load_config_text
from bench.emulator.distributions import ServiceTimeConfig, read_service_time, service_time_sampler
from bench.emulator.render import render_toml
from bench.emulator.tomltable import TomlTable
from bench.errors import ConfigError

DRAWS = 200_000
MEAN_MS = 20.0
# The sample mean of n exponential draws has standard error mean / sqrt(n) (0.22% here): 1.5% is ~6.7 SE.
MEAN_REL_TOLERANCE = 0.015
# The fraction above the mean is binomial with p = e^-1: SE = sqrt(p (1 - p) / n) = 0.0011; 0.006 is ~5.5 SE.
SURVIVAL_ABS_TOLERANCE = 0.006
KEY = "endpoint[a].capacity.service_time"

ADD_SUB = (
    '[[endpoint.model]]\nname = "m"\ntype = "add_sub"\n'
    'input = [{ name = "INPUT0", datatype = "FP32", dims = [4] }, { name = "INPUT1", datatype = "FP32", dims = [4] }]\n'
    'output = [{ name = "OUTPUT0", datatype = "FP32", dims = [4] }, { name = "OUTPUT1", datatype = "FP32", dims = [4] }]\n'
)


def _read(data: dict[str, Any]) -> ServiceTimeConfig:
    return read_service_time(TomlTable("cfg.toml", KEY, data))


def test_exponential_draws_match_theory() -> None:
    config = _read({"distribution": "exponential", "mean_ms": MEAN_MS})
    assert config == ServiceTimeConfig("exponential", mean_ms=MEAN_MS)
    sample = service_time_sampler(config, random.Random(7))
    draws_s = [sample() for _ in range(DRAWS)]
    mean_s = MEAN_MS / 1000.0
    sample_mean_s = math.fsum(draws_s) / DRAWS
    above = sum(1 for d in draws_s if d > mean_s) / DRAWS
    assert min(draws_s) >= 0.0
    assert abs(sample_mean_s / mean_s - 1.0) < MEAN_REL_TOLERANCE, sample_mean_s
    assert abs(above - math.exp(-1.0)) < SURVIVAL_ABS_TOLERANCE, above


def test_exponential_draws_come_from_the_endpoint_rng() -> None:
    config = ServiceTimeConfig("exponential", mean_ms=5.0)
    first = service_time_sampler(config, random.Random(3))
    again = service_time_sampler(config, random.Random(3))
    other = service_time_sampler(config, random.Random(4))
    a = [first() for _ in range(5)]
    assert a == [again() for _ in range(5)]
    assert a != [other() for _ in range(5)]


def test_an_integer_mean_is_read_as_float() -> None:
    assert _read({"distribution": "exponential", "mean_ms": 4}).mean_ms == 4.0


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"distribution": "exponential"}, f"cfg.toml: {KEY}.mean_ms: is required"),
        ({"distribution": "exponential", "mean_ms": 0.0}, f"cfg.toml: {KEY}.mean_ms: must be > 0, got 0.0"),
        ({"distribution": "exponential", "mean_ms": -3}, f"cfg.toml: {KEY}.mean_ms: must be > 0, got -3.0"),
        (
            {"distribution": "exponential", "mean_ms": math.inf},
            f"cfg.toml: {KEY}.mean_ms: must be > 0, got inf",
        ),
        (
            {"distribution": "exponential", "mean_ms": math.nan},
            f"cfg.toml: {KEY}.mean_ms: must be > 0, got nan",
        ),
        (
            {"distribution": "exponential", "mean_ms": "5"},
            f"cfg.toml: {KEY}.mean_ms: expected float, got string",
        ),
        ({"distribution": "exponential", "mean_ms": 5, "ms": 5}, f"cfg.toml: {KEY}.ms: unknown key"),
        (
            {"distribution": "poisson"},
            f"cfg.toml: {KEY}.distribution: unknown 'poisson'; use one of fixed, lognormal, exponential",
        ),
    ],
)
def test_exponential_config_errors_name_file_and_key(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        _read(data)
    assert str(info.value) == expected


def test_a_triton_service_time_and_llm_times_load_and_render_back() -> None:
    text = (
        '[[endpoint]]\nname = "a"\n[endpoint.capacity]\n'
        'service_time = { distribution = "exponential", mean_ms = 2.5 }\n'
        + ADD_SUB
        + '[[endpoint]]\nname = "b"\nkind = "llm"\n[endpoint.llm]\n'
        'ttft = { distribution = "exponential", mean_ms = 100 }\n'
        'itl = { distribution = "exponential", mean_ms = 10 }\n'
    )
    config = load_config_text(text, "cfg.toml")
    triton, llm = config.endpoints
    assert triton.capacity.service_time == ServiceTimeConfig("exponential", mean_ms=2.5)
    assert llm.llm is not None
    assert llm.llm.ttft == ServiceTimeConfig("exponential", mean_ms=100.0)
    again = load_config_text(render_toml(config), "rendered")
    assert dataclasses.replace(again, source=config.source) == config


def test_a_bad_mean_in_a_file_names_the_file_and_key() -> None:
    text = '[[endpoint]]\nname = "b"\nkind = "llm"\n[endpoint.llm]\nttft = { distribution = "exponential", mean_ms = 0 }\n'
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "cfg.toml")
    assert str(info.value) == "cfg.toml: endpoint[b].llm.ttft.mean_ms: must be > 0, got 0.0"
