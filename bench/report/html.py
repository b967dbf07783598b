"""The capacity report page: one self-contained HTML5 file (inline CSS and SVG, no scripts, no external assets).

``render_capacity_html`` turns a ``CapacityReport`` into the page a capacity planner hands on: the
recommendation, the key figures, four charts, the per-step table and how every number is computed.
A rate-stepped run (``--rates``) gets its own cards, charts, table and definitions (``bench.report.ratehtml``:
effective latency against arrival rate, achieved against target); a closed-loop run's page says that
its figures overstate what open (arrival-rate) traffic gets.
Every string from the user or the data is escaped with ``html.escape(..., quote=True)``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

from bench.analysis.capacity import SATURATION_GROWTH, CapacityReport, PlanningInputs, StepStats
from bench.gatespec import GateSpec
from bench.report.svg import Bar, HLine, Marker, Series, bar_chart, doubles, line_chart

DASH, TIMES = "\N{EM DASH}", "\N{MULTIPLICATION SIGN}"
PRICE_HINT = "pass --target-rps / --instance-type or --instance-price"
NO_POINT = "no step met the SLO"
NO_STEPS = "no stepped data: run with --steps"
THROUGHPUT_TITLE = "Throughput vs concurrency"
LATENCY_TITLE = "Latency vs throughput"
TTFP_TITLE = "Time to first part vs concurrency"
ERRORS_TITLE = "Error rate per step"

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1d1d1f;
max-width:1120px;margin:0 auto;padding:24px}h1{font-size:26px;margin:0 0 4px}.sub{color:#555;margin:0 0 18px}
h2{font-size:19px;margin:32px 0 10px;border-bottom:1px solid #ddd}code{background:#f4f4f4;padding:0 3px}
.callout{border-left:6px solid #1f5fa8;background:#eef4fb;padding:14px 18px;font-size:17px;margin:0 0 20px}
.callout.invalid{border-left-color:#b3261e;background:#fbeeee}tr.invalid td{color:#8a1c15}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:12px}
.card{border:1px solid #d6d6d6;border-radius:6px;padding:10px 14px}.card .label{color:#555;font-size:13px}
.card .value{font-size:24px;font-weight:650}.card .note{color:#666;font-size:12px;overflow-wrap:anywhere}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(500px,1fr));gap:16px}
figure{margin:0;border:1px solid #e3e3e3;border-radius:6px;padding:8px}figure svg{max-width:100%;height:auto}
figcaption{color:#555;font-size:13px;padding:4px 6px}th{background:#f4f4f4}td.text,th.text{text-align:left}
table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #e3e3e3;padding:4px 8px;text-align:right;vertical-align:top}
tr.point td{background:#eef4fb;font-weight:600}.broken{color:#b3261e}
.tag{font-size:11px;border:1px solid #888;border-radius:3px;padding:0 3px;margin-left:4px;font-weight:400}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px}dt{color:#555}dd{margin:0}
footer{margin-top:32px;color:#777;font-size:12px;border-top:1px solid #ddd}
@media print{body{padding:0;font-size:12px}figure,.card,tr{break-inside:avoid}.charts{display:block}
figure{margin-bottom:12px}.callout,tr.point td{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""


def render_capacity_html(
    report: CapacityReport, *, run_dir_name: str, generated_at: str, endpoint: str
) -> str:
    """The whole page, as one string of HTML5."""
    title = report.title or f"Capacity report: {endpoint}"
    if report.inputs.by_rate or any(s.by_rate for s in report.steps):
        from bench.report import ratehtml

        cards, charts = ratehtml.cards(report), ratehtml.charts(report)
        table, method = ratehtml.table(report), ratehtml.method(report)
    else:
        cards, charts, table, method = _cards(report), _charts(report), _table(report), _method(report)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
            f"<header><h1>{_e(title)}</h1>",
            f'<p class="sub">Endpoint <code>{_e(endpoint)}</code> · run <code>{_e(run_dir_name)}</code></p>',
            f'</header><p class="{_callout_class(report)}">{_e(report.recommendation.text)}</p>',
            cards,
            f"<h2>Charts</h2>{charts}<h2>Steps</h2>{table}{method}",
            f"<footer><p>Generated {_e(generated_at)} from run directory <code>{_e(run_dir_name)}</code>"
            " by sagemaker-bench.</p></footer>",
            "</body></html>",
        ]
    )


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float | None, unit: str = "") -> str:
    """Three useful figures: 1,234 / 56.7 / 8.91; a dash when missing."""
    if value is None or math.isnan(value):
        return DASH
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f}{unit}"


def _money(value: float | None, unit: str = "", *, exact: bool = False) -> str:
    """Dollars and cents, or every digit given (``exact``, for list prices such as $0.7364/h)."""
    if value is None or math.isnan(value):
        return DASH
    return f"${value:,g}{unit}" if exact else f"${value:,.2f}{unit}"


def _pct(rate: float | None) -> str:
    if rate is None or math.isnan(rate):
        return DASH
    percent = rate * 100
    return "0%" if percent == 0 else f"{percent:.2f}%" if percent >= 0.01 else f"{percent:.1g}%"


def _count(value: int | None, unit: str = "") -> str:
    return DASH if value is None else f"{value:,}{unit}"


def _unless(value: object, present: str, missing: str) -> str:
    return missing if value is None else present


def _card(label: str, value: str, note: str) -> str:
    return (
        f'<div class="card"><div class="label">{_e(label)}</div><div class="value">{_e(value)}</div>'
        f'<div class="note">{_e(note)}</div></div>'
    )


def _callout_class(report: CapacityReport) -> str:
    rec = report.recommendation
    return "callout invalid" if rec.invalid_steps else "callout"


def _missing_cost(report: CapacityReport, no_point: str = NO_POINT) -> str:
    """Why there is no fleet cost: what is missing, never an option that was given."""
    rec, inputs = report.recommendation, report.inputs
    if not report.steps:
        return NO_STEPS
    if rec.sustainable_rps is None:
        return no_point
    if rec.price_missing is not None:
        return rec.price_missing
    no_price = rec.price_per_hour is None
    if inputs.target_rps is None:
        return PRICE_HINT if no_price else "pass --target-rps"
    return "pass --instance-type or --instance-price" if no_price else DASH


def _lower_bound(report: CapacityReport) -> bool:
    """The SLO point is the last step and the endpoint did not saturate: its rps is a lower bound."""
    rec, steps = report.recommendation, report.steps
    return rec.at_least_rps is not None and bool(steps) and rec.sustainable_step == steps[-1].step


def _cards(report: CapacityReport) -> str:
    rec = report.recommendation
    no_point = NO_POINT if report.steps else NO_STEPS
    at = _unless(
        rec.sustainable_step, f"step {rec.sustainable_step}, {rec.sustainable_users} users", no_point
    )
    at += ": INVALID step (load generator not healthy)" if rec.sustainable_valid is False else ""
    bound = _lower_bound(report)
    at += "; at least: the endpoint did not saturate" if bound else ""
    stream = [f"TTFP p95 {_num(rec.ttfp_p95_ms, ' ms')}"] if rec.ttfp_p95_ms is not None else []
    stream += [f"{_num(rec.tokens_per_s)} tokens/s"] if rec.tokens_per_s is not None else []
    knee = f"step {rec.saturation_step}"
    knee += ": rests on an INVALID step" if rec.saturation_valid is False else ""
    not_reached = (
        f"not reached: at least {_num(rec.at_least_rps, ' req/s')} (the endpoint did not saturate)"
        if rec.at_least_rps is not None
        else no_point
    )
    cards = [
        (
            "Sustainable throughput per instance",
            ("≥ " if bound else "") + _num(rec.sustainable_rps, " req/s"),
            at,
        ),
        ("p95 latency at that point", _num(rec.latency_p95_ms, " ms"), ", ".join(stream) or at),
        (
            "Saturation concurrency",
            _count(rec.saturation_users, " users"),
            _unless(rec.saturation_step, knee, not_reached),
        ),
    ]
    return _card_section(cards + fleet_cards(report, bound=bound, no_point=no_point))


def _card_section(cards: Sequence[tuple[str, str, str]]) -> str:
    return f'<section class="cards">{"".join(_card(*card) for card in cards)}</section>'


def fleet_cards(report: CapacityReport, *, bound: bool, no_point: str) -> list[tuple[str, str, str]]:
    """Instances, autoscaling target, fleet cost, cost per million and price: (label, value, note)."""
    rec, inputs = report.recommendation, report.inputs
    target = f"for {_num(inputs.target_rps)} req/s with {inputs.headroom:.0%} headroom"
    target = ("at most, " if bound else "") + target
    no_target = _unless(rec.sustainable_rps, "pass --target-rps", no_point)
    each = f"{rec.instances} {TIMES} {_money(rec.price_per_hour, '/h', exact=True)}"
    return [
        ("Instances for the target", _count(rec.instances), _unless(rec.instances, target, no_target)),
        (
            "Autoscaling target",
            _num(rec.invocations_per_instance_per_minute, " /min"),
            f"SageMakerVariantInvocationsPerInstance, safety factor {inputs.safety_factor:g}",
        ),
        (
            "Fleet cost",
            _money(rec.fleet_cost_per_hour, "/h"),
            _unless(rec.fleet_cost_per_hour, each, _missing_cost(report, no_point)),
        ),
        (
            "Cost per million inferences",
            _money(rec.cost_per_million),
            _unless(
                rec.cost_per_million, f"at {_num(inputs.target_rps)} req/s", _missing_cost(report, no_point)
            ),
        ),
        (
            "Instance price",
            _money(rec.price_per_hour, "/h", exact=True),
            f"source: {rec.price_source}"
            if rec.price_source
            else rec.price_missing or "pass --instance-type or --instance-price",
        ),
    ]


def _slo_lines(inputs: PlanningInputs, metric: str, scale: float = 1.0) -> list[HLine]:
    """Threshold lines of the SLOs on ``metric`` (pNN, mean or max), in the chart's unit."""
    lines = []
    for gate in inputs.slos:
        if gate.metric == metric and gate.stat != "min":
            lines.append(HLine(gate.threshold * scale, gate.expression))
    return lines


def _has(steps: Sequence[StepStats], *fields: str) -> bool:
    return any(math.isfinite(getattr(s, f)) for s in steps for f in fields)


def _point_label(step: StepStats) -> str:
    return f"{step.users} user{'' if step.users == 1 else 's'}" + (" INVALID" if step.valid is False else "")


def _percentiles(steps: Sequence[StepStats], metric: str, by_users: bool) -> list[Series]:
    """p50, p95, p99 per step; by throughput, the top series' points say whose step they are."""
    labelled = () if by_users else tuple(_point_label(s) for s in steps)
    return [
        Series(
            f"p{q}",
            [(s.users if by_users else s.rps, getattr(s, f"{metric}_p{q}_ms")) for s in steps],
            labelled if q == 99 else (),
        )
        for q in (50, 95, 99)
    ]


def _charts(report: CapacityReport) -> str:
    steps, rec, inputs = report.steps, report.recommendation, report.inputs
    marks = ((rec.sustainable_users, "SLO point"), (rec.saturation_users, "saturation"))
    markers = [Marker(n, f"{name}: {n} users") for n, name in marks if n is not None]
    at_rps = f"SLO point: {_num(rec.sustainable_rps)} req/s"
    point = [Marker(rec.sustainable_rps, at_rps)] if rec.sustainable_rps is not None else []
    users, ms = "concurrent users", "dashed red lines are SLO thresholds."
    log = doubles([s.users for s in steps])
    if log:
        users += " (log2 scale)"
    invalid = tuple("INVALID" if s.valid is False else "" for s in steps)
    throughput = [Series("throughput", [(s.users, s.rps) for s in steps], invalid)]
    figures = [
        (
            line_chart(
                throughput,
                title=THROUGHPUT_TITLE,
                x_label=users,
                y_label="requests / s",
                markers=markers,
                x_log=log,
            ),
            "Measured throughput of each step. SLO point: the highest-throughput step meeting every SLO. "
            f"Saturation: the last step before throughput grew less than {SATURATION_GROWTH:.0%} while p50 rose."
            + (" INVALID: the load generator was not healthy in that step." if rec.invalid_steps else ""),
        ),
        (
            line_chart(
                _percentiles(steps, "latency", by_users=False),
                title=LATENCY_TITLE,
                x_label="requests / s",
                y_label="latency (ms)",
                hlines=_slo_lines(inputs, "latency"),
                markers=point,
            ),
            "Latency percentiles of successful requests at the throughput each step reached (each step "
            f"labelled with its users); {ms}",
        ),
    ]
    if _has(steps, "ttfp_p50_ms", "ttfp_p95_ms", "ttfp_p99_ms"):
        ttfp = line_chart(
            _percentiles(steps, "ttfp", by_users=True),
            title=TTFP_TITLE,
            x_label=users,
            y_label="time to first part (ms)",
            hlines=_slo_lines(inputs, "ttfp"),
            markers=markers,
            x_log=log,
        )
        figures.append((ttfp, f"Time from the request to the first streamed part, per step; {ms}"))
    errors = bar_chart(
        [Bar(str(s.users), s.error_rate * 100) for s in steps],
        title=ERRORS_TITLE,
        x_label=f"{users.removesuffix(' (log2 scale)')} (one bar per step)",
        y_label="errors (% of requests)",
        hlines=_slo_lines(inputs, "error_rate", 100.0),
        value_text=lambda v: _pct(v / 100),
        y_unit="%",
    )
    figures.append((errors, f"Errors as a share of all requests in each step's measured window; {ms}"))
    body = "".join(
        f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>" for svg, caption in figures
    )
    return f'<section class="charts">{body}</section>'


def _health(step: StepStats) -> str:
    if step.valid is None:
        return "not recorded"
    if step.valid:
        return "ok"
    return f'<span class="broken">INVALID: {_e("; ".join(step.invalid_reasons))}</span>'


def _verdict(step: StepStats, slos: Sequence[GateSpec]) -> str:
    if not slos:
        return "no SLO given"
    return "ok" if step.slo_ok else f'<span class="broken">broken: {_e("; ".join(step.slo_failures))}</span>'


def _table(report: CapacityReport) -> str:
    steps, rec = report.steps, report.recommendation
    ttfp, tokens = _has(steps, "ttfp_p95_ms"), _has(steps, "tokens_per_s")
    head = ["step", "users", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms"]
    head += ["TTFP p95 ms"] * ttfp + ["tokens/s"] * tokens + ["errors", "in flight (÷ users)"]

    def cells(s: StepStats) -> list[str]:
        tags = [
            name
            for name, at in (("SLO point", rec.sustainable_step), ("saturation", rec.saturation_step))
            if at == s.step
        ] + ["INVALID"] * (s.valid is False)
        out = [
            f"{s.step}" + "".join(f'<span class="tag">{t}</span>' for t in tags),
            str(s.users),
            f"{s.count:,}",
        ]
        out += [_num(v) for v in (s.rps, s.latency_p50_ms, s.latency_p95_ms, s.latency_p99_ms)]
        out += [_num(s.ttfp_p95_ms)] * ttfp + [_num(s.tokens_per_s)] * tokens
        out += [
            f"{_pct(s.error_rate)} ({s.errors:,})",
            f"{_num(s.in_flight_mean)} ({_num(s.littles_law_ratio)})",
        ]
        return out

    return step_table(
        report,
        head,
        cells,
        lambda s: _verdict(s, report.inputs.slos),
        verdict_head="SLO",
        empty_text="No stepped data: run with --steps.",
    )


def step_table(
    report: CapacityReport,
    head: Sequence[str],
    cells: Callable[[StepStats], list[str]],
    verdict: Callable[[StepStats], str],
    *,
    verdict_head: str,
    empty_text: str,
) -> str:
    """The per-step table of a capacity report (users or rate steps): a row of ``cells`` per step, its
    ``verdict`` and, when recorded, the load generator's health; the SLO point's row and invalid ones marked."""
    steps, rec = report.steps, report.recommendation
    judged = any(s.valid is not None for s in steps)
    rows = []
    for s in steps:
        row = (
            "".join(f"<td>{c}</td>" for c in cells(s))
            + f'<td class="text">{verdict(s)}</td>'
            + (f'<td class="text">{_health(s)}</td>' if judged else "")
        )
        kinds = ["point"] * (s.step == rec.sustainable_step) + ["invalid"] * (s.valid is False)
        rows.append(f'<tr class="{" ".join(kinds)}">{row}</tr>' if kinds else f"<tr>{row}</tr>")
    if not rows:
        rows.append(f'<tr><td class="text" colspan="{len(head) + 1}">{empty_text}</td></tr>')
    header = (
        "".join(f"<th>{_e(h)}</th>" for h in head)
        + f'<th class="text">{verdict_head}</th>'
        + ('<th class="text">load generator</th>' if judged else "")
    )
    table = f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    if steps and not judged:
        table += (
            '<p class="sub">Load generator health per step: not recorded (the run has no health.csv).</p>'
        )
    return table


def _method(report: CapacityReport) -> str:
    inputs, rec = report.inputs, report.recommendation
    x = TIMES
    definitions = [
        f"Each step's measured window starts {inputs.ramp_s:g} s (the ramp, --step-ramp) after the step began "
        "and ends at the step's last completion before the step ended.",
        "Throughput (req/s): the step's requests that completed in the window ÷ the window's length (the "
        "live progress line prints the same figure). Latency percentiles are exact, over the successful "
        "requests that started in the window (also those that completed after the step ended; requests "
        "that started in the ramp are left out); the error rate is errors ÷ all of them.",
        "Load generator: each step is judged on the health samples taken in its window (health.csv: CPU p95 "
        "at most 90% of a core and event-loop lag p99 at most 20 ms, per worker). An INVALID step measured "
        "the load generator as much as the endpoint; not recorded: the run wrote no health.csv.",
        f"In flight (Little's law): throughput {x} mean latency of all requests in the window. In a closed-loop "
        "step it should be close to the number of users; the ratio in brackets is in flight ÷ users.",
        "SLO point: the highest-throughput step whose own statistics meet every SLO. Its throughput is the "
        "maximum sustainable throughput of one instance; a lower bound (≥, at least) when it is the last "
        "step and the endpoint did not saturate.",
        f"Saturation: the first step whose throughput grew less than {SATURATION_GROWTH:.0%} over the previous "
        "step while its p50 latency rose; the previous step's users are the saturation concurrency.",
        f"Instances for the target: ceil(target req/s {x} (1 + headroom) ÷ sustainable req/s), at least 1.",
        "Autoscaling target (SageMakerVariantInvocationsPerInstance, per minute): "
        f"sustainable req/s {x} 60 {x} safety factor (AWS's load-testing guidance uses 0.5).",
        f"Cost: instances {x} price per hour; per million inferences: fleet cost per hour ÷ "
        f"(target req/s {x} 3600) {x} 1,000,000.",
        "Closed loop (--steps): each user waits for its response before it sends the next request, so the "
        "endpoint is never offered more than it serves and its queue never grows: these figures overstate "
        "what open (arrival-rate) traffic gets, whose latency at the same rate is higher. Plan with --rates "
        "(arrival rate per step, latency from the intended send time).",
    ]
    slos = ", ".join(f"<code>{_e(s.expression)}</code>" for s in inputs.slos) or "none"
    price = (
        f"{_money(rec.price_per_hour, '/h', exact=True)} ({rec.price_source})" if rec.price_source else DASH
    )
    planning = [
        ("SLOs", slos),
        ("Target throughput", _e(_num(inputs.target_rps, " req/s"))),
        ("Headroom", _e(f"{inputs.headroom:.0%}")),
        ("Safety factor", _e(f"{inputs.safety_factor:g}")),
        ("Instance type", _e(inputs.instance_type or DASH)),
        ("Instance price", _e(price)),
        ("Ramp per step", _e(f"{inputs.ramp_s:g} s")),
    ]
    items = "".join(f"<li>{_e(d)}</li>" for d in definitions)
    inputs_html = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in planning)
    return f"<h2>How these numbers are computed</h2><ul>{items}</ul><h3>Planning inputs</h3><dl>{inputs_html}</dl>"
