"""The emulator's configuration: the shipped default and the test files parse and render back; bad keys
are one-line errors that name the file and the key."""

from __future__ import annotations

import dataclasses

import pytest
from support import DATA

from bench.emulator.config import EmulatorConfig, load_config, load_config_text
from bench.emulator.render import render_toml
from bench.errors import ConfigError


def _round_trip(config: EmulatorConfig) -> None:
    again = load_config_text(render_toml(config), "rendered")
    assert dataclasses.replace(again, source=config.source) == config


def test_default_config_and_render_round_trip() -> None:
    default = load_config()
    assert default.endpoint_names == ["demo-triton", "demo-llm"]
    demo = default.endpoints[0]
    assert (demo.capacity.slots, demo.capacity.queue_limit, demo.capacity.service_time.p99_ms) == (
        4,
        256,
        12.0,
    )
    _round_trip(default)


@pytest.mark.parametrize("name", ["emulator.toml", "emulator-wire.toml", "emulator-stream.toml"])
def test_every_test_configuration_renders_back_to_itself(name: str) -> None:
    _round_trip(load_config(DATA / name))


def test_the_component_endpoints_extend_the_test_configuration() -> None:
    """tests/integration/test_fast_transport.py appends emulator-components.toml to emulator.toml."""
    text = (DATA / "emulator.toml").read_text() + (DATA / "emulator-components.toml").read_text()
    config = load_config_text(text, "combined")
    assert config.endpoint_names[-2:] == ["ic-mme", "llm-ic"]
    _round_trip(config)


def test_the_stream_configuration_has_what_its_tests_expect() -> None:
    config = load_config(DATA / "emulator-stream.toml")
    llm = {e.name: e.llm for e in config.endpoints}["llm-openai"]
    assert llm is not None
    assert (llm.format, llm.first_chunk, llm.output_tokens.count) == ("openai", "role", 12)


def test_a_bad_file_is_named_in_its_error() -> None:
    path = DATA / "emulator-bad-kind.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: endpoint[x].kind: unknown kind 'teapot'")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("endpoint = [", "cfg.toml: not valid TOML"),
        ('[[endpoint]]\nname = "a"\ncolour = 1', "cfg.toml: endpoint[a].colour: unknown key"),
        ('[[endpoint]]\nname = "a"\nkind = "teapot"', "cfg.toml: endpoint[a].kind: unknown kind 'teapot'"),
        ('[[endpoint]]\nname = "a_b"', "cfg.toml: endpoint[0].name:"),
        (
            '[[endpoint]]\nname = "a"\n[[endpoint.variant]]\nname = "v"\nweight = 0',
            "endpoint[a].variant[0].weight:",
        ),
        ('[[endpoint]]\nname = "a"\n[endpoint.faults]\nModelError = 1.5', "endpoint[a].faults.ModelError:"),
        (
            '[[endpoint]]\nname = "a"\n[[endpoint.model]]\nname = "m"\ntype = "resnet"',
            "endpoint[a].model[m].type:",
        ),
        (
            '[[endpoint]]\nname = "a"\n[[endpoint.model]]\nname = "m"\ntype = "identity"\n'
            'input = [{ name = "I", datatype = "FP32", dims = [0] }]\noutput = []',
            "endpoint[a].model[m].input[0].dims:",
        ),
    ],
)
def test_config_errors_name_file_and_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "cfg.toml")
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('kind = "llm"\n[endpoint.llm]\nformat = "xml"', "endpoint[a].llm.format: unknown 'xml'"),
        ('kind = "llm"\n[endpoint.llm]\nitl_growth = -1', "endpoint[a].llm.itl_growth: must be >= 0"),
        (
            'kind = "llm"\n[endpoint.llm]\nttft = { distribution = "fixed", ms = -1 }',
            "endpoint[a].llm.ttft.ms:",
        ),
        (
            'kind = "llm"\n[endpoint.llm]\noutput_tokens = { distribution = "fixed", count = 0 }',
            "endpoint[a].llm.output_tokens.count: must be >= 1",
        ),
        ('kind = "llm"\n[endpoint.llm]\nfirst_chunk = "all"', "endpoint[a].llm.first_chunk: unknown 'all'"),
        ('kind = "llm"\n[endpoint.llm]\nsplit_probability = 2.0', "endpoint[a].llm.split_probability:"),
        ('kind = "llm"\n[endpoint.llm]\ncolour = 1', "endpoint[a].llm.colour: unknown key"),
        (
            'kind = "llm"\n[endpoint.stream_faults]\nStreamBroken = 0.6\nDropConnection = 0.6',
            "endpoint[a].stream_faults.DropConnection: stream fault probabilities add up to more than 1",
        ),
        (
            'kind = "llm"\n[endpoint.stream_faults]\nafter_parts = -1',
            "endpoint[a].stream_faults.after_parts:",
        ),
        (
            'kind = "llm"\n[endpoint.capacity]\nservice_time = { ms = 1 }',
            "endpoint[a].capacity.service_time: not used by kind llm",
        ),
        ('kind = "llm"\n[[endpoint.model]]\nname = "m"', "endpoint[a].model: unknown key"),
        ('kind = "triton"\n[endpoint.llm]\nformat = "tgi"', "endpoint[a].llm: unknown key"),
    ],
)
def test_llm_config_errors_name_file_and_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(f'[[endpoint]]\nname = "a"\n{text}', "cfg.toml")
    message = str(info.value)
    assert message.startswith("cfg.toml: ")
    assert expected in message
    assert "\n" not in message
