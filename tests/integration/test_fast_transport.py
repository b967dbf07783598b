"""The fast transport against real emulator processes, side by side with the boto3 transport.

Twin emulators (same configuration, same seed, both verifying SigV4 and recording what they receive)
each serve one transport, and every test sends the same sequence of requests to both: so the emulator's
random draws (variants, faults, splitting of stream parts) are the same for both, and whatever differs
comes from the transports. Credentials come from the environment through the boto3 chain.
"""

from __future__ import annotations

import datetime
import itertools
import json
import statistics
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import gevent.pool
import pytest
from botocore.credentials import CredentialProvider, RefreshableCredentials
from support import DATA, TEST_EMULATOR_CONFIG, free_port

from bench import errors
from bench.config import EndpointSpec, PayloadSpec, TransportSpec, parse_tensor_spec
from bench.emulator.llmformats import generate_tokens
from bench.emulator.process import EmulatorProcess, start_emulator
from bench.emulator.sigv4 import DEFAULT_CREDENTIALS
from bench.payload.llm import LLM_CONTENT_TYPE, prompt_body
from bench.payload.pool import build_requests
from bench.payload.streams import StreamParser
from bench.transport import fast as fast_module
from bench.transport import make_stream_transport, make_transport

KINDS = ("boto3", "fast")
KEY, SECRET = next(iter(DEFAULT_CREDENTIALS.items()))
ROTATED_KEY, ROTATED_SECRET = "AKIDROTATEDEXAMPLE", "rotated/K7MDENG+bPxRfiCYEXAMPLEKEY"
PROMPT = "How many tokens per second does one instance sustain?"
# Differ by design between two requests or two SDKs; everything else must be byte-identical.
VOLATILE = {"x-amz-date", "authorization", "user-agent", "amz-sdk-invocation-id", "amz-sdk-request"}
TENSORS = PayloadSpec(inputs=(parse_tensor_spec("INPUT0:FP32:1,16"), parse_tensor_spec("INPUT1:FP32:1,16")))


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, EmulatorProcess]]:
    """One emulator per transport: same configuration and seed, SigV4 verified, requests recorded."""
    config = tmp_path_factory.mktemp("twins") / "emulator.toml"
    config.write_text(TEST_EMULATOR_CONFIG.read_text() + (DATA / "emulator-components.toml").read_text())
    credentials = {KEY: SECRET, ROTATED_KEY: ROTATED_SECRET}
    started = {
        k: start_emulator(config, verify_sigv4=True, credentials=credentials, record_requests=4)
        for k in KINDS
    }
    try:
        yield started
    finally:
        for emulator in started.values():
            emulator.stop()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials and region from the environment only (no profile, no config file)."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_REGION", "us-east-1")


def _spec(kind: str, read_timeout_s: float = 10.0) -> TransportSpec:
    return TransportSpec(kind=kind, read_timeout_s=read_timeout_s, connect_timeout_s=1.0)


def _invoke(emulator: EmulatorProcess, kind: str, name: str, body: bytes, **fields: Any) -> Any:
    content_type = fields.pop("content_type", "application/json")
    transport = make_transport(EndpointSpec(name=name, endpoint_url=emulator.url, **fields), _spec(kind))
    try:
        return transport.invoke(body, content_type, "inv-1")
    except errors.EndpointError as exc:
        return exc
    finally:
        transport.close()


def _stream(emulator: EmulatorProcess, kind: str, name: str, body: bytes, **fields: Any) -> dict[str, Any]:
    """Parts, arrival times and the error (if any) of one stream."""
    read_timeout_s = fields.pop("read_timeout_s", 10.0)
    endpoint = EndpointSpec(name=name, endpoint_url=emulator.url, **fields)
    transport = make_stream_transport(endpoint, _spec(kind, read_timeout_s))
    started = time.perf_counter()
    seen: dict[str, Any] = {"parts": [], "arrivals_s": [], "error": None, "response": None}
    try:
        response = transport.invoke_stream(body, LLM_CONTENT_TYPE, "inv-2")
        seen["response"] = (response.content_type, response.variant, response.http_status)
        for part in response.parts:
            seen["arrivals_s"].append(time.perf_counter() - started)
            seen["parts"].append(part)
    except errors.EndpointError as exc:
        seen["error"] = exc
    finally:
        transport.close()
    return seen


def _described(exc: errors.EndpointError) -> tuple[Any, ...]:
    return (
        type(exc),
        exc.error_type,
        exc.stage,
        exc.http_status,
        exc.message,
        getattr(exc, "original_status", None),
        getattr(exc, "original_message", None),
    )


def _last_request(emulator: EmulatorProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{emulator.url}/_emulator/last-requests?n=1", timeout=5) as reply:
        (entry,) = json.load(reply)["requests"]
    return dict(entry)


def _comparable(entry: dict[str, Any], emulator: EmulatorProcess) -> dict[str, Any]:
    """A recorded request without what differs by design; the twin's own host:port as ``EMULATOR``."""
    own_host = urllib.parse.urlsplit(emulator.url).netloc
    lines = [
        (k, "EMULATOR" if v == own_host else v) for k, v in entry["headers"] if k.lower() not in VOLATILE
    ]
    authorization = next(v for k, v in entry["headers"] if k.lower() == "authorization")
    credential, signed, _signature = authorization.split(", ")
    key, _date, scope = credential.split("/", 2)
    return {
        "method": entry["method"],
        "path": entry["path"],
        "body_sha256": entry["body_sha256"],
        "headers": sorted(lines, key=lambda line: line[0].lower()),
        "authorization": (key, scope, signed),
    }


def _both(twins: dict[str, EmulatorProcess], send: Callable[[EmulatorProcess, str], Any]) -> list[Any]:
    return [send(twins[kind], kind) for kind in KINDS]


@pytest.mark.parametrize("operation", ["invoke", "stream"])
@pytest.mark.parametrize("component", [None, "ic-a"])
def test_same_request_on_the_wire_as_boto3(
    twins: dict[str, EmulatorProcess], operation: str, component: str | None
) -> None:
    fields = {
        "target_model": "model-b.tar.gz",
        "target_variant": "AllTraffic",
        "custom_attributes": "trace-id=7; c=1",
        "inference_component": component,
    }
    if operation == "invoke":
        body = b'{"inputs":[{"name":"X","shape":[4],"datatype":"INT32","data":[1,2,3,4]}]}'
        results = _both(twins, lambda e, k: _invoke(e, k, "ic-mme", body, **fields))
        if component:  # the emulator answered the same success to both
            assert results[0] == results[1]
            assert results[0].custom_attributes == "trace-id=7; c=1"
        else:  # no component on a component endpoint: the same ValidationError
            assert _described(results[0]) == _described(results[1])
    else:
        body = prompt_body(PROMPT, "tgi", 6)
        results = _both(twins, lambda e, k: _stream(e, k, "llm-ic", body, **fields))
        assert results[0]["response"] == results[1]["response"]
        assert results[0]["parts"] == results[1]["parts"]
        assert (results[0]["error"] is None) == (component is not None)
        if results[0]["error"] is not None:
            assert _described(results[0]["error"]) == _described(results[1]["error"])
    boto, fast = (_last_request(twins[kind]) for kind in KINDS)
    assert _comparable(fast, twins["fast"]) == _comparable(boto, twins["boto3"])
    names = {k.lower() for k, _ in fast["headers"]}
    assert ("x-amzn-sagemaker-target-model" in names) == (operation == "invoke")
    assert ("x-amzn-sagemaker-inference-component" in names) == (component is not None)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("operation", ["invoke", "stream"])
def test_signatures_verify_and_bad_or_missing_ones_are_refused(
    twins: dict[str, EmulatorProcess], monkeypatch: pytest.MonkeyPatch, kind: str, operation: str
) -> None:
    emulator = twins[kind]

    def send() -> Any:
        if operation == "invoke":
            return _invoke(emulator, kind, "no-such-endpoint", b"{}")
        return _stream(emulator, kind, "no-such-endpoint", b"{}")["error"]

    # A good signature reaches the endpoint logic (which then does not find the endpoint).
    assert type(send()) is errors.ValidationError
    for key, secret, code in (
        (KEY, "wrong-secret", "InvalidSignatureException"),
        ("AKIDUNKNOWN", SECRET, "UnrecognizedClientException"),
        (None, None, "MissingAuthenticationTokenException"),  # no credentials: unsigned, as boto3 does
    ):
        if key is None:
            monkeypatch.delenv("AWS_ACCESS_KEY_ID")
            monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        else:
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", str(secret))
        refused = send()
        assert isinstance(refused, errors.UnknownServiceError)
        assert (refused.error_type, refused.http_status, refused.stage) == (code, 403, "request")
    assert "Authorization" not in dict(_last_request(emulator)["headers"])


class _RotatingProvider(CredentialProvider):
    """Refreshable credentials on a clock the test moves: a refresh hands out the rotated key."""

    METHOD = "test-rotating"

    def __init__(self, clock: list[datetime.datetime]) -> None:
        super().__init__()
        self.clock = clock
        self.refreshes = 0

    def _rotated(self) -> dict[str, str | None]:
        self.refreshes += 1
        expiry = self.clock[0] + datetime.timedelta(hours=1)
        return {
            "access_key": ROTATED_KEY,
            "secret_key": ROTATED_SECRET,
            "token": None,
            "expiry_time": expiry.isoformat(),
        }

    def load(self) -> RefreshableCredentials:
        return RefreshableCredentials(
            KEY,
            SECRET,
            None,
            self.clock[0] + datetime.timedelta(hours=1),
            self._rotated,
            self.METHOD,
            time_fetcher=lambda: self.clock[0],
        )


def test_refreshable_credentials_are_refreshed_before_they_expire(
    twins: dict[str, EmulatorProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [datetime.datetime.now(datetime.UTC)]
    provider = _RotatingProvider(clock)
    core = botocore.session.Session()
    core.get_component("credential_provider").insert_before("env", provider)
    monkeypatch.setattr(
        fast_module,
        "make_session",
        lambda _endpoint: boto3.Session(botocore_session=core, region_name="us-east-1"),
    )
    emulator = twins["fast"]
    transport = make_transport(
        EndpointSpec(name="no-such-endpoint", endpoint_url=emulator.url), _spec("fast")
    )
    keys, start = [], clock[0]
    for minutes in (0, 30, 55, 56):  # expiry at +60; the mandatory refresh starts 10 minutes before it
        clock[0] = start + datetime.timedelta(minutes=minutes)
        with pytest.raises(errors.ValidationError):  # signed well enough to reach the endpoint logic
            transport.invoke(b"{}", "application/json", "rotate")
        key, _scope, _signed = _comparable(_last_request(emulator), emulator)["authorization"]
        keys.append(key.removeprefix("AWS4-HMAC-SHA256 Credential="))
    transport.close()
    assert keys == [KEY, KEY, ROTATED_KEY, ROTATED_KEY]
    assert provider.refreshes == 1


@pytest.mark.parametrize(
    "endpoint",
    [
        "fault-validationerror",
        "fault-modelerror",
        "fault-modelnotreadyexception",
        "fault-throttlingexception",
        "fault-internalfailure",
        "fault-serviceunavailable",
        "fault-internaldependencyexception",
        "no-such-endpoint",
    ],
)
def test_injected_faults_give_the_same_errors(twins: dict[str, EmulatorProcess], endpoint: str) -> None:
    # Each fault endpoint is served: else both would give the same "not found" ValidationError.
    assert (endpoint in twins["fast"].endpoints) is (endpoint != "no-such-endpoint")
    request = build_requests(TENSORS)[0]
    boto, fast = _both(
        twins, lambda e, k: _invoke(e, k, endpoint, request.body, content_type=request.content_type)
    )
    assert isinstance(fast, errors.EndpointError)
    assert _described(fast) == _described(boto)
    assert fast.error_type != "EndpointError"


@pytest.mark.parametrize(
    ("endpoint", "body"), [("llm-tgi", b"not json"), ("no-such-llm", b"{}"), ("demo-triton", b"{}")]
)
def test_errors_before_a_stream_starts_are_the_same(
    twins: dict[str, EmulatorProcess], endpoint: str, body: bytes
) -> None:
    boto, fast = _both(twins, lambda e, k: _stream(e, k, endpoint, body))
    assert fast["error"] is not None
    assert _described(fast["error"]) == _described(boto["error"])


@pytest.mark.parametrize(
    ("endpoint", "fmt"),
    [("llm-tgi", "tgi"), ("llm-openai", "openai"), ("llm-ndjson", "ndjson"), ("llm-triton", "triton")],
)
def test_streams_give_the_same_parts_and_tokens(
    twins: dict[str, EmulatorProcess], endpoint: str, fmt: str
) -> None:
    boto, fast = _both(twins, lambda e, k: _stream(e, k, endpoint, prompt_body(PROMPT, fmt, 12)))
    assert fast["error"] is None
    assert boto["error"] is None
    assert fast["response"] == boto["response"]
    assert len(fast["parts"]) == len(boto["parts"])
    if fmt != "openai":  # OpenAI chunks carry a per-request id and timestamp
        assert fast["parts"] == boto["parts"]
    for seen in (boto, fast):
        parser = StreamParser(fmt, seen["response"][0])
        tokens = [t for part in seen["parts"] for t in parser.feed(part)] + parser.finish()
        assert [t for t in tokens if t] == generate_tokens(PROMPT, 12)


@pytest.mark.parametrize(
    ("endpoint", "error_type", "stage", "read_timeout_s"),
    [
        (
            "llm-modelinvocationtimeexceeded",
            "ModelStreamError:ModelInvocationTimeExceeded",
            "mid_stream",
            10.0,
        ),
        ("llm-streambroken", "ModelStreamError:StreamBroken", "mid_stream", 10.0),
        ("llm-internalstreamfailure", "InternalStreamFailure", "mid_stream", 10.0),
        ("llm-dropconnection", "Connection", "mid_stream", 10.0),
        ("llm-known", "Timeout", "first_part", 0.1),  # ttft 200 ms
    ],
)
def test_stream_failures_are_classified_the_same(
    twins: dict[str, EmulatorProcess], endpoint: str, error_type: str, stage: str, read_timeout_s: float
) -> None:
    body = prompt_body(PROMPT, "tgi", 12)
    boto, fast = _both(twins, lambda e, k: _stream(e, k, endpoint, body, read_timeout_s=read_timeout_s))
    for seen in (boto, fast):
        assert (seen["error"].error_type, seen["error"].stage) == (error_type, stage)
    assert fast["parts"] == boto["parts"]
    assert type(fast["error"]) is type(boto["error"])
    if error_type not in ("Connection", "Timeout"):  # network texts name the client library
        assert fast["error"].message == boto["error"].message


def test_parts_arrive_as_they_are_sent(twins: dict[str, EmulatorProcess]) -> None:
    """llm-known: first token after 200 ms, then one every 20 ms (20 tokens, one part each)."""
    seen = _stream(twins["fast"], "fast", "llm-known", prompt_body(PROMPT, "tgi", 64))
    arrivals = seen["arrivals_s"]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    print(
        f"fast: first part {arrivals[0] * 1000:.1f} ms, last {arrivals[-1] * 1000:.1f} ms, median gap {statistics.median(gaps) * 1000:.1f} ms"
    )
    assert seen["error"] is None
    assert len(arrivals) == 20
    assert arrivals[0] >= 0.19  # ttft 200 ms (10 ms of slack for the clocks); one sample: no upper bound
    assert arrivals[-1] - arrivals[0] >= 0.35  # 19 gaps of 20 ms: not delivered at the end all at once
    # A known answer over 19 gaps: 20 ms, -25%/+50%. Parts held back and sent in pairs would give 0 or 40.
    assert 0.015 <= statistics.median(gaps) <= 0.030


def test_timeouts_refusals_and_a_pool_shared_by_many_greenlets(twins: dict[str, EmulatorProcess]) -> None:
    request = build_requests(TENSORS)[0]
    body, content_type = request.body, request.content_type
    slow = make_transport(EndpointSpec(name="slow", endpoint_url=twins["fast"].url), _spec("fast", 0.3))
    with pytest.raises(errors.TimeoutError_) as timed_out:
        slow.invoke(body, content_type, "slow")
    assert timed_out.value.stage == "request"
    refused = make_transport(
        EndpointSpec(name="x", endpoint_url=f"http://127.0.0.1:{free_port()}"), _spec("fast")
    )
    with pytest.raises(errors.ConnectionError_):
        refused.invoke(body, content_type, "refused")
    shared = make_transport(
        EndpointSpec(name="demo-triton", endpoint_url=twins["fast"].url),
        TransportSpec(kind="fast"),
        users=10,
    )
    assert type(shared) is fast_module.FastTransport
    pool = gevent.pool.Pool(40)  # 40 greenlets share 10 connections
    results = pool.map(lambda i: shared.invoke(body, content_type, f"g{i}"), range(200))
    shared.close()
    assert {(r.http_status, r.variant) for r in results} == {(200, "AllTraffic")}
