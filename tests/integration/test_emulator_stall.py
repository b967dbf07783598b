"""The emulator's stall, ``POST /_emulator/stall?endpoint=NAME&seconds=S``, as unmodified boto3 sees it.

A stall holds every slot of every variant of the endpoint for S seconds from the call: requests that
arrive meanwhile queue (they are throttled only past ``queue_limit``) and are served when it ends, in
order. One emulator child process on port 0 serves the module, with the endpoints written below.
Stalls are short (0.4 s) and every bound is one-sided where timer lateness could only add time; the
upper bounds leave a second of slack for a busy machine.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from clients import runtime_client

from bench.emulator.process import EmulatorProcess, start_emulator

STALL_S = 0.4
SERVICE_S = 0.01  # every Triton endpoint below: fixed 10 ms
SLACK_S = 1.0  # upper bounds only: a busy machine's scheduling, never a reason to pass
MODEL = """
[[endpoint.model]]
name = "add_sub"
type = "add_sub"
max_batch_size = 8
input = [ { name = "INPUT0", datatype = "FP32", dims = [4] }, { name = "INPUT1", datatype = "FP32", dims = [4] } ]
output = [ { name = "OUTPUT0", datatype = "FP32", dims = [4] }, { name = "OUTPUT1", datatype = "FP32", dims = [4] } ]
"""
CONFIG = f"""
[[endpoint]]
name = "one"
[endpoint.capacity]
slots = 1
queue_limit = 64
service_time = {{ distribution = "fixed", ms = 10.0 }}
{MODEL}
[[endpoint]]
name = "narrow"
[endpoint.capacity]
slots = 1
queue_limit = 2
service_time = {{ distribution = "fixed", ms = 10.0 }}
{MODEL}
[[endpoint]]
name = "two-variants"
[[endpoint.variant]]
name = "blue"
[[endpoint.variant]]
name = "green"
[endpoint.capacity]
slots = 2
service_time = {{ distribution = "fixed", ms = 10.0 }}
{MODEL}
[[endpoint]]
name = "held"
[endpoint.capacity]
slots = 1
service_time = {{ distribution = "fixed", ms = 10.0 }}
{MODEL}
[[endpoint]]
name = "other"
[endpoint.capacity]
slots = 1
service_time = {{ distribution = "fixed", ms = 10.0 }}
{MODEL}
[[endpoint]]
name = "llm"
kind = "llm"
[endpoint.capacity]
slots = 2
[endpoint.llm]
format = "ndjson"
ttft = {{ distribution = "fixed", ms = 10.0 }}
itl = {{ distribution = "fixed", ms = 1.0 }}
output_tokens = {{ distribution = "fixed", count = 4 }}
"""
TENSORS = {
    "inputs": [
        {"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [1.0, 2.0, 3.0, 4.0]},
        {"name": "INPUT1", "datatype": "FP32", "shape": [1, 4], "data": [0.5, 0.5, 0.5, 0.5]},
    ]
}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    config = Path(tmp_path_factory.mktemp("stall")) / "emulator-stall.toml"
    config.write_text(CONFIG)
    with start_emulator(config) as process:
        yield process


@pytest.fixture(scope="module")
def client(emulator: EmulatorProcess) -> Any:
    return runtime_client(emulator.url)


def _stall(emulator: EmulatorProcess, query: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{emulator.url}/_emulator/stall?{query}", data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status), dict(json.load(response))
    except urllib.error.HTTPError as exc:
        return int(exc.code), dict(json.load(exc))


def _invoke(client: Any, endpoint: str, **kw: Any) -> float:
    """One InvokeEndpoint with add_sub tensors (JSON); the time it ended (``time.monotonic``)."""
    response = client.invoke_endpoint(
        EndpointName=endpoint, Body=json.dumps(TENSORS), ContentType="application/json", **kw
    )
    outputs = {o["name"]: o["data"] for o in json.loads(response["Body"].read())["outputs"]}
    assert outputs["OUTPUT0"] == [1.5, 2.5, 3.5, 4.5]
    return time.monotonic()


def _invoke_at_once(client: Any, endpoint: str, count: int, **kw: Any) -> list[float | ClientError]:
    """``count`` requests sent together from threads: each one's end time, or the error it raised."""

    def one(_: int) -> float | ClientError:
        try:
            return _invoke(client, endpoint, **kw)
        except ClientError as exc:
            return exc

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_a_request_during_a_stall_waits_for_its_end(emulator: EmulatorProcess, client: Any) -> None:
    before = time.monotonic()
    assert _invoke(client, "one") - before < SLACK_S  # warm: the connection and a normal request
    stalled_at = time.monotonic()
    status, answer = _stall(emulator, f"endpoint=one&seconds={STALL_S}")
    assert (status, answer) == (200, {"stalled": "one", "seconds": STALL_S, "slots": 1})
    waited_s = _invoke(client, "one") - stalled_at
    assert STALL_S + SERVICE_S <= waited_s < STALL_S + SERVICE_S + SLACK_S, waited_s
    after = time.monotonic()
    assert _invoke(client, "one") - after < STALL_S  # the stall is over: no wait now


def test_requests_during_a_stall_queue_and_are_served_in_turn(emulator: EmulatorProcess, client: Any) -> None:
    stalled_at = time.monotonic()
    assert _stall(emulator, f"endpoint=one&seconds={STALL_S}")[0] == 200
    ends = _invoke_at_once(client, "one", 4)
    waited = sorted(end - stalled_at for end in ends if isinstance(end, float))
    assert len(waited) == 4, ends  # queued, none refused (queue_limit 64)
    # One slot after the stall: the k-th ends no sooner than stall + k service times.
    for k, waited_s in enumerate(waited, start=1):
        assert waited_s >= STALL_S + k * SERVICE_S, waited
    assert waited[-1] < STALL_S + 4 * SERVICE_S + SLACK_S, waited


def test_past_the_queue_limit_a_stalled_endpoint_throttles(emulator: EmulatorProcess, client: Any) -> None:
    """queue_limit 2: of 4 requests sent together during a stall, 2 wait and 2 are throttled at once."""
    stalled_at = time.monotonic()
    assert _stall(emulator, "endpoint=narrow&seconds=0.6")[0] == 200
    results = _invoke_at_once(client, "narrow", 4)
    served = [r - stalled_at for r in results if isinstance(r, float)]
    refused = [r for r in results if isinstance(r, ClientError)]
    assert len(served) == 2, results
    assert all(s >= 0.6 for s in served), served
    assert [e.response["Error"]["Code"] for e in refused] == ["ThrottlingException"] * 2


def test_every_slot_of_every_variant_is_held(emulator: EmulatorProcess, client: Any) -> None:
    stalled_at = time.monotonic()
    status, answer = _stall(emulator, f"endpoint=two-variants&seconds={STALL_S}")
    assert (status, answer["slots"]) == (200, 4)  # 2 variants x 2 slots
    ends = [
        *_invoke_at_once(client, "two-variants", 2, TargetVariant="blue"),
        *_invoke_at_once(client, "two-variants", 2, TargetVariant="green"),
    ]
    assert all(isinstance(end, float) and end - stalled_at >= STALL_S for end in ends), ends


def test_a_stall_holds_only_its_endpoint(emulator: EmulatorProcess, client: Any) -> None:
    assert _stall(emulator, "endpoint=held&seconds=2")[0] == 200
    before = time.monotonic()
    assert _invoke(client, "other") - before < 1.0  # another endpoint answers at once


def test_a_stream_during_a_stall_starts_when_it_ends(emulator: EmulatorProcess, client: Any) -> None:
    stalled_at = time.monotonic()
    status, answer = _stall(emulator, f"endpoint=llm&seconds={STALL_S}")
    assert (status, answer["slots"]) == (200, 2)

    def first_part(_: int) -> float:
        response = client.invoke_endpoint_with_response_stream(
            EndpointName="llm", Body=json.dumps({"inputs": "hello", "parameters": {"max_new_tokens": 4}})
        )
        events = iter(response["Body"])
        assert "PayloadPart" in next(events)
        first = time.monotonic()
        assert all("PayloadPart" in event for event in events)
        return first - stalled_at

    # 3 streams for 2 slots: none is admitted before the stall ends (ttft 10 ms after it).
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        firsts = list(pool.map(first_part, range(3)))
    assert all(STALL_S + 0.01 <= f < STALL_S + SLACK_S for f in firsts), firsts
    before = time.monotonic()
    first_part(0)
    assert time.monotonic() - before < STALL_S  # over: a new stream is admitted at once


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("seconds=1", 400, "give ?endpoint=NAME&seconds=S (S >= 0), got endpoint='' seconds='1'"),
        ("endpoint=one", 400, "got endpoint='one' seconds=''"),
        ("endpoint=one&seconds=-1", 400, "seconds='-1'"),
        ("endpoint=one&seconds=nan", 400, "seconds='nan'"),
        ("endpoint=one&seconds=inf", 400, "seconds='inf'"),
        ("endpoint=one&seconds=soon", 400, "seconds='soon'"),
        ("endpoint=missing&seconds=1", 404, "no endpoint 'missing' in this emulator"),
    ],
)
def test_bad_stalls_are_refused_with_one_line(
    emulator: EmulatorProcess, query: str, status: int, error: str
) -> None:
    got_status, answer = _stall(emulator, query)
    assert got_status == status
    assert error in answer["error"]


def test_a_zero_stall_holds_nothing(emulator: EmulatorProcess, client: Any) -> None:
    assert _stall(emulator, "endpoint=other&seconds=0")[0] == 200
    before = time.monotonic()
    assert _invoke(client, "other") - before < STALL_S
