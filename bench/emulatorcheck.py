"""What a run aims at on the built-in emulator, checked against the emulator's configuration.

Against the emulator every routing value is known before it starts: its TOML file
(``--emulator-config``, or the packaged demo) lists the endpoints, their kinds, variants, models and
inference components. A name it does not have would make every request a ValidationError, so the
run is refused instead, before any load, with one line that lists what exists.

``check_targets`` is pure (a ``RunConfig`` against an ``EmulatorConfig``); ``check_emulator_targets``
reads the configuration file first. ``invoke`` and ``stream`` say which kinds of users take part:
only their endpoints are checked (a tensor-only run needs no LLM endpoint, and so on).
"""

from __future__ import annotations

from pathlib import Path

from bench.config import DEMO_LLM_ENDPOINT, DEMO_TRITON_ENDPOINT, EndpointSpec, RunConfig
from bench.emulator.config import EmulatorConfig, EndpointConfig, load_config
from bench.errors import ConfigError


def check_emulator_targets(
    config: RunConfig, config_file: str | Path | None, *, invoke: bool = True, stream: bool = True
) -> None:
    """``check_targets`` against the emulator configuration in ``config_file`` (None: the packaged demo)."""
    check_targets(
        config, load_config(Path(config_file) if config_file else None), invoke=invoke, stream=stream
    )


def check_targets(
    config: RunConfig, emulator: EmulatorConfig, *, invoke: bool = True, stream: bool = True
) -> None:
    """ConfigError when an endpoint, variant, model or inference component of the run is not in ``emulator``."""
    if invoke:
        found = _endpoint(
            config.endpoint.name, emulator, "triton", option="--endpoint", default=DEMO_TRITON_ENDPOINT
        )
        _routing(config.endpoint, found)
        _target_model(config.endpoint, found)
    if stream and config.stream is not None:
        target = config.stream.endpoint
        found = _endpoint(target.name, emulator, "llm", option="--stream-endpoint", default=DEMO_LLM_ENDPOINT)
        _routing(target, found)


# What each kind of user needs: tensor users a Triton endpoint, streaming users an LLM (the only kind that streams).
_USERS = {"triton": "tensor users (TritonUser)", "llm": "streaming users (LLMStreamUser)"}
_KINDS = {"triton": "a Triton endpoint", "llm": "an LLM endpoint"}


def _endpoint(name: str, emulator: EmulatorConfig, kind: str, *, option: str, default: str) -> EndpointConfig:
    usable = [e.name for e in emulator.endpoints if e.kind == kind]
    fix = (
        f"give {option}, one of: {', '.join(usable)}"
        if usable
        else f"none of its endpoints serves {_USERS[kind]}"
    )
    for endpoint in emulator.endpoints:
        if endpoint.name == name:
            if endpoint.kind != kind:
                raise ConfigError(
                    f"{option} {name}: {_KINDS.get(endpoint.kind, endpoint.kind)} of the emulator, and "
                    f"{_USERS[kind]} need {_KINDS[kind]}; {fix}"
                )
            return endpoint
    what = f"{option} {name}{' (the default)' if name == default else ''}"
    raise ConfigError(f"{what}: no such endpoint in the emulator configuration {emulator.source}; {fix}")


def _routing(target: EndpointSpec, found: EndpointConfig) -> None:
    variants = [v.name for v in found.variants]
    if target.target_variant is not None and target.target_variant not in variants:
        raise ConfigError(
            f"--target-variant {target.target_variant}: endpoint {found.name} of the emulator has no such "
            f"variant; its variants: {', '.join(variants)}"
        )
    components = found.inference_components
    component = target.inference_component
    if component is None and components:
        raise ConfigError(
            f"endpoint {found.name} of the emulator has inference components: give --inference-component, "
            f"one of {', '.join(components)}"
        )
    if component is not None and component not in components:
        has = f"its components: {', '.join(components)}" if components else "it has no inference components"
        raise ConfigError(
            f"--inference-component {component}: not a component of endpoint {found.name}; {has}"
        )


def _target_model(target: EndpointSpec, found: EndpointConfig) -> None:
    models = [m.name for m in found.models]
    if len(models) <= 1:
        if target.target_model is not None:
            raise ConfigError(
                f"--target-model {target.target_model}: endpoint {found.name} of the emulator is not a "
                "multi-model endpoint; leave out --target-model"
            )
        return
    if target.target_model not in models:
        given = (
            f"--target-model {target.target_model}: no such model"
            if target.target_model
            else "no --target-model given"
        )
        raise ConfigError(
            f"{given}; endpoint {found.name} of the emulator is a multi-model endpoint with models: {', '.join(models)}"
        )
