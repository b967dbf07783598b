"""The capacity report page of a rate-stepped run (``--rates``): its cards, charts, step table and
definitions, in the page ``bench.report.html`` renders (same styles, same escaping).

Charts: effective latency percentiles against the arrival rate (with the SLO lines and the sustainable
rate), the achieved and completed rates against the target, late requests and errors per step, and
the time to first part when the endpoint streams.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.analysis.capacity import CapacityReport, StepStats
from bench.analysis.ratecapacity import ACHIEVED_RATE_MIN, failing_reasons, rate_text
from bench.analysis.rateplan import BISECT_TOLERANCE
from bench.config import AUTO_RATE_BISECTIONS, LATE_LAG_MS, LATE_RATE_LIMIT
from bench.report.html import (
    DASH,
    ERRORS_TITLE,
    TIMES,
    _card_section,
    _count,
    _e,
    _has,
    _money,
    _num,
    _pct,
    _slo_lines,
    fleet_cards,
    step_table,
)
from bench.report.svg import Bar, HLine, Marker, Series, bar_chart, line_chart

EFFECTIVE_TITLE = "Effective latency vs arrival rate"
ACHIEVED_TITLE = "Achieved vs target arrival rate"
LATE_TITLE = "Late requests per step"
TTFP_RATE_TITLE = "Time to first part vs arrival rate"
NO_RATE = "no arrival rate was sustained"
RATE_AXIS = "target arrival rate (requests / s)"


def cards(report: CapacityReport) -> str:
    rec = report.recommendation
    no_point = NO_RATE if report.steps else "no rate-stepped data: run with --rates"
    bound = rec.at_least_rps is not None
    at = (
        f"step {rec.sustainable_step}: achieved {_num(rec.achieved_rate_per_s, ' req/s')}, "
        f"{_pct(rec.late_rate)} late, {rec.sustainable_users} users available"
        if rec.sustainable_step is not None
        else no_point
    )
    at += ": INVALID step (load generator not healthy)" if rec.sustainable_valid is False else ""
    at += "; at least: every rate tried passed" if bound else ""
    stream = [f"TTFP p95 {_num(rec.ttfp_p95_ms, ' ms')}"] if rec.ttfp_p95_ms is not None else []
    service = f"service latency p95 {_num(rec.service_latency_p95_ms, ' ms')}"
    failing = (
        f"step {rec.failing_step}: {'; '.join(rec.failing_reasons)}"
        if rec.failing_step is not None
        else ("none: every rate tried passed" if rec.sustainable_step is not None else no_point)
    )
    plan = [
        (
            "Sustainable arrival rate per instance",
            ("≥ " if bound else "") + _num(rec.sustainable_rps, " req/s"),
            at,
        ),
        (
            "Effective latency p95 at that rate",
            _num(rec.latency_p95_ms, " ms"),
            ", ".join([service, *stream]) if rec.sustainable_step is not None else no_point,
        ),
        ("Lowest failing rate", _num(rec.failing_rate_per_s, " req/s"), failing),
    ]
    return _card_section(plan + fleet_cards(report, bound=bound, no_point=no_point))


def _label(step: StepStats) -> str:
    return "INVALID" if step.valid is False else "" if step.passed else "failed"


def _target(step: StepStats) -> float:
    return step.target_rate_per_s if step.target_rate_per_s is not None else float("nan")


def _percentiles(steps: Sequence[StepStats], metric: str) -> list[Series]:
    labels = tuple(_label(s) for s in steps)
    return [
        Series(
            f"p{q}",
            [(_target(s), getattr(s, f"{metric}_p{q}_ms")) for s in steps],
            labels if q == 99 else (),
        )
        for q in (50, 95, 99)
    ]


def charts(report: CapacityReport) -> str:
    steps, rec, inputs = report.steps, report.recommendation, report.inputs
    ordered = sorted(steps, key=_target)  # bisection runs its rates out of order
    point = (
        [Marker(rec.sustainable_rps, f"sustainable: {_num(rec.sustainable_rps)} req/s")]
        if rec.sustainable_rps is not None
        else []
    )
    ms = "dashed red lines are SLO thresholds."
    figures = [
        (
            line_chart(
                _percentiles(ordered, "effective_latency"),
                title=EFFECTIVE_TITLE,
                x_label=RATE_AXIS,
                y_label="effective latency (ms)",
                hlines=_slo_lines(inputs, "latency") + _slo_lines(inputs, "effective_latency"),
                markers=point,
            ),
            "Effective latency (end minus intended send time: what a caller on an open schedule sees) of "
            f"each step's successful requests, by the arrival rate asked for; SLOs on latency are judged on "
            f"it; {ms}",
        ),
        (
            line_chart(
                [
                    Series("target", [(_target(s), _target(s)) for s in ordered]),
                    Series("achieved", [(_target(s), s.achieved_rate_per_s) for s in ordered]),
                    Series("completed", [(_target(s), s.rps) for s in ordered], [_label(s) for s in ordered]),
                ],
                title=ACHIEVED_TITLE,
                x_label=RATE_AXIS,
                y_label="requests / s",
                markers=point,
            ),
            "Achieved: the rate the step's requests were sent at; completed: the requests that completed "
            f"in the step's window per second. A step fails when achieved is below {ACHIEVED_RATE_MIN:.0%} "
            "of the target beyond Poisson noise.",
        ),
        (
            bar_chart(
                [Bar(rate_text(s.target_rate_per_s), s.late_rate * 100) for s in ordered],
                title=LATE_TITLE,
                x_label="target arrival rate (one bar per step)",
                y_label=f"sent > {LATE_LAG_MS:g} ms late (% of requests)",
                hlines=[HLine(LATE_RATE_LIMIT * 100, f"limit {LATE_RATE_LIMIT:.0%}")],
                value_text=lambda v: _pct(v / 100),
                y_unit="%",
            ),
            f"Requests sent more than {LATE_LAG_MS:g} ms after their intended time. Above "
            f"{LATE_RATE_LIMIT:.0%} the step fails when the users could not keep up (Little's law), and is "
            "INVALID (the load generator fell behind) when they could.",
        ),
    ]
    if _has(steps, "ttfp_p50_ms", "ttfp_p95_ms", "ttfp_p99_ms"):
        ttfp = line_chart(
            _percentiles(ordered, "ttfp"),
            title=TTFP_RATE_TITLE,
            x_label=RATE_AXIS,
            y_label="time to first part (ms)",
            hlines=_slo_lines(inputs, "ttfp"),
            markers=point,
        )
        figures.append((ttfp, f"Time from the request to the first streamed part, per step; {ms}"))
    errors = bar_chart(
        [Bar(rate_text(s.target_rate_per_s), s.error_rate * 100) for s in ordered],
        title=ERRORS_TITLE,
        x_label="target arrival rate (one bar per step)",
        y_label="errors (% of requests)",
        hlines=_slo_lines(inputs, "error_rate", 100.0),
        value_text=lambda v: _pct(v / 100),
        y_unit="%",
    )
    figures.append((errors, f"Errors as a share of the requests of each step's window; {ms}"))
    body = "".join(
        f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>" for svg, caption in figures
    )
    return f'<section class="charts">{body}</section>'


def _verdict(step: StepStats, judged: bool) -> str:
    reasons = failing_reasons(step)
    if not reasons:
        return "ok" if judged else "sustained (no SLO given)"
    return f'<span class="broken">failed: {_e("; ".join(reasons))}</span>'


def table(report: CapacityReport) -> str:
    steps, rec = report.steps, report.recommendation
    ttfp = _has(steps, "ttfp_p95_ms")
    head = ["step", "target req/s", "achieved req/s", "completed req/s", "requests"]
    head += ["effective p50 ms", "effective p95 ms", "effective p99 ms", "service p95 ms"]
    head += ["TTFP p95 ms"] * ttfp + ["late", "errors", "in flight (÷ users)"]

    def cells(s: StepStats) -> list[str]:
        tags = [
            name
            for name, at in (("sustainable", rec.sustainable_step), ("lowest failing", rec.failing_step))
            if at == s.step
        ] + ["INVALID"] * (s.valid is False)
        out = [
            f"{s.step}" + "".join(f'<span class="tag">{t}</span>' for t in tags),
            _e(rate_text(s.target_rate_per_s)),
            _num(s.achieved_rate_per_s),
            _num(s.rps),
            f"{s.count:,}",
        ]
        out += [
            _num(v)
            for v in (
                s.effective_latency_p50_ms,
                s.effective_latency_p95_ms,
                s.effective_latency_p99_ms,
                s.latency_p95_ms,
            )
        ]
        out += [_num(s.ttfp_p95_ms)] * ttfp
        out += [
            f"{_pct(s.late_rate)} ({s.late:,})",
            f"{_pct(s.error_rate)} ({s.errors:,})",
            f"{_num(s.in_flight_mean)} ({_num(s.littles_law_ratio)})",
        ]
        return out

    return step_table(
        report,
        head,
        cells,
        lambda s: _verdict(s, bool(report.inputs.slos)),
        verdict_head="verdict",
        empty_text="No rate-stepped data: run with --rates.",
    )


def method(report: CapacityReport) -> str:
    inputs, rec = report.inputs, report.recommendation
    x = TIMES
    plan = (
        f"auto: doubling {rate_text(inputs.rates[0])} … {rate_text(inputs.rates[-1])} req/s until a step "
        f"fails, then at most {AUTO_RATE_BISECTIONS} steps bisecting between the highest passing and the "
        f"lowest failing rate (stopping once they are within {BISECT_TOLERANCE:.0%})"
        if inputs.auto and inputs.rates
        else "every rate of the plan, in order"
    )
    definitions = [
        f"Open loop: requests are sent on an arrival schedule, whether or not earlier ones have completed; "
        f"the users (the most requests in flight) stay constant and each step sets the arrival rate. Plan: {plan}.",
        f"Each step's window starts {inputs.ramp_s:g} s (--step-ramp) after its rate was set and ends "
        f"{_num(inputs.step_duration_s)} s (--step-duration) after it; the step's requests are those "
        "intended to start in it. While a step is judged the old rate goes on, in no step's window.",
        "Effective latency: end minus intended send time (coordinated-omission corrected: what a caller on "
        "an open schedule sees); service latency: end minus actual send. Percentiles are exact, over the "
        "step's successful requests. An SLO on latency is judged on the effective latency; "
        "effective_latency SLOs as written.",
        "Achieved rate: (requests - 1) ÷ (last send - first send) of the step's requests; completed: "
        "completions in the window ÷ the window up to its last completion. In flight (Little's law): "
        f"achieved {x} mean service latency; in brackets ÷ the users available.",
        f"A step fails when an SLO fails, when the achieved rate is below {ACHIEVED_RATE_MIN:.0%} of the "
        f"target by more than three standard deviations of Poisson counting noise (target {x} (0.95 - 3 ÷ "
        f"√requests)), or when more than {LATE_RATE_LIMIT:.0%} of its requests were sent over "
        f"{LATE_LAG_MS:g} ms late while the users could not keep up (fewer users than Little's law asks "
        "for). Late requests with users enough are the load generator's: the step is INVALID, not failed.",
        "Load generator: each step is also judged on the health samples of its window (health.csv: CPU p95 "
        "at most 90% of a core and event-loop lag p99 at most 20 ms, per worker).",
        "Sustainable arrival rate: the highest target rate whose step passed; a lower bound (≥, at least) "
        "when no higher rate failed.",
        f"Instances for the target: ceil(target req/s {x} (1 + headroom) ÷ sustainable arrival rate), at "
        "least 1. Autoscaling target (SageMakerVariantInvocationsPerInstance, per minute): sustainable "
        f"arrival rate {x} 60 {x} safety factor (AWS's load-testing guidance uses 0.5).",
        f"Cost: instances {x} price per hour; per million inferences: fleet cost per hour ÷ "
        f"(target req/s {x} 3600) {x} 1,000,000.",
    ]
    slos = ", ".join(f"<code>{_e(s.expression)}</code>" for s in inputs.slos) or "none"
    price = (
        f"{_money(rec.price_per_hour, '/h', exact=True)} ({rec.price_source})" if rec.price_source else DASH
    )
    planning = [
        ("SLOs", slos + " (latency: effective latency)" * bool(inputs.slos)),
        (
            "Planned rates",
            _e(", ".join(rate_text(r) for r in inputs.rates) + " req/s" if inputs.rates else DASH),
        ),
        ("Steps as run", _e(", ".join(rate_text(s.target_rate_per_s) for s in inputs.rate_steps) or DASH)),
        ("Target throughput", _e(_num(inputs.target_rps, " req/s"))),
        ("Headroom", _e(f"{inputs.headroom:.0%}")),
        ("Safety factor", _e(f"{inputs.safety_factor:g}")),
        ("Instance type", _e(inputs.instance_type or DASH)),
        ("Instance price", _e(price)),
        ("Ramp per step", _e(f"{inputs.ramp_s:g} s")),
        ("Users available to send", _e(_count(report.steps[0].users) if report.steps else DASH)),
    ]
    items = "".join(f"<li>{_e(d)}</li>" for d in definitions)
    inputs_html = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in planning)
    return f"<h2>How these numbers are computed</h2><ul>{items}</ul><h3>Planning inputs</h3><dl>{inputs_html}</dl>"
