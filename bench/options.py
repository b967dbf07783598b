"""Every option of the harness, defined once, for Locust's parser and for ``bench`` subcommands.

``add_options`` adds them to a parser (Locust's configargparse parser gets ``BENCH_*`` environment
variables and web-UI flags; plain argparse gets the environment through defaults), and
``run_config_from_options`` converts the parsed values into a frozen ``RunConfig`` in one place.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.config import (
    DEFAULT_SAFETY_FACTOR,
    DEMO_LLM_ENDPOINT,
    DEMO_TRITON_ENDPOINT,
    DRAIN_CAP_S,
    TENSOR_FORMATS,
    TRANSPORTS,
    ArrivalSpec,
    CapacitySpec,
    EndpointSpec,
    PayloadSpec,
    RunConfig,
    StreamSpec,
    TensorSpec,
    TransportSpec,
    check_endpoint_name,
    check_url,
    choose_one,
    parse_duration,
    parse_output_spec,
    parse_percentage,
    parse_rates,
    parse_steps,
    parse_tensor_spec,
)
from bench.errors import ConfigError
from bench.gatespec import GateSpec, check_foregone, parse_gates
from bench.pacer import ARRIVAL_DISTRIBUTIONS
from bench.payload.streams import STREAM_FORMATS

# What the demo endpoint of the packaged emulator configuration accepts.
DEMO_INPUTS = ("INPUT0:FP32:1,16", "INPUT1:FP32:1,16")


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    help: str
    metavar: str | None = None
    default: Any = None
    repeat: bool = False
    flag: bool = False
    choices: tuple[str, ...] | None = None
    web_ui: bool = False
    secret: bool = False

    @property
    def dest(self) -> str:
        return self.flags[0].lstrip("-").replace("-", "_")

    @property
    def env_var(self) -> str:
        return "BENCH_" + self.dest.upper()


OPTIONS: tuple[Option, ...] = (
    # Where requests go.
    Option(
        ("--endpoint",),
        "SageMaker endpoint name. With none of --endpoint, --endpoint-url, --container-url the built-in emulator is started.",
        "NAME",
        web_ui=True,
    ),
    Option(("--region",), "AWS region of the endpoint (default: from the AWS config chain).", "REGION"),
    Option(
        ("--endpoint-url",),
        "SageMaker runtime URL override (VPC endpoint, or an emulator started with `bench serve`).",
        "URL",
    ),
    Option(
        ("--container-url",),
        "Talk the SageMaker container contract (POST /invocations, GET /ping) directly, e.g. http://127.0.0.1:8080.",
        "URL",
    ),
    Option(
        ("--aws-profile",), "AWS profile for credentials and region (default: the boto3 chain).", "PROFILE"
    ),
    Option(("--target-model",), "TargetModel for multi-model endpoints.", "MODEL", web_ui=True),
    Option(
        ("--target-variant",),
        "TargetVariant: send every request to this production variant.",
        "VARIANT",
        web_ui=True,
    ),
    Option(
        ("--inference-component",),
        "InferenceComponentName for endpoints with inference components.",
        "NAME",
        web_ui=True,
    ),
    Option(("--custom-attributes",), "CustomAttributes header passed to the container.", "TEXT", web_ui=True),
    Option(
        ("--emulator-config",),
        "TOML configuration for the auto-started emulator (default: the packaged demo).",
        "FILE",
    ),
    # How they are sent.
    Option(("--transport",), "How requests are sent.", default="boto3", choices=TRANSPORTS),
    Option(("--connect-timeout",), "Connect timeout per request.", "DURATION", default="5s"),
    Option(
        ("--read-timeout",),
        "Read timeout per request (SageMaker allows 60 s for real-time).",
        "DURATION",
        default="60s",
    ),
    Option(
        ("--drain",),
        "At the end of a run, how long requests in flight may take to finish (default: the read timeout, at most 30 s; sets Locust's stop timeout); those still running then are rows with status=unfinished.",
        "DURATION",
    ),
    # What is sent.
    Option(
        ("--input",),
        "Input tensor NAME:DTYPE:SHAPE[:VALUES] (repeatable). VALUES: comma-separated or @FILE, cycled; none = seeded random data.",
        "SPEC",
        repeat=True,
    ),
    Option(
        ("--payload",),
        "perf_analyzer --input-data JSON or .npz file (repeatable); entries used round-robin.",
        "FILE",
        repeat=True,
    ),
    Option(
        ("--output",),
        "Output to request and check NAME[:DTYPE[:SHAPE]] (repeatable; -1 matches any dimension).",
        "SPEC",
        repeat=True,
    ),
    Option(
        ("--tensor-format",),
        "Triton tensor encoding: binary+json or JSON.",
        default="binary",
        choices=TENSOR_FORMATS,
        web_ui=True,
    ),
    Option(("--seed",), "Seed for synthetic tensor data.", "INT", default="0"),
    # Streaming endpoints.
    Option(
        ("--stream-endpoint",),
        "Endpoint for the streaming user (default: --endpoint; demo-llm on the emulator).",
        "NAME",
        web_ui=True,
    ),
    Option(
        ("--stream-format",),
        "Response format of the streaming endpoint; auto detects it from the first bytes and the content type.",
        default="auto",
        choices=STREAM_FORMATS,
        web_ui=True,
    ),
    Option(
        ("--prompt",),
        "Prompt for the streaming user (repeatable, used round-robin); the body is shaped for --stream-format.",
        "TEXT",
        repeat=True,
    ),
    Option(
        ("--llm-payload",),
        "JSONL file of request bodies for the streaming user, sent as is, round-robin.",
        "FILE",
    ),
    Option(
        ("--max-tokens",), "Maximum new tokens asked for in prompt bodies.", "INT", default="64", web_ui=True
    ),
    # Where results go.
    Option(("--report-dir",), "Directory that receives one run directory per run.", "DIR", default="reports"),
    Option(("--run-name",), "Name appended to the run directory (default: the endpoint name).", "NAME"),
    Option(
        ("--warmup",),
        "Leave the first DURATION of the run out of summaries (records are kept).",
        "DURATION",
        default="0s",
    ),
    # CI gates.
    Option(
        ("--gate",),
        "A performance gate, e.g. 'p95(latency)<250ms' (repeatable); a failed gate exits 3.",
        "EXPR",
        repeat=True,
    ),
    Option(
        ("--require-valid",),
        "Fail the run (exit 3) when the load generator itself was saturated (CPU over 90% of a core or event-loop lag over 20 ms).",
        flag=True,
    ),
    # Open loop: requests sent on a schedule, whether or not earlier ones have finished.
    Option(
        ("--arrival-rate",),
        "Open loop: send RATE requests per second (the whole run, across workers) on a schedule, not when earlier responses arrive; -u is then the most requests in flight (default 100).",
        "RATE",
        web_ui=True,
    ),
    Option(
        ("--arrival",),
        "How the open loop's sends are spaced: poisson (exponential gaps, seeded by --seed) or constant.",
        default="poisson",
        choices=ARRIVAL_DISTRIBUTIONS,
        web_ui=True,
    ),
    Option(
        ("--rates",),
        "Open-loop capacity planning: arrival rate per step (100,200,400) or auto[:MAX] (doubling from MAX/64 up to MAX, then bisecting, for the highest rate meeting every SLO; MAX 1024 by default).",
        "PLAN",
    ),
    # Capacity planning.
    Option(
        ("--steps",),
        "Stepped load for capacity planning: users per step (1,2,4,8,16) or auto (doubling until the SLO breaks or throughput stops growing; auto:64 bounds it).",
        "PLAN",
    ),
    Option(("--step-duration",), "How long each step lasts.", "DURATION", default="30s"),
    Option(
        ("--step-ramp",),
        "Start of each step left out of its statistics (default: 20% of the step duration).",
        "DURATION",
    ),
    Option(
        ("--slo",),
        "A service-level objective in the gate grammar, e.g. 'p95(latency)<30ms' (repeatable); the capacity point is the highest step meeting all.",
        "EXPR",
        repeat=True,
    ),
    Option(("--target-rps",), "Peak requests per second to plan the fleet for.", "RPS"),
    Option(
        ("--headroom",),
        "Spare capacity on top of --target-rps when sizing the fleet.",
        "PERCENT",
        default="30%",
    ),
    Option(
        ("--safety-factor",),
        "Factor applied to the sustainable rate for the autoscaling target (AWS's guidance: 0.5).",
        "FRACTION",
        default=f"{DEFAULT_SAFETY_FACTOR:g}",
    ),
    Option(
        ("--instance-type",),
        "Instance type for the report and the built-in price table, e.g. ml.g5.xlarge.",
        "TYPE",
    ),
    Option(("--instance-price",), "USD per instance-hour (overrides the built-in table).", "USD"),
    Option(
        ("--gate-abort",),
        "Stop the run as soon as a gate can no longer pass (max, min, count, errors gates), after the warm-up.",
        flag=True,
    ),
)


def add_options(parser: Any, *, locust: bool, environ: Mapping[str, str] | None = None) -> None:
    """Add every option to ``parser``.

    ``locust=True``: Locust's parser (``env_var``, ``include_in_web_ui``); otherwise plain argparse,
    with ``environ`` supplying ``BENCH_*`` defaults. Either way ``accept_negative_values``.
    """
    accept_negative_values(parser)
    for option in OPTIONS:
        kwargs: dict[str, Any] = {"help": option.help, "dest": option.dest}
        if option.metavar:
            kwargs["metavar"] = option.metavar
        if option.choices:  # validated in run_config_from_options: one clear line, not argparse's usage dump
            kwargs["help"] = f"{option.help} One of: {', '.join(option.choices)} (default {option.default})."
        if option.repeat:
            kwargs["action"] = "append"
        if option.flag:
            kwargs["action"] = "store_true"
            kwargs.pop("metavar", None)
        default = option.default
        if locust:
            kwargs["env_var"] = option.env_var
            kwargs["include_in_web_ui"] = option.web_ui
        elif environ and option.env_var in environ:
            value = environ[option.env_var]
            default = _split_env_list(value) if option.repeat else (_truthy(value) if option.flag else value)
        kwargs["default"] = default
        parser.add_argument(*option.flags, **kwargs)


# A negative duration or percentage (-5s, -1.5m, -5%): argparse must take it as a value, see below.
_NEGATIVE_VALUE = r"^-(?:\d+(?:\.\d*)?|\.\d+)(?:ms|s|m|h|%)$"


def accept_negative_values(parser: Any) -> None:
    """Let ``parser`` (argparse or Locust's configargparse) read ``--warmup -5s`` as a value.

    argparse takes an argument that starts with ``-`` for an option unless it looks like a negative
    number (``parser._negative_number_matcher``: ``-5``, ``-0.5``), so ``--warmup -5s`` would fail with
    "expected one argument" before any option sees it. The parser's matcher is widened to negative
    durations and percentages, which no option string looks like; the option's own check then
    answers "must not be negative" in one line. A parser without the attribute is left alone (the
    ``--warmup=-5s`` form works everywhere).
    """
    matcher = getattr(parser, "_negative_number_matcher", None)
    if isinstance(matcher, re.Pattern) and _NEGATIVE_VALUE not in matcher.pattern:
        parser._negative_number_matcher = re.compile(f"{matcher.pattern}|{_NEGATIVE_VALUE}")


def _split_env_list(value: str) -> list[str]:
    """``BENCH_INPUT="[A:FP32:1, B:INT8:2]"`` (configargparse's list syntax) or one value."""
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        return [v.strip() for v in text[1:-1].split(",") if v.strip()]
    return [text]


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def needs_emulator(values: Mapping[str, Any]) -> bool:
    """No endpoint at all (neither ``--endpoint`` nor ``--stream-endpoint``), or ``--emulator-config``
    (then they name its endpoints). A streaming endpoint alone is a real one: ``--stream-endpoint my-llm
    --region us-east-1`` streams from SageMaker."""
    if values.get("endpoint_url") or values.get("container_url"):
        return False
    return bool(values.get("emulator_config")) or not (
        values.get("endpoint") or values.get("stream_endpoint")
    )


DEFAULTS: dict[str, Any] = {option.dest: option.default for option in OPTIONS}


def run_config_from_options(
    given: Mapping[str, Any],
    *,
    emulator_url: str | None = None,
    run_time_s: float | None = None,
    users_given: bool = False,
) -> RunConfig:
    """The one conversion from parsed option values to ``RunConfig``. Raises ConfigError.

    Options missing from ``given`` (or None) take their defaults from ``OPTIONS``, the one place they
    are written. When the options call for the emulator (``needs_emulator``) the endpoint is marked
    emulated; ``emulator_url`` is where it listens (None while validating, before it is started: the
    harness then puts the URL in with ``dataclasses.replace``, see ``with_endpoint_url``).

    Locust's own options that can contradict ours, where the caller has them: ``run_time_s`` (``-t``,
    seconds; None when not given) and ``users_given`` (``-u`` given explicitly). Both are refused
    with ``--steps``, and ``--warmup`` must be shorter than ``-t``. In the open loop (``--arrival-rate``,
    ``--rates``) ``-u`` is the most requests in flight (``DEFAULT_ARRIVAL_USERS`` when not given).
    """
    values = {**DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
    emulated = needs_emulator(values)
    endpoint = _endpoint_spec(values, emulated, emulator_url)
    payload = _payload_spec(values, demo=emulated and endpoint.name == DEMO_TRITON_ENDPOINT)
    transport = TransportSpec(
        kind=choose_one(str(values["transport"]), TRANSPORTS, option="--transport"),
        connect_timeout_s=_positive(
            parse_duration(values["connect_timeout"], option="--connect-timeout"), "--connect-timeout"
        ),
        read_timeout_s=_positive(
            parse_duration(values["read_timeout"], option="--read-timeout"), "--read-timeout"
        ),
    )
    gates = _gates(values, "gate")
    if values.get("gate_abort") and not gates:
        raise ConfigError(
            "--gate-abort stops the run when a gate can no longer pass, but no --gate is given; "
            "add --gate EXPR or leave out --gate-abort"
        )
    capacity = _capacity_spec(values, run_time_s=run_time_s, users_given=users_given)
    arrival = _arrival_spec(values, capacity)
    warmup_s = parse_duration(values["warmup"], option="--warmup")
    _check_warmup(warmup_s, run_time_s, capacity)
    return RunConfig(
        endpoint=endpoint,
        payload=payload,
        stream=_stream_spec(values, endpoint),
        transport=transport,
        report_dir=Path(values["report_dir"]),
        run_name=_text(values.get("run_name")) or endpoint.name,
        warmup_s=warmup_s,
        gates=gates,
        drain_s=_drain(values.get("drain"), transport.read_timeout_s),
        gate_abort=bool(values.get("gate_abort")),
        require_valid=bool(values.get("require_valid")),
        capacity=capacity,
        arrival=arrival,
    )


def _arrival_spec(values: Mapping[str, Any], capacity: CapacitySpec | None) -> ArrivalSpec | None:
    """The open loop of ``--arrival-rate`` (one rate) or ``--rates`` (a rate per step)."""
    text = _text(values.get("arrival_rate"))
    if text is not None and capacity is not None:
        flag = "--rates" if capacity.by_rate else "--steps"
        raise ConfigError(
            f"--arrival-rate and {flag} both set the load; give one (--rates steps the arrival rate)"
        )
    if text is None and (capacity is None or not capacity.by_rate):
        return None
    if text is not None:
        try:
            rate = float(text)
        except ValueError:
            rate = float("nan")
        if not (rate > 0 and rate < float("inf")):
            raise ConfigError(
                f"--arrival-rate {text!r}: give requests per second as a positive number, e.g. 200"
            )
    else:
        assert capacity is not None
        rate = capacity.rates[0]
    return ArrivalSpec(
        rate_per_s=rate,
        distribution=choose_one(str(values["arrival"]), ARRIVAL_DISTRIBUTIONS, option="--arrival"),
        seed=_seed(values),
    )


def _seed(values: Mapping[str, Any]) -> int:
    seed_text = str(values["seed"])
    if not seed_text.isdigit():
        raise ConfigError(f"--seed {seed_text!r}: give a non-negative integer")
    return int(seed_text)


def _endpoint_spec(values: Mapping[str, Any], emulated: bool, emulator_url: str | None) -> EndpointSpec:
    endpoint_name = _text(values.get("endpoint"))
    stream_name = _text(values.get("stream_endpoint"))
    endpoint_url = emulator_url if emulated else _text(values.get("endpoint_url"))
    container_url = _text(values.get("container_url"))
    if container_url and endpoint_url:
        raise ConfigError("--container-url and --endpoint-url exclude each other; give one")
    if container_url and endpoint_name:
        raise ConfigError(
            "--container-url talks to one container directly and --endpoint names a SageMaker endpoint; "
            "give one (--endpoint-url URL --endpoint NAME for an endpoint at a URL)"
        )
    if (container_url or _text(values.get("endpoint_url"))) and _text(values.get("emulator_config")):
        given = "--container-url" if container_url else "--endpoint-url"
        raise ConfigError(
            f"--emulator-config configures the built-in emulator, which is not started with {given}; give one"
        )
    if container_url:
        check_url(container_url, option="--container-url")
    elif endpoint_url and not emulated:
        check_url(endpoint_url, option="--endpoint-url")
        if not endpoint_name and not stream_name:
            raise ConfigError(
                "--endpoint-url needs --endpoint NAME: the endpoint to call at that URL "
                "(or --stream-endpoint NAME alone for a streaming-only run)"
            )
    if emulated and not endpoint_name:
        endpoint_name = DEMO_TRITON_ENDPOINT
    if not endpoint_name and stream_name and endpoint_url and not emulated:
        endpoint_name = stream_name  # a streaming-only run at --endpoint-url: named after its one endpoint
    if endpoint_name:
        check_endpoint_name(endpoint_name, option="--endpoint")
    return EndpointSpec(
        name=endpoint_name or "container",
        region=_text(values.get("region")),
        endpoint_url=endpoint_url,
        container_url=container_url,
        aws_profile=_text(values.get("aws_profile")),
        target_model=_text(values.get("target_model")),
        target_variant=_text(values.get("target_variant")),
        inference_component=_text(values.get("inference_component")),
        custom_attributes=_text(values.get("custom_attributes")),
        emulated=emulated,
    )


def _gates(values: Mapping[str, Any], dest: str) -> tuple[GateSpec, ...]:
    """``--gate`` or ``--slo`` expressions, parsed, and refused when their verdict is foregone."""
    option = f"--{dest}"
    gates = parse_gates(values.get(dest) or [], option=option)
    for gate in gates:
        check_foregone(gate, option=option)
    return gates


def _check_warmup(warmup_s: float, run_time_s: float | None, capacity: CapacitySpec | None) -> None:
    """The warm-up must leave something to measure: shorter than ``-t`` or than the fixed steps."""
    if warmup_s <= 0:
        return
    if capacity is not None and not capacity.auto:
        total = capacity.planned_steps * capacity.step_duration_s
        if warmup_s >= total:
            raise ConfigError(
                f"--warmup {warmup_s:g}s leaves nothing to measure in a stepped run of {total:g}s "
                f"({capacity.planned_steps} steps of {capacity.step_duration_s:g}s); make it shorter"
            )
    elif run_time_s and warmup_s >= run_time_s:
        raise ConfigError(
            f"--warmup {warmup_s:g}s leaves nothing to measure in a run of {run_time_s:g}s (-t); "
            "make it shorter than the run time"
        )


def _payload_spec(values: Mapping[str, Any], *, demo: bool) -> PayloadSpec:
    input_texts = list(values.get("input") or [])
    files = tuple(Path(p) for p in values.get("payload") or [])
    if not input_texts and not files and demo:
        input_texts = list(DEMO_INPUTS)
    inputs: tuple[TensorSpec, ...] = tuple(parse_tensor_spec(text) for text in input_texts)
    names = [spec.name for spec in inputs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"--input {duplicates[0]} is given more than once; give each input once")
    seed = _seed(values)
    return PayloadSpec(
        inputs=inputs,
        outputs=tuple(parse_output_spec(text) for text in values.get("output") or []),
        files=files,
        tensor_format=choose_one(str(values["tensor_format"]), TENSOR_FORMATS, option="--tensor-format"),
        seed=seed,
    )


def _capacity_spec(
    values: Mapping[str, Any], *, run_time_s: float | None = None, users_given: bool = False
) -> CapacitySpec | None:
    slos = _gates(values, "slo")  # a malformed SLO is reported before a missing --steps
    text = _text(values.get("steps"))
    if text is None and values.get("steps") is not None:
        raise ConfigError("--steps is empty; give users per step, e.g. --steps 1,2,4,8,16, or --steps auto")
    rates_text = _text(values.get("rates"))
    if rates_text is None and values.get("rates") is not None:
        raise ConfigError(
            "--rates is empty; give requests per second per step, e.g. --rates 100,200,400, or --rates auto:2000"
        )
    if text is not None and rates_text is not None:
        raise ConfigError(
            "--steps (users per step, closed loop) and --rates (arrival rate per step, open loop) both plan "
            "the steps; give one"
        )
    planning = [o for o in ("slo", "target_rps", "instance_type", "instance_price") if values.get(o)]
    if text is None and rates_text is None:
        if planning:
            raise ConfigError(
                f"--{planning[0].replace('_', '-')} plans capacity from a stepped run: add --rates "
                "(open loop, e.g. --rates 100,200,400) or --steps (closed loop, e.g. --steps 1,2,4,8,16)"
            )
        return None
    steps: tuple[int, ...] = ()
    rates: tuple[float, ...] = ()
    if rates_text is not None:
        rates, auto = parse_rates(rates_text)
        flag = "--rates"
    else:
        assert text is not None
        steps, auto = parse_steps(text)
        flag = "--steps"
        if users_given:
            raise ConfigError("--steps sets the users of each step; leave out -u/--users")
    if run_time_s:
        raise ConfigError(
            f"{flag} sets how long the run lasts (the steps times --step-duration); leave out -t/--run-time"
        )
    duration = _positive(parse_duration(values["step_duration"], option="--step-duration"), "--step-duration")
    ramp_text = _text(values.get("step_ramp"))
    ramp = parse_duration(ramp_text, option="--step-ramp") if ramp_text else 0.2 * duration
    if ramp >= duration:
        raise ConfigError(f"--step-ramp {ramp:g}s must be shorter than --step-duration {duration:g}s")
    return CapacitySpec(
        steps=steps,
        rates=rates,
        auto=auto,
        step_duration_s=duration,
        ramp_s=ramp,
        slos=slos,
        target_rps=_optional_number(values.get("target_rps"), "--target-rps"),
        headroom=parse_percentage(str(values["headroom"]), "--headroom"),
        safety_factor=_fraction(values["safety_factor"], "--safety-factor"),
        instance_type=_text(values.get("instance_type")),
        instance_price=_optional_number(values.get("instance_price"), "--instance-price"),
    )


def _drain(value: Any, read_timeout_s: float) -> float:
    text = _text(value)
    if text is None:
        return min(read_timeout_s, DRAIN_CAP_S)
    return parse_duration(text, option="--drain")


def _optional_number(value: Any, option: str) -> float | None:
    text = _text(value)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        raise ConfigError(f"{option} {text!r}: give a positive number") from None
    return _positive(number, option)


def _fraction(value: Any, option: str) -> float:
    number = _optional_number(value, option)
    if number is None or number > 1:
        raise ConfigError(f"{option} {value}: give a fraction between 0 and 1, e.g. 0.5")
    return number


def _stream_spec(values: Mapping[str, Any], endpoint: EndpointSpec) -> StreamSpec:
    name = _text(values.get("stream_endpoint"))
    if name is None:
        name = DEMO_LLM_ENDPOINT if endpoint.emulated else endpoint.name
    else:
        check_endpoint_name(name, option="--stream-endpoint")
    max_tokens = str(values["max_tokens"])
    if not max_tokens.isdigit() or int(max_tokens) < 1:
        raise ConfigError(f"--max-tokens {max_tokens!r}: give a positive integer")
    payload_file = _text(values.get("llm_payload"))
    if payload_file and any(values.get("prompt") or []):
        raise ConfigError(
            "--prompt and --llm-payload both give the streaming user's request bodies; give one of them"
        )
    return StreamSpec(
        endpoint=replace(endpoint, name=name, target_model=None),
        stream_format=choose_one(str(values["stream_format"]), STREAM_FORMATS, option="--stream-format"),
        prompts=tuple(p for p in values.get("prompt") or [] if p),
        payload_file=Path(payload_file) if payload_file else None,
        max_tokens=int(max_tokens),
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _positive(value: float, option: str) -> float:
    if value <= 0:
        raise ConfigError(f"{option}: must be greater than zero")
    return value


def with_endpoint_url(config: RunConfig, url: str) -> RunConfig:
    """``config`` aimed at an emulator that now listens at ``url`` (its endpoints and the stream's)."""
    endpoint = replace(config.endpoint, endpoint_url=url)
    stream = (
        replace(config.stream, endpoint=replace(config.stream.endpoint, endpoint_url=url))
        if config.stream
        else None
    )
    return replace(config, endpoint=endpoint, stream=stream)


def option_values(namespace: argparse.Namespace | Any) -> dict[str, Any]:
    """Our option values out of a parsed namespace (Locust's or argparse's)."""
    return {option.dest: getattr(namespace, option.dest, option.default) for option in OPTIONS}
