"""Validation before any load (issue #13): bad input is one line and exit code 2, never a traceback.

Items 4 (URLs; unexpected exceptions inside transports are records), 9 (tensors too large to send,
refused from their shapes), 14 (names checked against the emulator's configuration), 16 (negative
durations and percentages), 24 (contradictions) and 25 (a streaming-only run at an endpoint URL).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from locust.argument_parser import get_empty_argument_parser, setup_parser_arguments
from support import DATA, TEST_EMULATOR_CONFIG

from bench import cli
from bench.config import (
    DATATYPES,
    MAX_REQUEST_BYTES,
    EndpointSpec,
    PayloadSpec,
    TransportSpec,
    check_url,
    parse_duration,
    parse_percentage,
    parse_tensor_spec,
)
from bench.emulator.config import load_config
from bench.emulatorcheck import check_emulator_targets, check_targets
from bench.errors import ConfigError, EndpointError, UnexpectedError, ValidationError
from bench.options import add_options, needs_emulator, option_values, run_config_from_options
from bench.payload.pool import build_requests
from bench.payload.tensors import encoded_bytes_floor
from bench.transport.boto import Boto3Transport, payload_parts
from bench.transport.container import ContainerTransport
from bench.transport.fast import FastTransport
from bench.transport.translate import from_unexpected_error

TRITON_INPUTS = ("--input", "INPUT0:FP32:1,16", "--input", "INPUT1:FP32:1,16")
LOOPBACK = "http://127.0.0.1:9"  # nothing is sent in these tests


def _values(*argv: str) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    add_options(parser, locust=False, environ={})
    return option_values(parser.parse_args(list(argv)))


def _refused(*argv: str, **keywords: Any) -> str:
    """The one-line message of the ConfigError that the options ``argv`` give."""
    with pytest.raises(ConfigError) as caught:
        run_config_from_options(_values(*argv), **keywords)
    message = str(caught.value)
    assert "\n" not in message
    return message


# Item 4: URLs are checked whole: scheme, host, port 1..65535, no spaces or credentials.


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:99999", "port 99999 is out of range; give a port from 1 to 65535"),
        ("http://127.0.0.1:0", "port 0 is out of range"),
        ("http://127.0.0.1:80a", "port '80a' is not a number"),
        ("ftp://127.0.0.1:8080", "expected http://HOST[:PORT] or https://HOST[:PORT]"),
        ("127.0.0.1:8080", "expected http://HOST[:PORT]"),
        ("http://", "expected http://HOST[:PORT]"),
        ("http://:8080", "no valid host"),
        ("http://user:secret@127.0.0.1:8080", "leave out the credentials"),
        ("http://127.0.0.1:8080/a b", "a URL has no spaces"),
        ("http://[::1", "Invalid IPv6 URL"),
        ("http://[nonsense]:8080", "no valid host"),
        ("http://127.0.0.1:8080/?x=1", "leave out the query or fragment"),
    ],
)
@pytest.mark.parametrize("option", ["--endpoint-url", "--container-url"])
def test_urls_are_validated_fully(option: str, url: str, message: str) -> None:
    extra = ("--endpoint", "ep") if option == "--endpoint-url" else ()
    refused = _refused(option, url, *extra, *TRITON_INPUTS)
    assert refused.startswith(f"{option} {url!r}: ")
    assert message in refused


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "https://runtime.sagemaker.us-east-1.amazonaws.com",
        "https://vpce-0abc.runtime.sagemaker.eu-west-1.vpce.amazonaws.com/prefix/",
        "http://[::1]:65535",
        "http://localhost:1",
    ],
)
def test_whole_urls_pass(url: str) -> None:
    assert check_url(url, option="--endpoint-url") == url
    config = run_config_from_options(_values("--endpoint-url", url, "--endpoint", "ep", *TRITON_INPUTS))
    assert config.endpoint.endpoint_url == url


# Item 4: an exception a transport does not expect is an EndpointError named after its class.


def _raise(exc: Exception) -> Any:
    def raising(*_: Any, **__: Any) -> Any:
        raise exc

    return raising


def test_the_catch_all_names_the_exception_class() -> None:
    error = from_unexpected_error(KeyError("Body"), stage="mid_stream")
    assert isinstance(error, UnexpectedError)
    assert isinstance(error, EndpointError)
    assert (error.error_type, error.stage, error.message) == ("KeyError", "mid_stream", "'Body'")
    assert str(error) == "KeyError: 'Body'"
    already = ValidationError("no")
    assert from_unexpected_error(already) is already


@pytest.fixture
def boto3_transport() -> Iterator[Boto3Transport]:
    transport = Boto3Transport(EndpointSpec(name="ep", endpoint_url=LOOPBACK), TransportSpec())
    yield transport
    transport.close()


def test_boto3_invoke_turns_an_unexpected_exception_into_a_record(
    boto3_transport: Boto3Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(boto3_transport._client, "invoke_endpoint", _raise(KeyError("Body")))
    with pytest.raises(EndpointError) as caught:
        boto3_transport.invoke(b"{}", "application/json", "id-1")
    assert (caught.value.error_type, caught.value.stage) == ("KeyError", "request")
    assert isinstance(caught.value.__cause__, KeyError)


def test_boto3_stream_turns_an_unexpected_exception_into_a_record(
    boto3_transport: Boto3Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        boto3_transport._client, "invoke_endpoint_with_response_stream", _raise(RuntimeError("surprise"))
    )
    with pytest.raises(EndpointError) as caught:
        boto3_transport.invoke_stream(b"{}", "application/json", "id-2")
    assert (caught.value.error_type, caught.value.message) == ("RuntimeError", "surprise")


def test_an_unexpected_exception_inside_a_stream_keeps_its_stage() -> None:
    class Stream:
        def __init__(self, fail_after: int) -> None:
            self.fail_after = fail_after

        @property
        def _event_generator(self) -> Iterator[Any]:
            for _ in range(self.fail_after):
                yield _Message()
            raise ZeroDivisionError("in the parser")

    class _Message:
        headers = {":message-type": "event", ":event-type": "PayloadPart"}
        payload = b"part"

    with pytest.raises(EndpointError) as caught:
        list(payload_parts(Stream(0)))
    assert (caught.value.error_type, caught.value.stage) == ("ZeroDivisionError", "first_part")
    parts = payload_parts(Stream(2))
    assert [next(parts), next(parts)] == [b"part", b"part"]
    with pytest.raises(EndpointError) as caught:
        next(parts)
    assert (caught.value.error_type, caught.value.stage) == ("ZeroDivisionError", "mid_stream")


def test_fast_transport_turns_an_unexpected_exception_into_a_record(monkeypatch: pytest.MonkeyPatch) -> None:
    transport = FastTransport(EndpointSpec(name="ep", endpoint_url=LOOPBACK), TransportSpec())
    try:
        monkeypatch.setattr(transport._http, "request", _raise(RuntimeError("pool broke")))
        with pytest.raises(EndpointError) as caught:
            transport.invoke(b"{}", "application/json", "id-3")
        assert (caught.value.error_type, caught.value.stage) == ("RuntimeError", "request")
        monkeypatch.setattr(transport._http, "request", _raise(KeyError("content-length")))
        with pytest.raises(EndpointError) as caught:
            transport.invoke_stream(b"{}", "application/json", "id-4")
        assert caught.value.error_type == "KeyError"
    finally:
        transport.close()


def test_container_transport_turns_an_unexpected_exception_into_a_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport = ContainerTransport(EndpointSpec(name="container", container_url=LOOPBACK), TransportSpec())
    monkeypatch.setattr(transport._pool, "request", _raise(KeyError("status")))
    with pytest.raises(EndpointError) as caught:
        transport.invoke(b"{}", "application/json", "id-5")
    assert (caught.value.error_type, caught.value.stage) == ("KeyError", "request")
    transport.close()


# Item 9: a tensor too large to send is refused from its shape, before any data is generated.


@pytest.mark.parametrize(
    ("text", "least"),
    [("INPUT0:FP32:100000,100000", "40,000,000,000 bytes"), ("INPUT0:BYTES:1,3000000", "60,000,000 bytes")],
)
@pytest.mark.parametrize("tensor_format", ["binary", "json"])
def test_huge_synthetic_tensors_are_refused_at_once(text: str, least: str, tensor_format: str) -> None:
    spec = PayloadSpec(inputs=(parse_tensor_spec(text),), tensor_format=tensor_format)
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        build_requests(spec)
    assert time.perf_counter() - started < 2.0  # one-sided: generating the data takes far longer
    message = str(caught.value)
    assert message.startswith(f"--input {text}: the request body would be at least ")
    assert "over SageMaker's real-time limit of 6,291,456 bytes" in message
    assert "\n" not in message
    if tensor_format == "binary":
        assert least in message


@pytest.mark.parametrize("datatype", DATATYPES)
@pytest.mark.parametrize("tensor_format", ["binary", "json"])
@pytest.mark.parametrize("values", ["", ":1", ":1,0"])
def test_the_size_floor_never_exceeds_the_encoded_size(
    datatype: str, tensor_format: str, values: str
) -> None:
    """The pre-check may only refuse what the real encoding would refuse too."""
    inputs = (parse_tensor_spec(f"A:{datatype}:3,5{values}"), parse_tensor_spec(f"B:{datatype}:1{values}"))
    spec = PayloadSpec(inputs=inputs, tensor_format=tensor_format)
    smallest = min(len(r.body) for r in build_requests(spec))
    assert 0 < sum(encoded_bytes_floor(t, tensor_format) for t in inputs) <= smallest


def test_a_tensor_just_under_the_limit_is_still_encoded() -> None:
    count = (MAX_REQUEST_BYTES - 4096) // 4
    (request, *_) = build_requests(PayloadSpec(inputs=(parse_tensor_spec(f"X:FP32:{count}:0.5"),)))
    assert len(request.body) <= MAX_REQUEST_BYTES


# Item 14: against the emulator, names are checked against its configuration.


def _emulated(*argv: str) -> Any:
    """The configuration of ``argv`` aimed at the emulator (``--emulator-config``: ``--endpoint`` names one
    of its endpoints; which file is read is up to ``check_emulator_targets``'s caller)."""
    values = _values(*argv, *(() if "--emulator-config" in argv else ("--emulator-config", "given.toml")))
    assert needs_emulator(values)
    return run_config_from_options(values)


DEFAULT = load_config(None)
TEST_CONFIG = load_config(TEST_EMULATOR_CONFIG)
COMPONENTS = load_config(DATA / "emulator-components.toml")


def test_the_packaged_demo_passes() -> None:
    check_targets(_emulated(), DEFAULT)
    check_targets(_emulated("--endpoint", "demo-triton", "--target-variant", "AllTraffic"), DEFAULT)
    check_emulator_targets(_emulated("--emulator-config", str(TEST_EMULATOR_CONFIG), "--endpoint", "weighted",
                                     "--target-variant", "canary", *TRITON_INPUTS), str(TEST_EMULATOR_CONFIG),
                           stream=False)  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "emulator", "kinds", "message"),
    [
        (
            ("--endpoint", "nosuch"),
            DEFAULT,
            {},
            "--endpoint nosuch: no such endpoint in the emulator configuration bench/emulator/default.toml; "
            "give --endpoint, one of: demo-triton",
        ),
        (
            ("--stream-endpoint", "nosuch"),
            DEFAULT,
            {},
            "--stream-endpoint nosuch: no such endpoint in the emulator configuration "
            "bench/emulator/default.toml; give --stream-endpoint, one of: demo-llm",
        ),
        (
            ("--target-variant", "nosuch"),
            DEFAULT,
            {},
            "--target-variant nosuch: endpoint demo-triton of the emulator has no such variant; "
            "its variants: AllTraffic",
        ),
        (
            ("--target-variant", "canary", "--endpoint", "weighted", *TRITON_INPUTS),
            TEST_CONFIG,
            {"stream": False},
            None,
        ),
        (
            (
                "--target-variant",
                "canary",
                "--endpoint",
                "weighted",
                *TRITON_INPUTS,
                "--stream-endpoint",
                "llm-tgi",
            ),
            TEST_CONFIG,
            {},
            "--target-variant canary: endpoint llm-tgi of the emulator has no such variant",
        ),
        ((), TEST_CONFIG, {}, "--stream-endpoint demo-llm (the default): no such endpoint"),
        ((), TEST_CONFIG, {"stream": False}, None),
        (
            ("--target-model", "add_sub"),
            DEFAULT,
            {},
            "--target-model add_sub: endpoint demo-triton of the emulator is not a multi-model endpoint",
        ),
        (
            ("--endpoint", "multi-model", *TRITON_INPUTS),
            TEST_CONFIG,
            {"stream": False},
            "no --target-model given; endpoint multi-model of the emulator is a multi-model endpoint with "
            "models: model-a.tar.gz, model-b.tar.gz",
        ),
        (
            ("--endpoint", "multi-model", "--target-model", "model-c.tar.gz", *TRITON_INPUTS),
            TEST_CONFIG,
            {"stream": False},
            "--target-model model-c.tar.gz: no such model",
        ),
        (
            ("--endpoint", "multi-model", "--target-model", "model-b.tar.gz", *TRITON_INPUTS),
            TEST_CONFIG,
            {"stream": False},
            None,
        ),
        (
            ("--inference-component", "ic-a"),
            DEFAULT,
            {},
            "--inference-component ic-a: not a component of endpoint demo-triton; it has no inference components",
        ),
        (
            ("--endpoint", "ic-mme", "--target-model", "model-a.tar.gz", *TRITON_INPUTS),
            COMPONENTS,
            {"stream": False},
            "endpoint ic-mme of the emulator has inference components: give --inference-component, one of ic-a",
        ),
        (
            (
                "--endpoint",
                "ic-mme",
                "--target-model",
                "model-a.tar.gz",
                "--inference-component",
                "ic-b",
                *TRITON_INPUTS,
            ),
            COMPONENTS,
            {"stream": False},
            "--inference-component ic-b: not a component of endpoint ic-mme; its components: ic-a",
        ),
        (
            ("--endpoint", "demo-llm", *TRITON_INPUTS),
            DEFAULT,
            {},
            "--endpoint demo-llm: an LLM endpoint of the emulator, and tensor users (TritonUser) need "
            "a Triton endpoint; give --endpoint, one of: demo-triton",
        ),
        (("--endpoint", "demo-llm", *TRITON_INPUTS), DEFAULT, {"invoke": False}, None),
        (
            ("--stream-endpoint", "demo-triton"),
            DEFAULT,
            {"invoke": False},
            "--stream-endpoint demo-triton: a Triton endpoint of the emulator, and streaming users "
            "(LLMStreamUser) need an LLM endpoint; give --stream-endpoint, one of: demo-llm",
        ),
    ],
)
def test_names_are_checked_against_the_emulator(
    argv: tuple[str, ...], emulator: Any, kinds: dict[str, bool], message: str | None
) -> None:
    config = _emulated(*argv)
    if message is None:
        check_targets(config, emulator, **kinds)
        return
    with pytest.raises(ConfigError) as caught:
        check_targets(config, emulator, **kinds)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_check_reads_the_emulator_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such endpoint in the emulator configuration .*emulator\.toml"):
        check_emulator_targets(_emulated("--endpoint", "nosuch"), str(TEST_EMULATOR_CONFIG))
    with pytest.raises(ConfigError, match="cannot read emulator config"):
        check_emulator_targets(_emulated(), str(tmp_path / "missing.toml"))


# Item 16: negative durations and percentages say so, also as separate arguments.


def test_negative_durations_and_percentages_say_so() -> None:
    with pytest.raises(ConfigError, match=r"^--warmup: duration '-5s' must not be negative; write e\.g\. 0s"):
        parse_duration("-5s", option="--warmup")
    with pytest.raises(ConfigError, match=r"^--max-regression: '-5%' must not be negative"):
        parse_percentage("-5%", "--max-regression")
    assert parse_duration("0s", option="--warmup") == 0.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--warmup", "-5s"), "--warmup: duration '-5s' must not be negative"),
        (("--warmup=-5s",), "--warmup: duration '-5s' must not be negative"),
        (
            ("--step-duration", "-1.5m", "--steps", "1,2"),
            "--step-duration: duration '-1.5m' must not be negative",
        ),
        (("--drain", "-500ms"), "--drain: duration '-500ms' must not be negative"),
        (("--steps", "1,2", "--headroom", "-5%"), "--headroom: '-5%' must not be negative"),
    ],
)
def test_negative_values_as_separate_arguments_reach_the_check(argv: tuple[str, ...], message: str) -> None:
    assert _refused(*argv).startswith(message)


def test_locusts_own_parser_takes_negative_values_too() -> None:
    parser = get_empty_argument_parser()
    setup_parser_arguments(parser)
    add_options(parser, locust=True)
    options = parser.parse_args(["--headless", "-u", "1", "--warmup", "-5s", "--headroom", "-5%"])
    assert (options.warmup, options.headroom, options.num_users) == ("-5s", "-5%", 1)
    with pytest.raises(SystemExit):  # an unknown option is still an option
        parser.parse_args(["--warmup", "-x"])


def test_bench_subcommands_say_must_not_be_negative(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["invoke", "--warmup", "-5s"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == "bench invoke: error: --warmup: duration '-5s' must not be negative; write e.g. 0s, 500ms, 30s\n"
    )


# Item 24: contradictions are refused with one line.


@pytest.mark.parametrize(
    ("argv", "keywords", "message"),
    [
        (
            ("--prompt", "hi", "--llm-payload", "bodies.jsonl"),
            {},
            "--prompt and --llm-payload both give the streaming user's request bodies; give one of them",
        ),
        (
            ("--gate-abort",),
            {},
            "--gate-abort stops the run when a gate can no longer pass, but no --gate is given; "
            "add --gate EXPR or leave out --gate-abort",
        ),
        (
            ("--steps", ""),
            {},
            "--steps is empty; give users per step, e.g. --steps 1,2,4,8,16, or --steps auto",
        ),
        (("--steps", "  "), {}, "--steps is empty"),
        (
            ("--container-url", "http://127.0.0.1:8080", "--endpoint", "ep", *TRITON_INPUTS),
            {},
            "--container-url talks to one container directly and --endpoint names a SageMaker endpoint; give one",
        ),
        (
            ("--container-url", "http://127.0.0.1:8080", "--emulator-config", "e.toml", *TRITON_INPUTS),
            {},
            "--emulator-config configures the built-in emulator, which is not started with --container-url",
        ),
        (
            ("--warmup", "30s"),
            {"run_time_s": 30},
            "--warmup 30s leaves nothing to measure in a run of 30s (-t); make it shorter than the run time",
        ),
        (
            ("--warmup", "1m", "--steps", "1,2", "--step-duration", "30s"),
            {},
            "--warmup 60s leaves nothing to measure in a stepped run of 60s (2 steps of 30s); make it shorter",
        ),
        (
            ("--steps", "1,2"),
            {"users_given": True},
            "--steps sets the users of each step; leave out -u/--users",
        ),
        (
            ("--steps", "auto"),
            {"run_time_s": 60},
            "--steps sets how long the run lasts (the steps times --step-duration); leave out -t/--run-time",
        ),
        (("--gate", "error_rate<150%"), {}, "--gate 'error_rate<150%': can never fail"),
        (("--gate", "p95(latency)<-5ms"), {}, "--gate 'p95(latency)<-5ms': can never pass"),
        (("--gate", "count>=0"), {}, "--gate 'count>=0': can never fail"),
        (("--steps", "1,2", "--slo", "error_rate>=0"), {}, "--slo 'error_rate>=0': can never fail"),
    ],
)
def test_contradictions_are_refused(argv: tuple[str, ...], keywords: dict[str, Any], message: str) -> None:
    assert _refused(*argv, **keywords).startswith(message)


def test_what_does_not_contradict_passes() -> None:
    config = run_config_from_options(
        _values("--warmup", "5s", "--gate", "error_rate<1%", "--gate-abort"), run_time_s=30
    )
    assert (config.warmup_s, config.gate_abort) == (5.0, True)
    assert run_config_from_options(_values("--steps", "1,2"), users_given=False, run_time_s=None).capacity
    assert run_config_from_options(_values("--prompt", "a", "--prompt", "b")).stream is not None


# Item 25: a streaming-only run at an endpoint URL needs only --stream-endpoint.


def test_a_streaming_only_run_at_an_endpoint_url() -> None:
    values = _values("--endpoint-url", "http://127.0.0.1:8080", "--stream-endpoint", "my-llm")
    assert not needs_emulator(values)
    config = run_config_from_options(values)
    assert config.stream is not None
    assert (config.stream.endpoint.name, config.stream.endpoint.endpoint_url) == (
        "my-llm",
        "http://127.0.0.1:8080",
    )
    assert (config.endpoint.name, config.run_name, config.endpoint.emulated) == ("my-llm", "my-llm", False)
    assert _refused("--endpoint-url", "http://127.0.0.1:8080").startswith(
        "--endpoint-url needs --endpoint NAME"
    )
