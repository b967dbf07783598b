"""The capacity report page: self-contained, well-formed SVG, the right charts and SLO lines, escaping."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import xml.etree.ElementTree as ET
from html import escape
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from bench.analysis.capacity import (
    CapacityReport,
    PlanningInputs,
    RateStep,
    StepStats,
    capacity_report,
    recommend,
)
from bench.gatespec import GateSpec, parse_gates
from bench.report.html import (
    ERRORS_TITLE,
    LATENCY_TITLE,
    PRICE_HINT,
    THROUGHPUT_TITLE,
    TTFP_TITLE,
    render_capacity_html,
)
from bench.report.ratehtml import ACHIEVED_TITLE, EFFECTIVE_TITLE, LATE_TITLE
from bench.report.svg import Bar, HLine, Marker, Series, bar_chart, label_box, line_chart, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(1)</script>"
QUOTED = '" onload="x'
NAN = float("nan")


def _frame(users: tuple[int, ...] = (1, 2, 4, 8, 16), *, streams: bool = True) -> pd.DataFrame:
    """A closed-loop stepped run against 4 slots of ~20 ms: throughput saturates near 200 req/s."""
    rng = np.random.default_rng(7)
    rows: list[dict[str, object]] = []
    for step, n in enumerate(users, start=1):
        start = step * 10.0
        for user in range(n):
            t = start + user * 0.001
            while t < start + 1.0:
                latency_ms = 20.0 * max(1.0, n / 4) * float(rng.lognormal(0.0, 0.25))
                failed = n == 16 and len(rows) % 50 == 0
                rows.append(
                    {
                        "timestamp_s": t,
                        "end_s": t + latency_ms / 1000,
                        "step": float(step),
                        "users": n,
                        "status": "error" if failed else "ok",
                        "latency_ms": latency_ms,
                        "ttfp_ms": latency_ms * 0.3 if streams else NAN,
                        "tokens": 64.0 if streams else NAN,
                    }
                )
                t += latency_ms / 1000
    return pd.DataFrame(rows)


INPUTS = PlanningInputs(
    slos=parse_gates(("p95(latency)<50ms", "p99(ttfp)<15ms", "error_rate<1%", "min(latency)>1ms")),
    target_rps=1000.0,
    instance_type="ml.g5.xlarge",
)


def _render(report: CapacityReport, **strings: str) -> str:
    names = {
        "run_dir_name": "20261121T014258Z-demo",
        "generated_at": "2026-11-21 01:45 UTC",
        "endpoint": "demo",
    }
    return render_capacity_html(report, **{**names, **strings})


def _svgs(page: str) -> list[ET.Element]:
    """Every inline <svg>, parsed as XML (fails the test when one is not well-formed)."""
    blocks = re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)
    return [ET.fromstring(block) for block in blocks]


def _chart(page: str, title: str) -> ET.Element:
    found = [svg for svg in _svgs(page) if svg.findtext(f"{SVG}title") == title]
    assert len(found) == 1, f"expected one chart titled {title!r}"
    return found[0]


def _slo_labels(svg: ET.Element) -> list[str]:
    """The label drawn right after each SLO line."""
    children = list(svg)
    return [children[i + 1].text or "" for i, c in enumerate(children) if c.get("class") == "slo-line"]


def _tick_y(svg: ET.Element, label: str) -> str:
    """The y of the grid line of the y tick labelled ``label`` (grid line, then its label)."""
    children = list(svg)
    return next(children[i - 1].get("y1", "") for i, c in enumerate(children) if c.text == label)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


def _tags(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    return parser


def _step(step: int, users: int, rps: float, p50: float, **changes: object) -> StepStats:
    base = StepStats(
        step=step,
        users=users,
        start_s=0.0,
        end_s=10.0,
        count=int(rps * 10) if math.isfinite(rps) else 0,
        errors=0,
        error_rate=0.0,
        rps=rps,
        latency_mean_ms=p50,
        latency_p50_ms=p50,
        latency_p95_ms=p50 * 1.5,
        latency_p99_ms=p50 * 2,
        ttfp_p50_ms=NAN,
        ttfp_p95_ms=NAN,
        ttfp_p99_ms=NAN,
        tokens_per_s=NAN,
        in_flight_mean=rps * p50 / 1000,
        littles_law_ratio=rps * p50 / 1000 / users,
        slo_ok=True,
        slo_failures=(),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _report(steps: tuple[StepStats, ...], inputs: PlanningInputs, title: str = "") -> CapacityReport:
    return CapacityReport(steps=steps, inputs=inputs, recommendation=recommend(steps, inputs), title=title)


def test_realistic_report_is_self_contained_with_every_chart() -> None:
    report = capacity_report(_frame(), INPUTS, title="g5 capacity")
    page = _render(report)
    assert page.startswith("<!DOCTYPE html>")
    rec = report.recommendation
    assert (rec.sustainable_users, rec.saturation_users, rec.instances) == (4, 4, 7)
    without_ns = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in without_ns
    assert "https://" not in without_ns
    tags = _tags(page)
    assert "script" not in tags.tags
    assert "link" not in tags.tags
    assert "src" not in tags.attributes
    assert "url(" not in page
    svgs = _svgs(page)
    assert [svg.findtext(f"{SVG}title") for svg in svgs] == [
        THROUGHPUT_TITLE,
        LATENCY_TITLE,
        TTFP_TITLE,
        ERRORS_TITLE,
    ]
    assert page.count("<figure>") == page.count("<figcaption>") == 4
    throughput = _chart(page, THROUGHPUT_TITLE)
    markers = [
        t.text for t in throughput.iter(f"{SVG}text") if t.text and t.text.startswith(("SLO", "satur"))
    ]
    assert markers == ["SLO point: 4 users", "saturation: 4 users"]
    assert len(throughput.findall(f".//{SVG}circle")) == 5 + 1  # five steps and the legend
    assert escape(report.recommendation.text, quote=True) in page
    assert "$9.86/h" in page  # 7 instances x ml.g5.xlarge at $1.408/h
    assert "TTFP p95 ms" in page
    assert "tokens/s" in page


def test_slo_lines_on_the_matching_charts_only() -> None:
    page = _render(capacity_report(_frame(), INPUTS))
    assert _slo_labels(_chart(page, LATENCY_TITLE)) == ["p95(latency)<50ms"]  # not min(latency)
    assert _slo_labels(_chart(page, TTFP_TITLE)) == ["p99(ttfp)<15ms"]
    assert _slo_labels(_chart(page, ERRORS_TITLE)) == ["error_rate<1%"]
    assert _slo_labels(_chart(page, THROUGHPUT_TITLE)) == []
    latency = _chart(page, LATENCY_TITLE)
    (line,) = latency.findall(f"{SVG}line[@class='slo-line']")
    assert line.get("y1") == _tick_y(latency, "50")  # drawn at its threshold on the y axis


def test_without_slos_no_slo_lines_and_no_verdicts() -> None:
    page = _render(capacity_report(_frame(), PlanningInputs()))
    assert 'class="slo-line"' not in page
    assert "no SLO given" in page


def test_ttfp_chart_and_columns_absent_without_streams() -> None:
    page = _render(capacity_report(_frame(streams=False), INPUTS))
    titles = [svg.findtext(f"{SVG}title") for svg in _svgs(page)]
    assert titles == [THROUGHPUT_TITLE, LATENCY_TITLE, ERRORS_TITLE]
    assert "TTFP p95 ms" not in page
    assert "tokens/s</th>" not in page


def test_missing_target_and_price_show_a_dash_and_a_hint() -> None:
    page = _render(capacity_report(_frame(), PlanningInputs(slos=parse_gates(("p95(latency)<50ms",)))))
    assert PRICE_HINT in page
    assert "pass --target-rps" in page
    assert '<div class="value">—</div>' in page


def test_hostile_strings_are_escaped_everywhere() -> None:
    slos = (  # made directly, whatever the gate grammar accepts as a name
        GateSpec(f"name:{HOSTILE} p95(latency)<30ms", "latency", "p95", "<", 30.0, name=HOSTILE),
        GateSpec(f"name:{QUOTED} p95(latency)<40ms", "latency", "p95", "<", 40.0, name=QUOTED),
        GateSpec(expression=HOSTILE, metric="latency", stat="p95", op="<", threshold=50.0),
    )
    inputs = PlanningInputs(slos=slos, target_rps=100.0, instance_type=QUOTED + HOSTILE, instance_price=1.0)
    steps = (
        _step(1, 4, 100.0, 10.0),
        _step(2, 8, 120.0, 60.0, slo_ok=False, slo_failures=(f"{HOSTILE} (61.00 ms)", QUOTED)),
    )
    rec = dataclasses.replace(recommend(steps, inputs), text=HOSTILE + QUOTED, price_source=HOSTILE + QUOTED)
    report = CapacityReport(steps=steps, inputs=inputs, recommendation=rec, title=HOSTILE + QUOTED)
    page = _render(report, endpoint=HOSTILE + QUOTED, run_dir_name=QUOTED + HOSTILE, generated_at=HOSTILE)
    assert "<script>" not in page
    assert QUOTED not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot; onload=&quot;x" in page
    tags = _tags(page)
    assert "script" not in tags.tags
    assert "onload" not in tags.attributes
    assert _slo_labels(_chart(page, LATENCY_TITLE)) == [
        s.expression for s in slos
    ]  # unescaped by the XML parser


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param((), id="no steps"),
        pytest.param((_step(1, 4, 100.0, 10.0),), id="one step"),
        pytest.param((_step(1, 4, 0.0, 10.0), _step(2, 8, 0.0, 10.0)), id="zero throughput"),
        pytest.param((_step(1, 4, 50.0, 10.0), _step(2, 4, 50.0, 10.0)), id="all equal"),
        pytest.param(
            (
                _step(1, 4, 100.0, NAN, error_rate=1.0, errors=1000, slo_ok=False, slo_failures=("x",)),
                _step(2, 8, NAN, NAN, error_rate=NAN, ttfp_p95_ms=NAN, littles_law_ratio=NAN),
            ),
            id="nans",
        ),
    ],
)
def test_degenerate_reports_render(steps: tuple[StepStats, ...]) -> None:
    inputs = PlanningInputs(
        slos=parse_gates(("p95(latency)<30ms", "error_rate<1%")), target_rps=10.0, instance_price=2.0
    )
    page = _render(_report(steps, inputs))
    svgs = _svgs(page)
    assert len(svgs) == 3
    for svg in svgs:
        for element in svg.iter():
            for name in ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "width", "height", "points", "d"):
                assert "nan" not in element.get(name, "").lower()
    if not steps:
        assert page.count(">no data</text>") == 3
        assert "No stepped data" in page


def test_line_chart_skips_non_finite_points_and_pads_a_flat_range() -> None:
    svg = ET.fromstring(
        line_chart(
            [Series("a", [(1.0, 5.0), (NAN, 1.0), (2.0, math.inf), (3.0, 5.0)])],
            title="t",
            x_label="x",
            y_label="y",
            hlines=[HLine(1000.0, "far above")],
        )
    )
    assert len(svg.findall(f".//{SVG}circle")) == 3  # two points and the legend
    assert "far above: above the chart" in [t.text for t in svg.iter(f"{SVG}text")]


def test_bar_chart_labels_and_leaves_nan_bars_empty() -> None:
    svg = ET.fromstring(bar_chart([Bar("1", 0.5), Bar("2", NAN)], title="e", x_label="x", y_label="y"))
    assert len(svg.findall(f".//{SVG}rect[@class='bar']")) == 1
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "1" in texts
    assert "2" in texts


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (0.0, 7.3, [0.0, 2.0, 4.0, 6.0, 8.0]),
        (0.0, 230.0, [0.0, 50.0, 100.0, 150.0, 200.0, 250.0]),
        (0.0, 0.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (5.0, 5.0, [4.4, 4.6, 4.8, 5.0, 5.2, 5.4, 5.6]),
        (NAN, 3.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    ],
)
def test_nice_ticks_are_on_a_1_2_5_grid(low: float, high: float, expected: list[float]) -> None:
    assert nice_ticks(low, high) == expected


# ---- issue #13 item 17: what the cards blame, plurals, prices, axes, labels ------------------------


def _card_note(page: str, label: str) -> str:
    match = re.search(
        rf'<div class="label">{re.escape(label)}</div><div class="value">.*?</div><div class="note">(.*?)</div>',
        page,
    )
    assert match, label
    return match.group(1)


def test_cost_cards_blame_no_option_that_was_given_when_no_step_met_the_slo() -> None:
    inputs = PlanningInputs(
        slos=parse_gates(("p95(latency)<5ms",)), target_rps=1000.0, instance_type="ml.g5.xlarge"
    )
    page = _render(capacity_report(_frame(), inputs))
    for card in ("Fleet cost", "Cost per million inferences", "Instances for the target"):
        assert _card_note(page, card) == "no step met the SLO"
    assert "pass --target-rps" not in page
    assert PRICE_HINT not in page


def test_an_unknown_instance_type_says_it_has_no_price() -> None:
    inputs = PlanningInputs(
        slos=parse_gates(("p95(latency)<50ms",)), target_rps=1000.0, instance_type="ml.xyz"
    )
    report = capacity_report(_frame(), inputs)
    page = _render(report)
    hint = "no price for ml.xyz in the built-in table: pass --instance-price"
    for card in ("Fleet cost", "Cost per million inferences", "Instance price"):
        assert _card_note(page, card) == hint
    assert hint in report.recommendation.text


def test_one_instance_is_one_instance() -> None:
    inputs = PlanningInputs(slos=parse_gates(("p95(latency)<50ms",)), target_rps=50.0, instance_price=1.0)
    report = capacity_report(_frame(), inputs)
    assert report.recommendation.instances == 1
    assert "1 instance serves 50 req/s" in _render(report)
    assert "1 instances" not in _render(report)


def _ticks(svg: ET.Element, below: float) -> list[tuple[float, str]]:
    """The x tick labels (x, text): the texts just under the plot."""
    return [
        (float(t.get("x", "0")), t.text or "")
        for t in svg.iter(f"{SVG}text")
        if float(t.get("y", "0")) == below and t.get("text-anchor") == "middle" and t.text
    ]


def test_doubling_users_get_a_log2_axis_ticked_at_each_step() -> None:
    page = _render(capacity_report(_frame(), INPUTS))
    for title in (THROUGHPUT_TITLE, TTFP_TITLE):
        svg = _chart(page, title)
        ticks = _ticks(svg, 320 - 46 + 16)
        assert [text for _, text in ticks] == ["1", "2", "4", "8", "16"]
        gaps = {round(b[0] - a[0], 1) for a, b in itertools.pairwise(ticks)}
        assert len(gaps) == 1  # one doubling, one distance
        assert "log2" in "".join(svg.itertext())
    linear = _render(capacity_report(_frame((10, 20, 30, 40)), INPUTS))  # even steps: a linear axis
    assert "log2" not in "".join(_chart(linear, THROUGHPUT_TITLE).itertext())


def test_the_error_chart_reads_in_percent() -> None:
    page = _render(capacity_report(_frame(), INPUTS))
    errors = _chart(page, ERRORS_TITLE)
    y_labels = [
        t.text or ""
        for t in errors.iter(f"{SVG}text")
        if t.get("text-anchor") == "end" and t.get("x") == "58.0"
    ]
    assert float(y_labels[0].removesuffix("%")) == 0.0
    assert all(label.endswith("%") for label in y_labels)
    (line,) = errors.findall(f"{SVG}line[@class='slo-line']")  # error_rate<1%: at the 1% tick
    assert line.get("y1") == _tick_y(errors, "1.0%")


def test_latency_points_say_whose_step_they_are() -> None:
    report = capacity_report(_frame(), INPUTS)
    latency = _chart(_render(report), LATENCY_TITLE)
    labels = [t.text for t in latency.iter(f"{SVG}text") if t.get("class") == "point-label"]
    assert labels == ["1 user", "2 users", "4 users", "8 users", "16 users"]
    invalid = dataclasses.replace(
        report, steps=tuple(dataclasses.replace(s, valid=s.users != 16) for s in report.steps)
    )
    labels = [
        t.text
        for t in _chart(_render(invalid), LATENCY_TITLE).iter(f"{SVG}text")
        if t.get("class") == "point-label"
    ]
    assert labels[-1] == "16 users INVALID"


def _label_boxes(svg: ET.Element) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Every text drawn inside the plot (SLO, marker and point labels), with its estimated box."""
    out = []
    for t in svg.iter(f"{SVG}text"):
        x, y = float(t.get("x", "0")), float(t.get("y", "0"))
        if t.text and 64 < x < 640 and 58 <= y < 320 - 46:
            out.append((t.text, label_box(x, y, t.text, t.get("text-anchor", "start"))))
    return out


def test_labels_do_not_overlap_even_when_points_crowd() -> None:
    # saturated steps pile up at the same throughput; SLO point and saturation at the same step; the SLO
    # line runs through the points' labels and the markers' corner
    steps = (
        _step(1, 1, 45.0, 10.0),
        _step(2, 2, 90.0, 10.0),
        _step(3, 4, 182.0, 11.0),
        _step(4, 8, 196.0, 18.0, slo_ok=False),
        _step(5, 16, 197.0, 36.0, slo_ok=False),
        _step(6, 32, 197.5, 72.0, slo_ok=False),
    )
    inputs = PlanningInputs(
        slos=parse_gates(("p95(latency)<27ms", "p99(latency)<140ms", "max(latency)<150ms"))
    )
    page = _render(_report(steps, inputs))
    for title in (THROUGHPUT_TITLE, LATENCY_TITLE):
        boxes = _label_boxes(_chart(page, title))
        assert len(boxes) >= (2 if title == THROUGHPUT_TITLE else 2 + 6)  # markers (+ SLOs and points)
        for i, (text, a) in enumerate(boxes):
            for other, b in boxes[i + 1 :]:
                overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
                assert not overlap, f"{text!r} overlaps {other!r} in {title!r}"
    latency = _chart(page, LATENCY_TITLE)
    assert _slo_labels(latency) == ["p95(latency)<27ms", "p99(latency)<140ms", "max(latency)<150ms"]
    labels = [t.text for t in latency.iter(f"{SVG}text") if t.get("class") == "point-label"]
    assert labels == ["1 user", "2 users", "4 users", "8 users", "16 users", "32 users"]


def test_an_slo_label_near_the_top_keeps_clear_of_the_marker_labels() -> None:
    """Markers at the right end stack their labels at the top, where an SLO line's label also sits."""
    for top in (2.0, 2.05, 2.1, 2.2):
        svg = ET.fromstring(
            line_chart(
                [Series("a", [(1.0, 1.0), (10.0, 2.0)])],
                title="t",
                x_label="x",
                y_label="y",
                markers=[Marker(10.0, "SLO point: 10 users"), Marker(10.0, "saturation: 10 users")],
                hlines=[HLine(top, "p95(latency)<250ms")],
            )
        )
        boxes = _label_boxes(svg)
        assert sorted(text for text, _ in boxes) == [
            "SLO point: 10 users",
            "p95(latency)<250ms",
            "saturation: 10 users",
        ]
        for i, (text, a) in enumerate(boxes):
            for other, b in boxes[i + 1 :]:
                assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (top, text, other)


# ---- issue #13 item 6: invalid steps and lower bounds on the page -----------------------------------


def test_invalid_steps_are_marked_in_the_table_cards_and_callout() -> None:
    report = capacity_report(_frame(), INPUTS)
    reason = "event-loop lag p99 35.1 ms (limit 20 ms)"
    steps = tuple(
        dataclasses.replace(s, valid=s.users != 4, invalid_reasons=(reason,) if s.users == 4 else ())
        for s in report.steps
    )
    page = _render(_report(steps, INPUTS))
    assert 'class="callout invalid"' in page
    assert "The SLO point, step 3, is INVALID (event-loop lag p99 35.1 ms (limit 20 ms))" in page
    assert "INVALID step (load generator not healthy)" in _card_note(
        page, "Sustainable throughput per instance"
    )
    assert "rests on an INVALID step" in _card_note(page, "Saturation concurrency")
    assert f'<span class="broken">INVALID: {escape(reason)}</span>' in page
    assert '<tr class="point invalid">' in page
    assert '<th class="text">load generator</th>' in page
    unjudged = _render(report)  # no health.csv: no column, one line saying so
    assert "load generator</th>" not in unjudged
    assert "Load generator health per step: not recorded" in unjudged


def test_without_saturation_the_cards_say_at_least() -> None:
    steps = (_step(1, 1, 45.0, 10.0), _step(2, 2, 90.0, 10.0), _step(3, 4, 182.0, 10.5))
    page = _render(_report(steps, PlanningInputs(target_rps=800.0, instance_price=1.0)))
    assert '<div class="value">≥ 182 req/s</div>' in page
    assert (
        _card_note(page, "Saturation concurrency")
        == "not reached: at least 182 req/s (the endpoint did not saturate)"
    )
    assert _card_note(page, "Instances for the target").startswith("at most, for 800 req/s")
    assert "sustains at least 182 req/s (the endpoint did not saturate)" in page


# ---- a rate-stepped (open-loop) run -------------------------------------------------------------------

RATE_T0, RATE_STEP_S = 5000.0, 4.0
RATE_INPUTS = PlanningInputs(
    slos=parse_gates(("p95(latency)<20ms", "p99(effective_latency)<40ms", "error_rate<1%")),
    target_rps=2000.0,
    instance_type="ml.g5.xlarge",
    ramp_s=1.0,
    step_duration_s=RATE_STEP_S,
    started_s=RATE_T0,
    rates=(200.0, 400.0, 800.0),
    rate_steps=tuple(
        RateStep(k, rate, RATE_T0 + (k - 1) * (RATE_STEP_S + 0.2))
        for k, rate in enumerate((200.0, 400.0, 800.0), 1)
    ),
)


def _open_frame() -> pd.DataFrame:
    """Poisson arrivals per step against ~900 req/s of capacity: at 800 req/s the queue adds 30 ms."""
    rng = np.random.default_rng(11)
    rows: list[dict[str, object]] = []
    for step in RATE_INPUTS.rate_steps:
        t = step.started_s
        while (t := t + float(rng.exponential(1 / step.target_rate_per_s))) < step.started_s + RATE_STEP_S:
            service = 8.0 * float(rng.lognormal(0.0, 0.3)) + (30.0 if step.target_rate_per_s > 500 else 0.0)
            lag = 2.0 if rng.random() < 0.002 else 0.1
            rows.append(
                {"timestamp_s": t + lag / 1000, "end_s": t + (lag + service) / 1000, "users": 100.0, "status": "ok",
                 "latency_ms": service, "effective_latency_ms": service + lag, "schedule_lag_ms": lag,
                 "ttfp_ms": NAN, "tokens": NAN, "step": NAN}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_a_rate_stepped_report_plots_effective_latency_and_achieved_against_the_target() -> None:
    report = capacity_report(_open_frame(), RATE_INPUTS)
    rec = report.recommendation
    assert (rec.loop, rec.sustainable_rps, rec.failing_rate_per_s) == ("open", 400.0, 800.0)
    page = _render(report)
    titles = [svg.findtext(f"{SVG}title") for svg in _svgs(page)]  # every SVG well-formed
    assert titles == [EFFECTIVE_TITLE, ACHIEVED_TITLE, LATE_TITLE, ERRORS_TITLE]
    assert THROUGHPUT_TITLE not in page
    effective = _chart(page, EFFECTIVE_TITLE)
    assert _slo_labels(effective) == ["p95(latency)<20ms", "p99(effective_latency)<40ms"]
    assert "sustainable: 400 req/s" in [t.text for t in effective.iter(f"{SVG}text")]
    assert [t.text for t in effective.iter(f"{SVG}text") if t.text == "failed"] == ["failed"]  # the 800 step
    achieved = _chart(page, ACHIEVED_TITLE)
    legend = [t.text for t in achieved.iter(f"{SVG}text")]
    assert {"target", "achieved", "completed"} <= set(legend)
    late = [t.text for t in _chart(page, LATE_TITLE).iter(f"{SVG}text")]
    assert "limit 1%: above the chart" in late  # 0.2% late: the limit is listed, not drawn
    for header in ("target req/s", "achieved req/s", "effective p95 ms", "service p95 ms", "late"):
        assert f"<th>{header}</th>" in page
    assert "Sustainable arrival rate per instance" in page
    assert "Lowest failing rate" in page
    assert "Saturation concurrency" not in page
    assert "judged on the effective latency" in page
    assert escape(rec.text, quote=True) in page
    assert rec.instances == 7  # ceil(2000 x 1.3 / 400)
    assert "$9.86/h" in page  # 7 x $1.408/h
