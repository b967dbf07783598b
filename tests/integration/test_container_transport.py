"""--container-url: the SageMaker container contract spoken directly, against the emulator's container mode."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from support import TEST_EMULATOR_CONFIG, free_port

from bench import errors
from bench.config import EndpointSpec, PayloadSpec, TransportSpec, parse_tensor_spec
from bench.emulator.process import EmulatorProcess, start_emulator
from bench.payload.pool import build_requests, build_tensor_sets
from bench.payload.triton import decode_response
from bench.transport import make_transport
from bench.transport.container import ContainerTransport

ADD_SUB = PayloadSpec(
    inputs=(parse_tensor_spec("INPUT0:FP32:1,16"), parse_tensor_spec("INPUT1:FP32:1,16")),
    synthetic_variants=1,
)


@pytest.fixture(scope="module")
def container() -> Iterator[EmulatorProcess]:
    with start_emulator(TEST_EMULATOR_CONFIG, container="demo-triton") as process:
        yield process


def _transport(url: str) -> ContainerTransport:
    transport = make_transport(
        EndpointSpec(name="container", container_url=url, custom_attributes="trace=1"), TransportSpec()
    )
    assert isinstance(transport, ContainerTransport)
    return transport


def test_container_answers_invocations(container: EmulatorProcess) -> None:
    a, b = (t.array for t in build_tensor_sets(ADD_SUB)[0])
    request = build_requests(ADD_SUB)[0]
    response = _transport(container.url).invoke(request.body, request.content_type, "id-1")
    assert response.http_status == 200
    assert response.variant is None
    outputs = {o.name: o.array for o in decode_response(response.body, response.content_type)}
    assert np.allclose(outputs["OUTPUT0"], a + b)


def test_container_error_status_becomes_a_model_error(container: EmulatorProcess) -> None:
    bad = PayloadSpec(inputs=(parse_tensor_spec("INPUT0:FP64:1,16"), parse_tensor_spec("INPUT1:FP32:1,16")))
    request = build_requests(bad)[0]
    with pytest.raises(errors.ModelError) as caught:
        _transport(container.url).invoke(request.body, request.content_type, "id-2")
    assert caught.value.original_status == 400
    assert caught.value.http_status == 424
    triton_message = json.loads(caught.value.original_message or "{}")["error"]
    assert (
        "inference input 'INPUT0' data-type is 'FP64', but model 'add_sub' expects 'FP32'" in triton_message
    )
    assert caught.value.message.startswith("Received client error (400) from primary with message")


def test_ping_is_checked_before_the_run() -> None:
    with pytest.raises(errors.ConfigError, match="/ping failed"):
        _transport(f"http://127.0.0.1:{free_port()}")


def test_emulator_without_container_mode_has_no_invocations_route(emulator: EmulatorProcess) -> None:
    request = build_requests(ADD_SUB)[0]
    with pytest.raises(errors.ModelError) as caught:
        _transport(emulator.url).invoke(request.body, request.content_type, "id-3")
    assert caught.value.original_status in (404, 405)
