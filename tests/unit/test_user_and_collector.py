"""The tensor user with the fake transport inside a real Locust Environment, and the CSV collector."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
from locust.env import Environment

from bench.collect import COLUMNS, CsvRecordWriter, RequestCollector
from bench.config import EndpointSpec, OutputSpec, PayloadSpec, RunConfig, parse_tensor_spec
from bench.errors import ModelError, Throttling
from bench.payload.pool import build_requests
from bench.payload.triton_wire import (
    WireTensor,
    decode_infer_request,
    encode_infer_response,
    json_header_size,
)
from bench.transport.base import InvokeResponse
from bench.transport.fake import FakeTransport
from bench.users import SageMakerTritonUser, TensorWorkload, attach_workload


class _User(SageMakerTritonUser):
    pass


def _echo(body: bytes, content_type: str, inference_id: str) -> InvokeResponse:
    request = decode_infer_request(body, json_header_size(content_type, len(body)))
    outputs = [(WireTensor("OUTPUT0", t.datatype, t.shape, t.array), True) for t in request.inputs[:1]]
    payload, response_type = encode_infer_response(model_name="m", model_version="1", outputs=outputs)
    return InvokeResponse(body=payload, content_type=response_type, variant="AllTraffic")


def _run(
    tmp_path: Path, transport: FakeTransport, outputs: tuple[OutputSpec, ...] = (), count: int = 6
) -> list[dict[str, str]]:
    config = RunConfig(
        endpoint=EndpointSpec(name="ep", target_model="m.tar.gz"),
        payload=PayloadSpec(
            inputs=(parse_tensor_spec("INPUT0:FP32:1,4"),), outputs=outputs, synthetic_variants=3
        ),
    )
    environment = Environment(user_classes=[_User])
    attach_workload(environment, TensorWorkload(config, build_requests(config.payload), transport))
    collector = RequestCollector(CsvRecordWriter(tmp_path / "requests.csv"), users=lambda: 1, clock=time.time)
    environment.events.request.add_listener(collector.on_request)
    user = _User(environment)
    user.on_start()
    for _ in range(count):
        user.send_invoke()
    collector.close()
    with (tmp_path / "requests.csv").open() as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def test_successful_requests_become_ok_records(tmp_path: Path) -> None:
    transport = FakeTransport(_echo)
    rows = _run(tmp_path, transport, outputs=(OutputSpec("OUTPUT0", "FP32", (1, 4)),))
    assert len(rows) == len(transport.calls) == 6
    assert {r["status"] for r in rows} == {"ok"}
    row = rows[0]
    assert (row["request_type"], row["name"], row["endpoint"], row["target_model"]) == (
        "invoke",
        "ep/m.tar.gz",
        "ep",
        "m.tar.gz",
    )
    assert row["variant"] == "AllTraffic"
    assert row["user_class"] == "_User"
    assert int(row["request_bytes"]) == len(transport.calls[0].body)
    assert float(row["latency_ms"]) >= 0
    assert len({r["inference_id"] for r in rows}) == 6
    assert {c.inference_id for c in transport.calls} == {r["inference_id"] for r in rows}
    assert len({c.body for c in transport.calls}) == 3  # the pool of distinct bodies is cycled


def test_errors_are_records_with_class_and_stage(tmp_path: Path) -> None:
    script = [
        ModelError("container said no", original_status=400, original_message='{"error":"no"}'),
        Throttling("Rate exceeded", http_status=400),
    ]
    rows = _run(tmp_path, FakeTransport(script), count=4)
    assert [r["error_type"] for r in rows] == ["ModelError", "Throttling", "ModelError", "Throttling"]
    assert {r["error_stage"] for r in rows} == {"request"}
    assert [r["http_status"] for r in rows[:2]] == ["424", "400"]
    assert {r["status"] for r in rows} == {"error"}


def test_undecodable_or_unexpected_output_is_a_decode_error(tmp_path: Path) -> None:
    garbage = FakeTransport([InvokeResponse(body=b"<html>", content_type="text/html", variant="v")])
    rows = _run(tmp_path, garbage, count=2)
    assert {(r["error_type"], r["error_stage"]) for r in rows} == {("Decode", "decode")}
    assert rows[0]["response_bytes"] == "6"
    wrong = _run(tmp_path, FakeTransport(_echo), outputs=(OutputSpec("OUTPUT0", "INT8"),), count=1)
    assert wrong[0]["error_type"] == "Decode"


def test_writer_flushes_rows_while_open(tmp_path: Path) -> None:
    writer = CsvRecordWriter(tmp_path / "r.csv", flush_interval_s=0.0)
    collector = RequestCollector(writer, worker="w1", users=lambda: 3, clock=time.time)
    collector.on_request(
        "invoke", "n", 12.5, 10, None, {"endpoint": "e"}, start_time=100.0, extra_field="ignored"
    )
    lines = (tmp_path / "r.csv").read_text().splitlines()  # visible before close
    assert len(lines) == 2
    row = dict(zip(COLUMNS, lines[1].split(","), strict=True))
    assert (row["timestamp_s"], row["worker"], row["users"], row["latency_ms"]) == (
        "100.000000",
        "w1",
        "3",
        "12.500",
    )
    collector.on_request("invoke", "n", 1.0, 0, ValueError("odd"), None)
    assert collector.error_sample_list() == [
        {"error_type": "ValueError", "error_stage": "request", "message": "odd"}
    ]
    collector.close()
    assert np.isclose(len((tmp_path / "r.csv").read_text().splitlines()), 3)
