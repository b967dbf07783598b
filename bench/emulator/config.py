"""The emulator's TOML configuration -> frozen ``EmulatorConfig``.

Schema (every key is checked; an unknown key is an error; defaults in brackets)::

    seed = 7                          # optional int: reproducible variants, faults and service times
    account = "123456789012"          # [123456789012] 12 digits, used in AWS error texts
    region = "us-east-1"              # [us-east-1] used in ModelError texts

    [[endpoint]]                      # one or more
    name = "demo-triton"              # required; <= 63 chars, ^[a-zA-Z0-9](-*[a-zA-Z0-9])*$, unique
    kind = "triton"                   # [triton] triton | llm; each kind reads its own keys (below)
    inference_components = []         # [] if non-empty, InferenceComponentName must name one

    [[endpoint.variant]]              # [one variant "AllTraffic", weight 1.0]
    name = "AllTraffic"
    weight = 1.0                      # > 0; chosen at random in proportion to weight per request

    [endpoint.capacity]               # per variant: slots concurrent executions behind one queue
    slots = 4                         # [4] >= 1 (kind llm: concurrent sequences, continuous batching)
    queue_limit = 256                 # [256] >= 0 waiting requests; beyond it ThrottlingException
    service_time = { distribution = "lognormal", median_ms = 4.0, p99_ms = 12.0 }
                                      # or { distribution = "fixed", ms = 20.0 } [fixed, 0 ms]
                                      # kind triton only (an llm's time comes from ttft, itl, tokens)

    [endpoint.faults]                 # probability per request of each injected error [0.0], sum <= 1
    ValidationError = 0.0             # also ModelError, ModelNotReadyException, ThrottlingException,
                                      # InternalFailure, ServiceUnavailable, InternalDependencyException
                                      # (kind llm: answered before any stream starts)

    [[endpoint.model]]                # kind "triton": one or more; several = multi-model (TargetModel)
    name = "add_sub"                  # the Triton model name (and the TargetModel value)
    type = "add_sub"                  # add_sub | identity | image_path
    max_batch_size = 8                # [0] > 0: request shapes are [batch] + dims, 1 <= batch <= this
    input = [ { name = "INPUT0", datatype = "FP32", dims = [16] } ]    # dims: ints >= 1 or -1 (any)
                                      # datatype: Triton name; TYPE_FP32 and STRING (= BYTES) also read
    output = [ { name = "OUTPUT0", datatype = "FP32", dims = [16] } ]
    output_prefix = "s3://bucket/labels/"   # image_path only [""]: where result URIs point

    [endpoint.llm]                    # kind "llm" only, optional: a token streamer (see llmformats)
    format = "tgi"                    # [tgi] ndjson | tgi | openai | triton: the container's stream format
    ttft = { distribution = "fixed", ms = 150.0 }   # [fixed 150 ms] admission -> first token; or lognormal
    itl = { distribution = "fixed", ms = 20.0 }     # [fixed 20 ms] time per output token, one sequence
    itl_growth = 0.05                 # [0.0] >= 0: per-token time x (1 + itl_growth x (active sequences - 1))
    output_tokens = { distribution = "fixed", count = 64 }   # [fixed 64] or lognormal { median, p99 };
                                      # a max-tokens value in the request caps it
    first_chunk = "none"              # [none] none | empty | role: an extra first chunk with empty text
                                      # (openai role: delta {"role": "assistant"}), sent at admission
    usage = true                      # [true] openai: a final chunk with "usage" token counts
    split_probability = 0.0           # [0.0] an event is cut at a random byte across two PayloadParts
    merge_probability = 0.0           # [0.0] the next event joins the same PayloadPart

    [endpoint.stream_faults]          # kind "llm" only; probability per streaming request [0.0], sum <= 1
    ModelInvocationTimeExceeded = 0.0 # in-stream ModelStreamError, ErrorCode ModelInvocationTimeExceeded
    StreamBroken = 0.0                # in-stream ModelStreamError, ErrorCode StreamBroken
    InternalStreamFailure = 0.0       # in-stream InternalStreamFailure
    DropConnection = 0.0              # the connection is closed mid-stream, without a frame
    after_parts = 3                   # [3] >= 0: the fault comes after this many PayloadParts (or at the end)
    slow_first_byte_ms = 0.0          # [0.0] >= 0: extra delay before the response headers, every request

Model types: ``add_sub`` (two inputs, two outputs, one numeric datatype, equal dims: OUTPUT0 = a + b,
OUTPUT1 = a - b), ``identity`` (output i echoes input i; same datatype and dims pairwise, any datatype),
``image_path`` (one BYTES input of ``s3://`` URIs -> one BYTES output of ``.json`` URIs).

Kind ``llm``: one text-generation model (no ``[[endpoint.model]]``, no TargetModel). The request body
is JSON with a prompt (``inputs``, ``prompt``, ``text_input`` or the last ``messages[].content``) and
optionally a max-tokens value; the tokens are pseudo-words seeded by the prompt. Both InvokeEndpoint
(whole response) and InvokeEndpointWithResponseStream (PayloadParts, stream faults) are served.

Every error is a ``ConfigError`` with one line: ``<file>: <key path>: <what is wrong>``.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bench.config import ENDPOINT_NAME_MAX as ENDPOINT_NAME_MAX
from bench.config import ENDPOINT_NAME_PATTERN as ENDPOINT_NAME_PATTERN
from bench.emulator.distributions import ServiceTimeConfig as ServiceTimeConfig
from bench.emulator.distributions import read_service_time
from bench.emulator.llmconfig import LlmConfig as LlmConfig
from bench.emulator.llmconfig import read_llm
from bench.emulator.modelconfig import ModelConfig as ModelConfig
from bench.emulator.modelconfig import TensorConfig as TensorConfig
from bench.emulator.modelconfig import read_triton_models
from bench.emulator.tomltable import TomlTable, check_unique
from bench.errors import ConfigError

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
FAULT_SHAPES = (
    "ValidationError",
    "ModelError",
    "ModelNotReadyException",
    "ThrottlingException",
    "InternalFailure",
    "ServiceUnavailable",
    "InternalDependencyException",
)
_ACCOUNT = re.compile(r"^\d{12}$")
NO_SERVICE_TIME = ServiceTimeConfig()


@dataclass(frozen=True)
class CapacityConfig:
    slots: int = 4
    queue_limit: int = 256
    service_time: ServiceTimeConfig = NO_SERVICE_TIME


@dataclass(frozen=True)
class VariantConfig:
    name: str
    weight: float = 1.0


@dataclass(frozen=True)
class EndpointConfig:
    name: str
    kind: str
    variants: tuple[VariantConfig, ...]
    capacity: CapacityConfig = CapacityConfig()
    faults: tuple[tuple[str, float], ...] = ()  # (shape, probability), non-zero only, FAULT_SHAPES order
    inference_components: tuple[str, ...] = ()
    models: tuple[ModelConfig, ...] = ()  # kind "triton"
    llm: LlmConfig | None = None  # kind "llm"


@dataclass(frozen=True)
class KindSettings:
    """What a kind's reader takes from its endpoint table."""

    models: tuple[ModelConfig, ...] = ()
    llm: LlmConfig | None = None


@dataclass(frozen=True)
class EmulatorConfig:
    endpoints: tuple[EndpointConfig, ...]
    seed: int | None = None
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    source: str = "<text>"

    @property
    def endpoint_names(self) -> list[str]:
        return [e.name for e in self.endpoints]


def load_config(path: Path | None = None) -> EmulatorConfig:
    """Read a TOML file; ``None`` means the default shipped with the package (``default.toml``)."""
    if path is None:
        text = resources.files("bench.emulator").joinpath("default.toml").read_text(encoding="utf-8")
        return load_config_text(text, "bench/emulator/default.toml")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read emulator config: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not a TOML file (byte {exc.start} is not UTF-8 text); give the emulator's TOML configuration"
        ) from None
    return load_config_text(text, str(path))


def load_config_text(text: str, source: str) -> EmulatorConfig:
    """Parse and check configuration text; ``source`` names it in error messages."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    top = TomlTable(source, "", document)
    top.allow("seed", "account", "region", "endpoint")
    seed = top.take("seed", int, None)
    account = top.take("account", str, DEFAULT_ACCOUNT)
    if not _ACCOUNT.match(account):
        raise top.error("account", f"must be 12 digits, got {account!r}")
    region = top.take("region", str, DEFAULT_REGION)
    raw_endpoints = top.take("endpoint", list, [])
    if not raw_endpoints:
        raise top.error("endpoint", "define at least one [[endpoint]]")
    endpoints = tuple(_endpoint(top.child(f"endpoint[{i}]", raw)) for i, raw in enumerate(raw_endpoints))
    top.done()
    check_unique(top, "endpoint", [e.name for e in endpoints])
    return EmulatorConfig(endpoints=endpoints, seed=seed, account=account, region=region, source=source)


def _endpoint(table: TomlTable) -> EndpointConfig:
    name = table.take("name", str)
    if len(name) > ENDPOINT_NAME_MAX or not ENDPOINT_NAME_PATTERN.match(name):
        raise table.error("name", f"{name!r} is not a SageMaker endpoint name (<= 63 of a-z A-Z 0-9 -)")
    table.path = f"endpoint[{name}]"
    kind = table.take("kind", str, "triton")
    reader = _KIND_READERS.get(kind)
    if reader is None:
        supported = ", ".join(_KIND_READERS)
        raise table.error("kind", f"unknown kind {kind!r}; this emulator serves: {supported}")
    table.allow("inference_components", "variant", "capacity", "faults", *_KIND_KEYS[kind])
    components = tuple(table.take("inference_components", list, []))
    for component in components:
        if not isinstance(component, str) or not ENDPOINT_NAME_PATTERN.match(component):
            raise table.error("inference_components", f"{component!r} is not a valid component name")
    raw_variants = table.take("variant", list, [{"name": "AllTraffic", "weight": 1.0}])
    if not raw_variants:
        raise table.error("variant", "give at least one [[endpoint.variant]] or leave it out")
    variants = tuple(_variant(table.child(f"variant[{i}]", raw)) for i, raw in enumerate(raw_variants))
    check_unique(table, "variant", [v.name for v in variants])
    capacity = _capacity(table.child("capacity", table.take("capacity", dict, {})), kind)
    faults = _faults(table.child("faults", table.take("faults", dict, {})))
    settings = reader(table)
    table.done()
    return EndpointConfig(
        name=name,
        kind=kind,
        variants=variants,
        capacity=capacity,
        faults=faults,
        inference_components=components,
        models=settings.models,
        llm=settings.llm,
    )


def _variant(table: TomlTable) -> VariantConfig:
    table.allow("name", "weight")
    name = table.take("name", str)
    if len(name) > ENDPOINT_NAME_MAX or not ENDPOINT_NAME_PATTERN.match(name):
        raise table.error("name", f"{name!r} is not a valid variant name (<= 63 of a-z A-Z 0-9 -)")
    weight = table.take("weight", float, 1.0)
    if not (weight > 0 and math.isfinite(weight)):
        raise table.error("weight", f"must be a positive number, got {weight}")
    table.done()
    return VariantConfig(name=name, weight=weight)


def _capacity(table: TomlTable, kind: str) -> CapacityConfig:
    if kind == "llm" and table.take("service_time", dict, None) is not None:
        raise table.error("service_time", "not used by kind llm; set [endpoint.llm] ttft, itl, output_tokens")
    table.allow("slots", "queue_limit", "service_time")
    slots = table.take("slots", int, 4)
    if slots < 1:
        raise table.error("slots", f"must be >= 1, got {slots}")
    queue_limit = table.take("queue_limit", int, 256)
    if queue_limit < 0:
        raise table.error("queue_limit", f"must be >= 0, got {queue_limit}")
    service_time = read_service_time(table.child("service_time", table.take("service_time", dict, {})))
    table.done()
    return CapacityConfig(slots=slots, queue_limit=queue_limit, service_time=service_time)


def _faults(table: TomlTable) -> tuple[tuple[str, float], ...]:
    table.allow(*FAULT_SHAPES)
    faults = []
    for shape in FAULT_SHAPES:
        rate = table.take(shape, float, 0.0)
        if not 0.0 <= rate <= 1.0:
            raise table.error(shape, f"must be a probability in 0..1, got {rate}")
        if rate > 0:
            faults.append((shape, rate))
    table.done()
    if sum(rate for _, rate in faults) > 1.0 + 1e-9:
        raise table.error(faults[-1][0], "fault probabilities add up to more than 1")
    return tuple(faults)


# Each endpoint kind reads its own keys.
_KIND_READERS: dict[str, Callable[[TomlTable], KindSettings]] = {
    "triton": lambda table: KindSettings(models=read_triton_models(table)),
    "llm": lambda table: KindSettings(llm=read_llm(table)),
}
_KIND_KEYS: dict[str, tuple[str, ...]] = {"triton": ("model",), "llm": ("llm", "stream_faults")}
