"""Frozen configuration: what to call, with what, and where results go.

Parsed once (``bench.options.run_config_from_options``) and passed down; nothing below reads
``os.environ`` or Locust's ``parsed_options``. The small ``parse_*`` functions here turn one option
string into one value and raise ``ConfigError`` with a one-line message when it is malformed.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.errors import ConfigError
from bench.gatespec import GateSpec

# Triton datatypes (PROTOCOLS.md 3.1) in the order Triton's docs list them.
DATATYPES = (
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BF16",
    "BYTES",
)
TENSOR_FORMATS = ("binary", "json")
TRANSPORTS = ("boto3", "fast")

# SageMaker's real-time payload limit: InvokeEndpoint Body max 6291456 bytes (PROTOCOLS.md 1.3).
MAX_REQUEST_BYTES = 6_291_456
# Default demo endpoints served by the emulator's packaged configuration.
DEMO_TRITON_ENDPOINT = "demo-triton"
DEMO_LLM_ENDPOINT = "demo-llm"
EMULATOR_REGION = "us-east-1"
# SageMaker endpoint names (CreateEndpoint's EndpointName): the one rule, for options and the emulator.
ENDPOINT_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
ENDPOINT_NAME_MAX = 63
# k6's gracefulStop: requests in flight at the end of a run may finish for the read timeout, at most this.
DRAIN_CAP_S = 30.0
# AWS's load-testing guidance: the autoscaling target is half the rate one instance sustains.
DEFAULT_SAFETY_FACTOR = 0.5
# Open loop: users available to send when -u is not given (k6's preAllocatedVUs; each is one greenlet).
DEFAULT_ARRIVAL_USERS = 100
# --rates auto: doubling from MAX / 2**AUTO_RATE_DOUBLINGS up to MAX, then at most AUTO_RATE_BISECTIONS
# bisecting steps between the highest passing and the lowest failing rate.
DEFAULT_AUTO_MAX_RATE = 1024.0
AUTO_RATE_DOUBLINGS = 6
AUTO_RATE_BISECTIONS = 4
# perf_analyzer's tolerance: a request sent more than 1 ms after its scheduled time is late; a run with
# more than 1% late requests did not offer the load asked for.
LATE_LAG_MS = 1.0
LATE_RATE_LIMIT = 0.01


@dataclass(frozen=True)
class TensorSpec:
    """One input tensor: ``NAME:DTYPE:SHAPE[:VALUES]``.

    ``shape`` may hold -1 only when the data comes from a payload file (the dimension is then taken
    from the file). ``values`` are cycled to fill the tensor; empty means seeded random data.
    """

    name: str
    datatype: str
    shape: tuple[int, ...]
    values: tuple[str, ...] = ()

    @property
    def is_concrete(self) -> bool:
        return all(d >= 0 for d in self.shape)

    @property
    def element_count(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class OutputSpec:
    """An output to request and check: ``NAME[:DTYPE[:SHAPE]]`` (-1 matches any size)."""

    name: str
    datatype: str | None = None
    shape: tuple[int, ...] | None = None


@dataclass(frozen=True)
class EndpointSpec:
    """Where requests go and the SageMaker routing headers that travel with each one."""

    name: str
    region: str | None = None
    endpoint_url: str | None = None
    container_url: str | None = None
    aws_profile: str | None = None
    target_model: str | None = None
    target_variant: str | None = None
    inference_component: str | None = None
    custom_attributes: str | None = None
    emulated: bool = False

    @property
    def request_name(self) -> str:
        """The name requests are reported under (Locust's ``name``)."""
        base = self.name if not self.container_url else "container"
        return f"{base}/{self.target_model}" if self.target_model else base


@dataclass(frozen=True)
class PayloadSpec:
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[OutputSpec, ...] = ()
    files: tuple[Path, ...] = ()
    tensor_format: str = "binary"
    seed: int = 0
    synthetic_variants: int = 8


@dataclass(frozen=True)
class StreamSpec:
    """What the streaming user sends: prompts shaped for ``stream_format``, or bodies from a JSONL file."""

    endpoint: EndpointSpec
    stream_format: str = "auto"
    prompts: tuple[str, ...] = ()
    payload_file: Path | None = None
    max_tokens: int = 64


@dataclass(frozen=True)
class TransportSpec:
    """How requests are sent. The connection pool is sized by the run (``pool_size``), not here."""

    kind: str = "boto3"
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 60.0


@dataclass(frozen=True)
class ArrivalSpec:
    """Open-loop arrivals (``--arrival-rate`` or ``--rates``): requests are sent on a schedule, not when
    earlier ones finish. ``rate_per_s`` is the whole run's (all processes); each process sends its share."""

    rate_per_s: float  # a --rates run: the first step's rate
    distribution: str = "poisson"  # bench.pacer.ARRIVAL_DISTRIBUTIONS
    seed: int = 0


@dataclass(frozen=True)
class CapacitySpec:
    """A stepped capacity run and the planning inputs of its report.

    Closed loop (``--steps``): ``steps`` are users per step. Open loop (``--rates``): ``rates`` are the
    arrival rates per step (in auto mode the doubling plan up to the bound, bisected after the first
    failing step) and ``steps`` is empty."""

    steps: tuple[int, ...]  # users per step (in auto mode: the doubling plan up to the bound)
    auto: bool = False
    step_duration_s: float = 30.0
    ramp_s: float = 6.0
    slos: tuple[GateSpec, ...] = ()
    target_rps: float | None = None
    headroom: float = 0.30
    safety_factor: float = DEFAULT_SAFETY_FACTOR
    instance_type: str | None = None
    instance_price: float | None = None
    rates: tuple[float, ...] = ()  # requests per second per step (a --rates run)

    @property
    def by_rate(self) -> bool:
        """Whether the steps are arrival rates (open loop) rather than users (closed loop)."""
        return bool(self.rates)

    @property
    def planned_steps(self) -> int:
        return len(self.rates) if self.rates else len(self.steps)


@dataclass(frozen=True)
class RunConfig:
    endpoint: EndpointSpec
    payload: PayloadSpec = field(default_factory=PayloadSpec)
    stream: StreamSpec | None = None
    transport: TransportSpec = field(default_factory=TransportSpec)
    report_dir: Path = Path("reports")
    run_name: str = ""
    warmup_s: float = 0.0
    gates: tuple[GateSpec, ...] = ()  # parsed once (bench.gatespec)
    gate_abort: bool = False
    require_valid: bool = False
    drain_s: float = 30.0  # at the end of a run, how long requests in flight may take to finish
    capacity: CapacitySpec | None = None
    arrival: ArrivalSpec | None = None  # open loop (--arrival-rate, --rates); None: closed loop


_NAME = re.compile(r"^[A-Za-z0-9_.\-/]+$")
_DURATION = re.compile(r"^\s*(-\s*)?(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_HOST_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"^{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?$")
_URL_FORM = "expected http://HOST[:PORT] or https://HOST[:PORT]"
_DURATION_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_shape(text: str, *, where: str) -> tuple[int, ...]:
    """``1,3,224,224`` or ``1x3x224x224``; ``-1`` for a dimension taken from a payload file."""
    parts = [p.strip() for p in re.split(r"[,x]", text.strip())] if text.strip() else []
    if not parts or any(not re.fullmatch(r"-1|\d+", p) for p in parts):
        raise ConfigError(
            f"{where}: malformed shape {text!r}; write dimensions as integers separated by commas, e.g. 1,3,224,224"
        )
    return tuple(int(p) for p in parts)


def parse_datatype(text: str, *, where: str) -> str:
    datatype = text.strip().upper()
    aliases = {"STRING": "BYTES", "FLOAT32": "FP32", "FLOAT16": "FP16", "FLOAT64": "FP64", "BFLOAT16": "BF16"}
    datatype = aliases.get(datatype, datatype)
    if datatype not in DATATYPES:
        raise ConfigError(f"{where}: unknown datatype {text!r}; use one of {', '.join(DATATYPES)}")
    return datatype


def parse_tensor_spec(text: str, *, read_values_file: bool = True) -> TensorSpec:
    """Parse ``--input NAME:DTYPE:SHAPE[:VALUES]``.

    VALUES is a comma-separated list (``s3://b/a.jpg,s3://b/b.jpg``) or ``@FILE`` with one value per
    line; values are cycled to fill the tensor.
    """
    where = f"--input {text}"
    parts = text.split(":", 3)
    if len(parts) < 3 or not parts[0]:
        raise ConfigError(f"{where}: expected NAME:DTYPE:SHAPE[:VALUES], e.g. INPUT0:FP32:1,16")
    name, dtype_text, shape_text = parts[0], parts[1], parts[2]
    if not _NAME.match(name):
        raise ConfigError(f"{where}: malformed input name {name!r}; use letters, digits, _ . - /")
    datatype = parse_datatype(dtype_text, where=where)
    shape = parse_shape(shape_text, where=where)
    values: tuple[str, ...] = ()
    if len(parts) == 4:
        values = _parse_values(parts[3], where=where, read_file=read_values_file)
        if datatype != "BYTES":
            for value in values:
                _check_numeric_value(value, datatype, where=where)
    return TensorSpec(name=name, datatype=datatype, shape=shape, values=values)


def _parse_values(text: str, *, where: str, read_file: bool) -> tuple[str, ...]:
    if text.startswith("@"):
        path = Path(text[1:])
        if not read_file:
            return (text,)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read values file {path}: {exc.strerror}") from exc
        values = tuple(line.strip() for line in lines if line.strip())
    else:
        values = tuple(v.strip() for v in text.split(",") if v.strip())
    if not values:
        raise ConfigError(f"{where}: VALUES is empty; give comma-separated values or @FILE with one per line")
    return values


def _check_numeric_value(value: str, datatype: str, *, where: str) -> None:
    if datatype == "BOOL":
        if value.lower() not in ("0", "1", "true", "false"):
            raise ConfigError(f"{where}: BOOL value {value!r} must be true, false, 1 or 0")
        return
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{where}: value {value!r} is not a number for datatype {datatype}") from None
    if datatype.startswith(("INT", "UINT")) and not number.is_integer():
        raise ConfigError(f"{where}: value {value!r} is not an integer for datatype {datatype}")


def parse_output_spec(text: str) -> OutputSpec:
    where = f"--output {text}"
    parts = text.split(":", 2)
    if not parts[0] or not _NAME.match(parts[0]):
        raise ConfigError(f"{where}: expected NAME[:DTYPE[:SHAPE]], e.g. OUTPUT0:FP32:1,16")
    datatype = parse_datatype(parts[1], where=where) if len(parts) > 1 and parts[1] else None
    shape = parse_shape(parts[2], where=where) if len(parts) > 2 else None
    return OutputSpec(name=parts[0], datatype=datatype, shape=shape)


def parse_duration(text: str, *, option: str) -> float:
    """``30s``, ``500ms``, ``2m``, ``1h`` or a bare number of seconds."""
    match = _DURATION.match(str(text))
    if not match:
        raise ConfigError(f"{option}: malformed duration {text!r}; write e.g. 30s, 500ms, 2m")
    value = float(match.group(2)) * _DURATION_SCALE[match.group(3)]
    if match.group(1) and value > 0:
        raise ConfigError(f"{option}: duration {text!r} must not be negative; write e.g. 0s, 500ms, 30s")
    return value


def check_url(url: str, *, option: str) -> str:
    """``url`` when it is a whole http(s) URL: scheme, host, port 1..65535, no spaces, credentials,
    query or fragment (a path is kept: a VPC endpoint or a proxy may have one). ConfigError otherwise."""
    where = f"{option} {url!r}"
    if any(c.isspace() for c in url):
        raise ConfigError(f"{where}: a URL has no spaces; {_URL_FORM}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. unbalanced brackets of an IPv6 address
        raise ConfigError(f"{where}: no valid host ({exc}); {_URL_FORM}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{where}: {_URL_FORM}")
    if "@" in parts.netloc:
        raise ConfigError(
            f"{where}: leave out the credentials (USER:PASSWORD@); requests are signed with the AWS "
            "credential chain, never with credentials in a URL"
        )
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ConfigError(f"{where}: leave out the query or fragment (? #); {_URL_FORM}[/PATH]")
    host, port = _host_and_port(parts.netloc)
    if host is None or not (host.startswith("[") or _HOST_NAME.match(host)):
        raise ConfigError(f"{where}: no valid host in {parts.netloc!r}; {_URL_FORM}")
    if port is not None and not port.isdigit():
        raise ConfigError(f"{where}: port {port!r} is not a number; give a port from 1 to 65535")
    if port is not None and not 1 <= int(port) <= 65535:
        raise ConfigError(f"{where}: port {port} is out of range; give a port from 1 to 65535")
    return url


def _host_and_port(netloc: str) -> tuple[str | None, str | None]:
    """The host (None when malformed; IPv6 in its brackets) and the port text (None without a ``:``)."""
    if netloc.startswith("["):
        address, _, after = netloc[1:].partition("]")
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            return None, None
        if after and not after.startswith(":"):
            return None, None
        return f"[{address}]", after[1:] if after else None
    host, colon, port = netloc.partition(":")
    return host, port if colon else None


def check_endpoint_name(name: str, *, option: str) -> str:
    """``name`` when it is a valid SageMaker endpoint name; ConfigError naming ``option`` otherwise."""
    if len(name) > ENDPOINT_NAME_MAX or not ENDPOINT_NAME_PATTERN.match(name):
        raise ConfigError(
            f"{option} {name!r}: SageMaker endpoint names are letters, digits and hyphens "
            f"(at most {ENDPOINT_NAME_MAX} characters, no hyphen first or last)"
        )
    return name


def pool_size(users: int) -> int:
    """Connections one process keeps for ``users`` concurrent users: one each, at least 10 (urllib3's default)."""
    return max(10, users)


def choose_one(value: str, allowed: tuple[str, ...], *, option: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{option}: {value!r} is not one of {', '.join(allowed)}")
    return value


def parse_percentage(text: str, option: str) -> float:
    """``10%`` or ``0.1`` -> 0.1: a percentage, or a bare fraction below 1; never negative."""
    if re.fullmatch(r"\s*-\s*(\d+(?:\.\d*)?|\.\d+)\s*%?\s*", str(text)):
        raise ConfigError(f"{option}: {text!r} must not be negative; write e.g. 10% or 0.1")
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?)\s*", str(text))
    if not match or (not match.group(2) and float(match.group(1)) >= 1.0):
        raise ConfigError(f"{option}: {text!r} is not a percentage; write e.g. 10% or 0.1")
    return float(match.group(1)) / (100.0 if match.group(2) else 1.0)


def parse_rates(text: str) -> tuple[tuple[float, ...], bool]:
    """``100,200,400`` (requests per second per step), ``auto`` (doubling from 1/64 of 1024 req/s) or
    ``auto:MAX`` (doubling from MAX/64 up to MAX, then bisecting; see ``bench.shapes``)."""
    value = text.strip().lower()
    if value.startswith("auto"):
        bound_text = value[4:].lstrip(":") or f"{DEFAULT_AUTO_MAX_RATE:g}"
        try:
            bound = float(bound_text)
        except ValueError:
            bound = float("nan")
        if not (math.isfinite(bound) and bound > 0):
            raise ConfigError(f"--rates {text!r}: write auto or auto:MAX_RATE, e.g. auto:2000")
        doublings = AUTO_RATE_DOUBLINGS
        return tuple(bound / 2**k for k in range(doublings, -1, -1)), True
    parts = [p.strip() for p in value.split(",")]
    rates = []
    for part in parts:
        try:
            rate = float(part)
        except ValueError:
            rate = float("nan")
        if not (math.isfinite(rate) and rate > 0):
            raise ConfigError(
                f"--rates {text!r}: give requests per second per step as positive numbers, "
                "e.g. 100,200,400, or auto:MAX"
            )
        rates.append(rate)
    return tuple(rates), False


def parse_steps(text: str) -> tuple[tuple[int, ...], bool]:
    """``1,2,4,8`` (users per step), ``auto`` (doubling up to 512 users) or ``auto:64``."""
    value = text.strip().lower()
    if value.startswith("auto"):
        bound_text = value[4:].lstrip(":") or "512"
        if not bound_text.isdigit() or int(bound_text) < 1:
            raise ConfigError(f"--steps {text!r}: write auto or auto:MAX_USERS, e.g. auto:64")
        bound, plan = int(bound_text), [1]
        while plan[-1] * 2 <= bound:
            plan.append(plan[-1] * 2)
        return tuple(plan), True
    parts = [p.strip() for p in value.split(",")]
    if not parts or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ConfigError(
            f"--steps {text!r}: give users per step as positive integers, e.g. 1,2,4,8,16, or auto"
        )
    return tuple(int(p) for p in parts), False
