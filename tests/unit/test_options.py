"""Option strings -> frozen config, and their one-line errors."""

from __future__ import annotations

import argparse

import pytest

from bench.config import DATATYPES, parse_duration, parse_output_spec, parse_tensor_spec
from bench.errors import ConfigError
from bench.options import DEMO_INPUTS, add_options, needs_emulator, option_values, run_config_from_options


@pytest.mark.parametrize("datatype", DATATYPES)
def test_every_datatype_parses(datatype: str) -> None:
    spec = parse_tensor_spec(f"INPUT0:{datatype}:1,3x4")
    assert (spec.name, spec.datatype, spec.shape) == ("INPUT0", datatype, (1, 3, 4))


def test_values_keep_colons_of_uris() -> None:
    spec = parse_tensor_spec("IMAGE_PATH:BYTES:2:s3://bucket/a.jpg,s3://bucket/b.jpg")
    assert spec.values == ("s3://bucket/a.jpg", "s3://bucket/b.jpg")


def test_values_from_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "uris.txt"
    path.write_text("s3://b/1.jpg\n\ns3://b/2.jpg\n")
    assert parse_tensor_spec(f"P:BYTES:2:@{path}").values == ("s3://b/1.jpg", "s3://b/2.jpg")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("INPUT0:FLOAT99:1", "unknown datatype 'FLOAT99'"),
        ("INPUT0:FP32:1,a", "malformed shape '1,a'"),
        ("INPUT0:FP32:", "malformed shape"),
        ("INPUT0:FP32", "expected NAME:DTYPE:SHAPE"),
        (":FP32:1", "expected NAME:DTYPE:SHAPE"),
        ("IN PUT:FP32:1", "malformed input name"),
        ("X:INT8:2:1.5", "not an integer"),
        ("X:BOOL:2:maybe", "BOOL value"),
        ("X:BYTES:2:@/nonexistent/file", "cannot read values file"),
    ],
)
def test_bad_tensor_specs_give_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_tensor_spec(text)
    assert "\n" not in str(caught.value)


def test_output_spec_and_duration() -> None:
    assert parse_output_spec("OUT:fp32:-1,16").shape == (-1, 16)
    assert parse_output_spec("OUT").datatype is None
    assert parse_duration("250ms", option="x") == 0.25
    assert parse_duration("2m", option="x") == 120.0
    with pytest.raises(ConfigError, match="malformed duration"):
        parse_duration("soon", option="--warmup")


def _values(*argv: str) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    add_options(parser, locust=False, environ={})
    return option_values(parser.parse_args(list(argv)))


def test_emulated_default_targets_the_demo_endpoint() -> None:
    values = _values()
    assert needs_emulator(values)
    config = run_config_from_options(values, emulator_url="http://127.0.0.1:9999")
    assert config.endpoint.name == "demo-triton"
    assert config.endpoint.emulated
    assert [f"{t.name}:{t.datatype}:{t.shape[0]},{t.shape[1]}" for t in config.payload.inputs] == list(
        DEMO_INPUTS
    )
    assert config.drain_s == 30.0  # the read timeout (60 s), capped at 30 s
    assert config.run_name == "demo-triton"


def test_real_endpoint_options() -> None:
    values = _values(
        "--endpoint",
        "my-ep",
        "--region",
        "eu-west-1",
        "--target-variant",
        "canary",
        "--input",
        "A:FP32:1,4",
        "--tensor-format",
        "json",
        "--read-timeout",
        "2s",
    )
    config = run_config_from_options(values)
    assert not needs_emulator(values)
    assert (config.endpoint.name, config.endpoint.region, config.endpoint.target_variant) == (
        "my-ep",
        "eu-west-1",
        "canary",
    )
    assert config.payload.tensor_format == "json"
    assert config.transport.read_timeout_s == 2.0


def test_environment_variables_are_defaults() -> None:
    parser = argparse.ArgumentParser()
    add_options(
        parser, locust=False, environ={"BENCH_ENDPOINT": "from-env", "BENCH_INPUT": "[A:FP32:1, B:INT8:2]"}
    )
    values = option_values(parser.parse_args([]))
    assert values["endpoint"] == "from-env"
    assert values["input"] == ["A:FP32:1", "B:INT8:2"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--endpoint-url", "http://127.0.0.1:1"], "--endpoint-url needs --endpoint"),
        (
            ["--endpoint", "x", "--input", "A:FP32:1", "--tensor-format", "xml"],
            "--tensor-format: 'xml' is not one of binary, json",
        ),
        (["--endpoint", "x", "--input", "A:FP32:1", "--transport", "carrier-pigeon"], "--transport"),
        (["--endpoint", "x", "--input", "A:FP32:1", "--read-timeout", "0s"], "greater than zero"),
        (["--endpoint", "bad_name!", "--input", "A:FP32:1"], "letters, digits and hyphens"),
        (["--container-url", "localhost:8080", "--input", "A:FP32:1"], "expected http://HOST"),
        (["--endpoint", "x", "--input", "A:FP32:1", "--input", "A:FP32:2"], "more than once"),
        (["--endpoint", "x", "--input", "A:FP32:1", "--seed", "-3"], "--seed"),
    ],
)
def test_bad_option_values(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run_config_from_options(_values(*argv))


def test_readme_documents_every_option() -> None:
    from pathlib import Path

    from bench.options import OPTIONS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [o.flags[0] for o in OPTIONS if f"`{o.flags[0]}" not in readme or o.env_var not in readme]
    assert missing == []


def test_stream_options() -> None:
    config = run_config_from_options(
        _values("--prompt", "a", "--prompt", "b", "--stream-format", "openai", "--max-tokens", "16"),
        emulator_url="http://127.0.0.1:1",
    )
    assert config.stream is not None
    assert (config.stream.endpoint.name, config.stream.prompts, config.stream.max_tokens) == (
        "demo-llm",
        ("a", "b"),
        16,
    )
    assert config.stream.endpoint.endpoint_url == "http://127.0.0.1:1"
    real = run_config_from_options(
        _values("--endpoint", "my-llm", "--input", "A:FP32:1", "--target-model", "m")
    )
    assert real.stream is not None
    assert (real.stream.endpoint.name, real.stream.endpoint.target_model) == ("my-llm", None)
    with pytest.raises(ConfigError, match="--stream-format: 'grpc'"):
        run_config_from_options(_values("--stream-format", "grpc"))
    with pytest.raises(ConfigError, match="--max-tokens"):
        run_config_from_options(_values("--max-tokens", "0"))


def test_open_loop_options() -> None:
    from bench.config import ArrivalSpec

    config = run_config_from_options({"arrival_rate": "250", "arrival": "constant", "seed": "7"})
    assert config.arrival == ArrivalSpec(rate_per_s=250.0, distribution="constant", seed=7)
    assert config.capacity is None
    assert run_config_from_options({}).arrival is None  # closed loop by default
    assert run_config_from_options({"arrival_rate": "0.5"}).arrival == ArrivalSpec(0.5, "poisson", 0)


def test_rate_steps() -> None:
    config = run_config_from_options({"rates": "100, 200,400", "step_duration": "10s"})
    assert config.capacity is not None
    assert config.arrival is not None
    assert (config.capacity.rates, config.capacity.steps, config.capacity.auto) == (
        (100.0, 200.0, 400.0),
        (),
        False,
    )
    assert config.capacity.by_rate
    assert config.capacity.planned_steps == 3
    assert config.arrival.rate_per_s == 100.0  # the first step's
    auto = run_config_from_options({"rates": "auto:640"}).capacity
    assert auto is not None
    assert auto.auto
    assert auto.rates == (10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0)  # doubling from MAX/64 to MAX
    default = run_config_from_options({"rates": "auto"}).capacity
    assert default is not None
    assert (default.rates[0], default.rates[-1]) == (16.0, 1024.0)
    # -u is allowed (users available to send); -t is not: the steps set the duration.
    assert run_config_from_options({"rates": "100"}, users_given=True).capacity is not None


@pytest.mark.parametrize(
    ("values", "run_time_s", "message"),
    [
        (
            {"arrival_rate": "fast"},
            None,
            "--arrival-rate 'fast': give requests per second as a positive number",
        ),
        ({"arrival_rate": "-5"}, None, "--arrival-rate '-5'"),
        ({"arrival_rate": "inf"}, None, "--arrival-rate 'inf'"),
        ({"arrival_rate": "nan"}, None, "--arrival-rate 'nan'"),
        (
            {"arrival_rate": "5", "arrival": "bursty"},
            None,
            "--arrival: 'bursty' is not one of poisson, constant",
        ),
        ({"arrival_rate": "5", "rates": "10"}, None, "--arrival-rate and --rates both set the load"),
        ({"arrival_rate": "5", "steps": "1,2"}, None, "--arrival-rate and --steps both set the load"),
        ({"rates": "10", "steps": "1,2"}, None, "--steps (users per step, closed loop) and --rates"),
        ({"rates": "10,x"}, None, "--rates '10,x': give requests per second per step"),
        ({"rates": "10,0"}, None, "--rates '10,0'"),
        ({"rates": "auto:fast"}, None, "--rates 'auto:fast': write auto or auto:MAX_RATE"),
        ({"rates": " "}, None, "--rates is empty"),
        ({"rates": "10,20"}, 30.0, "--rates sets how long the run lasts"),
        ({"slo": ["p95(latency)<20ms"]}, None, "add --rates (open loop"),
    ],
)
def test_bad_open_loop_options(values: dict[str, object], run_time_s: float | None, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        run_config_from_options(values, run_time_s=run_time_s)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
