"""The gate grammar's messages (issue #13, items 15 and 24): one line that names the expression."""

from __future__ import annotations

import re

import pytest

from bench.errors import ConfigError
from bench.gatespec import check_foregone, parse_gate, parse_gates
from bench.options import run_config_from_options


def _message(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_gate(text)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_percentile_past_p100_names_the_gate() -> None:
    message = _message("p101(latency)<5ms")
    assert message.startswith("--gate 'p101(latency)<5ms': 'p101' at column 1:")
    assert "percentiles are p0..p100" in message


@pytest.mark.parametrize("text", ["p0(latency)<5ms", "p100(latency)<5ms", "p99.9(latency)<5ms"])
def test_percentiles_p0_to_p100_parse(text: str) -> None:
    assert parse_gate(text).stat == text.split("(")[0]


def test_an_unknown_scope_is_called_a_scope_and_the_scopes_are_listed() -> None:
    message = _message("foo:bar p95(latency)<5ms")
    assert "'foo:' at column 1: unknown scope" in message
    assert "name:, type:, variant:, invoke:, stream:" in message
    assert "unknown metric" not in message


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('name:"my endpoint" p95(latency)<5ms', "my endpoint"),
        ("name:'x y' p95(latency)<5ms", "x y"),
        ("name:plain p95(latency)<5ms", "plain"),
        ('invoke:"a b" p95(latency)<5ms', "a b"),
    ],
)
def test_names_with_spaces_are_quoted(text: str, name: str) -> None:
    gate = parse_gate(text)
    assert (gate.name, gate.metric, gate.stat, gate.threshold) == (name, "latency", "p95", 5.0)
    assert gate.expression == text


def test_a_quoted_variant_and_an_unterminated_quote() -> None:
    assert parse_gate("variant:'canary 2' error_rate<1%").variant == "canary 2"
    assert "unterminated quote" in _message('name:"my endpoint p95(latency)<5ms')
    assert "empty" in _message('name:"" p95(latency)<5ms')


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("error_rate<150%", "can never fail"),
        ("error_rate<=100%", "can never fail"),
        ("error_rate>=0", "can never fail"),
        ("error_rate>-1%", "can never fail"),
        ("error_rate>100%", "can never pass"),
        ("error_rate<0", "can never pass"),
        ("error_rate==2", "can never pass"),
        ("p95(latency)<-5ms", "can never pass"),
        ("max(ttfp)<=-1s", "can never pass"),
        ("p95(latency)>=0ms", "can never fail"),
        ("count>=0", "can never fail"),
        ("errors<0", "can never pass"),
        ("rps>-3", "can never fail"),
        ("late_rate<=100%", "can never fail"),
        ("late_rate>100%", "can never pass"),
        ("late>=0", "can never fail"),
        ("p99(schedule_lag)<0ms", "can never pass"),
        ("max(effective_latency)>=0", "can never fail"),
    ],
)
def test_gates_certain_from_the_grammar_are_refused(text: str, verdict: str) -> None:
    gate = parse_gate(text)  # the grammar accepts them: stored expressions of finished runs parse again
    with pytest.raises(ConfigError) as caught:
        check_foregone(gate)
    assert str(caught.value).startswith(f"--gate {text!r}: {verdict}: ")
    with pytest.raises(ConfigError, match=f"^--gate {re.escape(repr(text))}: {verdict}"):
        run_config_from_options({"gate": [text]})  # the options refuse them before a run
    with pytest.raises(ConfigError, match=f"^--slo {re.escape(repr(text))}: {verdict}"):
        run_config_from_options({"slo": [text], "steps": "1,2"})


def test_the_refusal_says_what_to_do() -> None:
    with pytest.raises(ConfigError) as caught:
        check_foregone(parse_gate("error_rate<150%"))
    assert str(caught.value) == (
        "--gate 'error_rate<150%': can never fail: error_rate is between 0% and 100%; "
        "give a threshold below 100%"
    )
    with pytest.raises(ConfigError) as caught:
        check_foregone(parse_gate("p95(latency)<-5ms"))
    assert str(caught.value) == (
        "--gate 'p95(latency)<-5ms': can never pass: p95(latency) is never negative; "
        "give a threshold above 0 ms"
    )


@pytest.mark.parametrize(
    "text",
    [
        "error_rate<=0",
        "error_rate==0",
        "error_rate<100%",
        "error_rate>=100%",
        "errors<=0",
        "count==0",
        "rps>0",
        "p95(latency)<0.5ms",
        "min(latency)>0",
        "late_rate<1%",
        "late_rate<100%",
        "late==0",
        "p99(schedule_lag)<1ms",
        "p99(effective_latency)<50ms",
    ],
)
def test_gates_at_the_edge_of_the_range_are_kept(text: str) -> None:
    check_foregone(parse_gate(text))


def test_slo_messages_name_the_option() -> None:
    with pytest.raises(ConfigError, match=r"^--slo 'p95\(latency\)<':"):
        parse_gates(["p95(latency)<"], option="--slo")


def test_a_malformed_slo_is_reported_before_the_missing_steps() -> None:
    with pytest.raises(ConfigError) as caught:
        run_config_from_options({"slo": ["p95(latency)<"]})
    assert str(caught.value).startswith("--slo 'p95(latency)<': '(end)' at column 14: expected a number")
    with pytest.raises(ConfigError, match="or --steps"):  # a well-formed SLO still needs --steps (or --rates)
        run_config_from_options({"slo": ["p95(latency)<5ms"]})


def test_the_open_loop_metrics_parse_with_their_units() -> None:
    effective = parse_gate("p99(effective_latency)<0.05s")
    assert (effective.metric, effective.stat, effective.threshold, effective.unit) == (
        "effective_latency",
        "p99",
        50.0,
        "ms",
    )
    lag = parse_gate("p99(schedule_lag)<1ms")
    assert (lag.metric, lag.threshold, lag.unit, lag.can_abort) == ("schedule_lag", 1.0, "ms", False)
    assert parse_gate("max(schedule_lag)<5ms").can_abort  # a maximum only grows
    rate = parse_gate("late_rate<1%")
    assert (rate.metric, rate.stat, rate.threshold, rate.unit, rate.can_abort) == (
        "late_rate",
        None,
        0.01,
        "%",
        False,  # a rate can recover
    )
    assert parse_gate("late_rate<0.01").threshold == 0.01
    late = parse_gate("late<=3")
    assert (late.threshold, late.unit, late.can_abort) == (3.0, "", True)  # a count only grows
    assert "late_rate is a fraction; write 1% or 0.01" in _message("late_rate<1ms")
    assert "late takes no unit" in _message("late<1%")
    assert "late is one value per run" in _message("p99(late)<1")
    assert "schedule_lag needs a statistic" in _message("schedule_lag<1ms")
    assert "effective_latency is a time" in _message("p99(effective_latency)<5%")
    with pytest.raises(ConfigError) as caught:
        check_foregone(parse_gate("late_rate<150%"))
    assert str(caught.value) == (
        "--gate 'late_rate<150%': can never fail: late_rate is between 0% and 100%; "
        "give a threshold below 100%"
    )
