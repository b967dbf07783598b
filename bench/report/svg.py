"""Small, dependency-free SVG charts for the HTML report: line and bar charts with axes, ticks, a legend and
a ``<title>``.

Callers pass plain text: every string that reaches the SVG is escaped here. Points with a non-finite
coordinate are skipped, ranges always include zero, and an empty or flat range is padded so the axes stay
readable. Series differ in colour, dash pattern and point shape, so charts still read in greyscale.
Reference lines (``HLine``, e.g. SLO thresholds) more than twice above the data are listed, not drawn.
The x axis is linear, or log2 (``x_log``: for user counts that double, ticked at the data's own values);
tick labels carry the axis unit (``y_unit``, e.g. ``%``). Every label (reference lines, markers, point
labels) is placed where it overlaps no other label, no point and no legend, or not drawn (a point keeps
its tooltip); label boxes are estimated from the text length (``label_box``).
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

SVG_NS = "http://www.w3.org/2000/svg"
PALETTE = (("#1f5fa8", "none", "circle"), ("#d9730d", "7 3", "square"), ("#2e8540", "2 3", "diamond"))
HLINE_COLOUR, MARKER_COLOUR, INK, GREY = "#b3261e", "#444", "#222", "#e3e3e3"
HALO = ' paint-order="stroke" stroke="#fff" stroke-width="3"'  # labels stay legible over lines and bars
LEFT, RIGHT, TOP, BOTTOM = 64, 20, 58, 46


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    labels: Sequence[str] = ()  # one per point ("" for none), drawn beside the point


@dataclass(frozen=True)
class HLine:
    y: float
    label: str


@dataclass(frozen=True)
class Marker:
    x: float
    label: str


@dataclass(frozen=True)
class Bar:
    label: str
    value: float


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _n(value: float) -> str:
    return f"{value:.1f}"


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = INK, extra: str = "") -> str:
    return f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{fill}"{extra}>{_e(text)}</text>'


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, extra: str = "") -> str:
    return f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{stroke}"{extra}/>'


CHAR_W, LINE_H = 6.2, 13.0  # a label's estimated advance per character and line height at font-size 11
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def label_box(x: float, y: float, text: str, anchor: str = "start") -> Box:
    """The box a one-line label at baseline ``(x, y)`` is estimated to cover."""
    width = CHAR_W * len(text)
    left = x - width if anchor == "end" else x - width / 2 if anchor == "middle" else x
    return (left, y - 10.0, left + width, y + 3.0)


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class _Labels:
    """What is drawn so far: labels, and data (points, lines, bars, the legend). ``place`` puts a label
    at the first candidate spot clear of both; failing that, clear of the labels (over a line, never
    over another label); failing that, nowhere."""

    def __init__(self, bounds: Box) -> None:
        self.bounds = bounds
        self.labels: list[Box] = []
        self.data: list[Box] = []

    def take(self, box: Box) -> None:
        self.data.append(box)

    def take_segment(self, x1: float, y1: float, x2: float, y2: float) -> None:
        """A line drawn: labels keep off it (small boxes every 4 px along it)."""
        n = max(1, math.ceil(math.hypot(x2 - x1, y2 - y1) / 4.0))
        for k in range(n + 1):
            x, y = x1 + (x2 - x1) * k / n, y1 + (y2 - y1) * k / n
            self.data.append((x - 1.5, y - 1.5, x + 1.5, y + 1.5))

    def place(
        self, text: str, spots: Sequence[tuple[float, float, str]], fill: str = INK, extra: str = ""
    ) -> str | None:
        """The ``<text>`` at the first free spot ``(x, y, anchor)``, its box taken; None when none is free."""
        x0, y0, x1, y1 = self.bounds
        for avoid in (self.labels + self.data, self.labels):
            for x, y, anchor in spots:
                box = label_box(x, y, text, anchor)
                inside = box[0] >= x0 and box[2] <= x1 and box[1] >= y0 and box[3] <= y1
                if inside and not any(_overlap(box, other) for other in avoid):
                    self.labels.append(box)
                    return _text(x, y, text, anchor, fill, extra)
        return None


def nice_ticks(low: float, high: float, intervals: int = 5) -> list[float]:
    """Ticks on a 1-2-5 grid covering ``[low, high]``; an empty range is padded first."""
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = 0.0, 1.0
    low, high = min(low, high), max(low, high)
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = (max(low - pad, 0.0) if low >= 0 else low - pad), high + pad
    raw = (high - low) / intervals
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [round(i * step, 12) + 0.0 for i in range(first, last + 1)]


def tick_text(value: float, ticks: Sequence[float], unit: str = "") -> str:
    """A tick label with as many decimals as the tick step needs (0.2 -> 1, 50 -> 0), then ``unit``."""
    step = min((b - a for a, b in itertools.pairwise(ticks) if b > a), default=1.0)
    return f"{value:,.{max(0, -math.floor(math.log10(step) + 1e-9))}f}{unit}"


def log2_ticks(values: Sequence[float], most: int = 12) -> list[float]:
    """Ticks of a log2 axis: the distinct positive values themselves (every k-th beyond ``most``)."""
    distinct = sorted({v for v in values if math.isfinite(v) and v > 0}) or [1.0]
    every = math.ceil(len(distinct) / most)
    return distinct[::every] if distinct[-1] in distinct[::every] else [*distinct[::every], distinct[-1]]


def doubles(values: Sequence[float]) -> bool:
    """Whether ``values`` grow geometrically (each distinct value at least 1.5 x the one before, three
    or more): user counts such as 1, 2, 4, 8 read best on a log2 axis."""
    distinct = sorted({v for v in values if math.isfinite(v)})
    if len(distinct) < 3 or distinct[0] <= 0:
        return False
    return all(b >= 1.5 * a for a, b in itertools.pairwise(distinct))


@dataclass(frozen=True)
class _Frame:
    width: int
    height: int
    x_ticks: list[float]
    y_ticks: list[float]
    x_log: bool = False

    def _x(self, x: float) -> float:
        return math.log2(x) if self.x_log else x

    def px(self, x: float) -> float:
        low, high = self._x(self.x_ticks[0]), self._x(self.x_ticks[-1])
        if self.x_log:  # half a doubling of room at either end
            low, high = low - 0.5, high + 0.5
        return LEFT + (self._x(x) - low) / (high - low or 1.0) * (self.width - LEFT - RIGHT)

    def py(self, y: float) -> float:
        low, high = self.y_ticks[0], self.y_ticks[-1]
        return self.height - BOTTOM - (y - low) / (high - low) * (self.height - TOP - BOTTOM)


def _y_ticks(values: Sequence[float], hlines: Sequence[HLine]) -> list[float]:
    """Y ticks over zero, the values and the reference lines no more than twice above the data (+4%)."""
    top = 2 * max(values, default=math.inf)
    every = [0.0, *values, *(h.y for h in hlines if math.isfinite(h.y) and h.y <= top)]
    return nice_ticks(min(every), max(every) * 1.04)


def _axes(
    frame: _Frame, title: str, x_label: str, y_label: str, numeric_x: bool, empty: bool, y_unit: str = ""
) -> list[str]:
    """The opening tag, titles, grid, ticks, axis labels, and "no data" when there is none."""
    w, h = frame.width, frame.height
    out = [
        f'<svg xmlns="{SVG_NS}" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" class="chart"'
        ' font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="11">',
        f"<title>{_e(title)}</title>",
        _text(LEFT, 18, title, extra=' font-size="14" font-weight="600"'),
    ]
    for y in frame.y_ticks:
        out.append(_line(LEFT, frame.py(y), w - RIGHT, frame.py(y), GREY))
        out.append(
            _text(LEFT - 6, frame.py(y) + 4, tick_text(y, frame.y_ticks, y_unit), "end", MARKER_COLOUR)
        )
    for x in frame.x_ticks if numeric_x else []:
        out.append(_line(frame.px(x), h - BOTTOM, frame.px(x), h - BOTTOM + 4, "#666"))
        out.append(_text(frame.px(x), h - BOTTOM + 16, tick_text(x, frame.x_ticks), "middle", MARKER_COLOUR))
    out.append(f'<path d="M{LEFT},{TOP} V{h - BOTTOM} H{w - RIGHT}" fill="none" stroke="#666"/>')
    out.append(_text((LEFT + w - RIGHT) / 2, h - 8, x_label, "middle"))
    middle = (TOP + h - BOTTOM) / 2
    out.append(_text(0, 0, y_label, "middle", extra=f' transform="translate(14 {_n(middle)}) rotate(-90)"'))
    return out + [_text(w / 2, h / 2, "no data", "middle", "#888")] * empty


def _shape(kind: str, x: float, y: float, colour: str, tip: str) -> str:
    tail = f' fill="{colour}"><title>{_e(tip)}</title>'
    if kind == "square":
        return f'<rect x="{_n(x - 3.5)}" y="{_n(y - 3.5)}" width="7" height="7"{tail}</rect>'
    if kind == "diamond":
        return f'<path d="M{_n(x)},{_n(y - 5)} l5,5 l-5,5 l-5,-5 Z"{tail}</path>'
    return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3.5"{tail}</circle>'


def _close(
    out: list[str],
    frame: _Frame,
    hlines: Sequence[HLine],
    markers: Sequence[Marker],
    labels: _Labels,
    point_labels: Sequence[tuple[float, float, str]] = (),
) -> str:
    """Reference lines over the data (SLOs far above it listed at the top), markers, point labels, then
    the closing tag; each label where it overlaps nothing placed before it."""
    w, h = frame.width, frame.height
    finite = [line for line in hlines if math.isfinite(line.y)]
    for i, line in enumerate(line for line in finite if line.y > frame.y_ticks[-1]):
        text = f"{line.label}: above the chart"
        labels.labels.append(label_box(w - RIGHT, 18 + LINE_H * i, text, "end"))
        out.append(_text(w - RIGHT, 18 + LINE_H * i, text, "end", HLINE_COLOUR))
    for marker in (m for m in markers if math.isfinite(m.x)):
        px = frame.px(marker.x)
        out.append(_line(px, TOP, px, h - BOTTOM, MARKER_COLOUR, ' stroke-dasharray="3 3" class="marker"'))
    for line in (line for line in finite if line.y <= frame.y_ticks[-1]):
        dashed = ' stroke-width="1.5" stroke-dasharray="6 4" class="slo-line"'
        y = frame.py(line.y)
        out.append(_line(LEFT, y, w - RIGHT, y, HLINE_COLOUR, dashed))
        along = [w - RIGHT - 4 - k * (w - LEFT - RIGHT) / 8 for k in range(8)]  # right end, then leftwards
        spots = [(x, y + dy, "end") for x in along for dy in (-4.0, 13.0)]
        placed = labels.place(line.label, spots, HLINE_COLOUR, HALO)
        out.append(placed or _text(spots[0][0], spots[0][1], line.label, "end", HLINE_COLOUR, HALO))
    for marker in (m for m in markers if math.isfinite(m.x)):
        px = frame.px(marker.x)
        anchor, dx = ("end", -4.0) if px > w - 160 else ("start", 4.0)
        spots = [(px + dx, TOP + 12 + LINE_H * k, anchor) for k in range(12)]
        out.append(labels.place(marker.label, spots, MARKER_COLOUR, HALO) or "")
    for x, y, text in point_labels:
        spots = [(x, y - 8, "middle"), (x, y + 17, "middle"), (x + 7, y + 4, "start"), (x - 7, y + 4, "end")]
        spots += [
            (x + 5, y - 8, "start"),
            (x - 5, y - 8, "end"),
            (x + 5, y + 16, "start"),
            (x - 5, y + 16, "end"),
        ]
        spots += [(x, y - 8 - LINE_H * k, "middle") for k in range(1, 4)]
        out.append(labels.place(text, spots, MARKER_COLOUR, HALO + ' class="point-label"') or "")
    return "\n".join([*(part for part in out if part), "</svg>"])


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 640,
    height: int = 320,
    hlines: Sequence[HLine] = (),
    markers: Sequence[Marker] = (),
    x_log: bool = False,
    y_unit: str = "",
) -> str:
    """One SVG line chart: series in palette order with a legend, reference lines labelled on the chart,
    points labelled with their series' ``labels``. ``x_log``: a log2 x axis (positive x only)."""
    clean = []
    for s in series:
        names = [*s.labels[: len(s.points)], *[""] * (len(s.points) - len(s.labels))]
        clean.append(
            [
                (x, y, label)
                for (x, y), label in zip(s.points, names, strict=True)
                if math.isfinite(x) and math.isfinite(y) and (x > 0 or not x_log)
            ]
        )
    shown = [m for m in markers if math.isfinite(m.x) and (m.x > 0 or not x_log)]
    data_x = [x for points in clean for x, _, _ in points]
    y_ticks = _y_ticks([y for points in clean for _, y, _ in points], hlines)
    if x_log:
        frame = _Frame(width, height, log2_ticks([*data_x, *(m.x for m in shown)]), y_ticks, x_log=True)
    else:
        xs = [0.0, *data_x, *(m.x for m in shown)]
        frame = _Frame(width, height, nice_ticks(min(xs), max(xs) * 1.04), y_ticks)
    out = _axes(frame, title, x_label, y_label, numeric_x=True, empty=not any(clean), y_unit=y_unit)
    labels = _Labels((LEFT + 2.0, TOP - 4.0, width - RIGHT + 2.0, height - BOTTOM - 1.0))
    legend_x = float(LEFT)
    for i, s in enumerate(series):
        colour, dash, kind = PALETTE[i % len(PALETTE)]
        out.append(
            _line(legend_x, 36, legend_x + 24, 36, colour, f' stroke-width="2" stroke-dasharray="{dash}"')
        )
        out += [_shape(kind, legend_x + 12, 36, colour, s.name), _text(legend_x + 30, 40, s.name)]
        labels.take((legend_x, 26.0, legend_x + 30 + CHAR_W * len(s.name), 44.0))
        legend_x += 44 + 6.5 * len(s.name)
    point_labels = []
    for i, (s, points) in enumerate(zip(series, clean, strict=True)):
        colour, dash, kind = PALETTE[i % len(PALETTE)]
        style = f' stroke-width="2" stroke-dasharray="{dash}"'
        path = " ".join(f"{_n(frame.px(x))},{_n(frame.py(y))}" for x, y, _ in points)
        if len(points) > 1:
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}"{style} class="series"/>')
            for (x1, y1, _), (x2, y2, _) in itertools.pairwise(points):
                labels.take_segment(frame.px(x1), frame.py(y1), frame.px(x2), frame.py(y2))
        for x, y, label in points:
            px, py = frame.px(x), frame.py(y)
            tip = f"{s.name}: {x:,.4g}, {y:,.4g}" + (f" ({label})" if label else "")
            out.append(_shape(kind, px, py, colour, tip))
            labels.take((px - 5, py - 5, px + 5, py + 5))
            if label:
                point_labels.append((px, py, label))
    return _close(out, frame, hlines, shown, labels, point_labels)


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 640,
    height: int = 320,
    hlines: Sequence[HLine] = (),
    value_text: Callable[[float], str] = lambda v: f"{v:,.3g}",
    y_unit: str = "",
) -> str:
    """One SVG bar chart, one labelled bar per entry in order; a non-finite value leaves its slot empty."""
    values = [b.value for b in bars if math.isfinite(b.value)]
    frame = _Frame(width, height, [0.0, 1.0], _y_ticks(values, hlines))
    out = _axes(frame, title, x_label, y_label, numeric_x=False, empty=not values, y_unit=y_unit)
    labels = _Labels((LEFT + 2.0, TOP - 4.0, width - RIGHT + 2.0, height - BOTTOM - 1.0))
    band = (width - LEFT - RIGHT) / max(len(bars), 1)
    half = min(band * 0.35, 24.0)
    label_every = math.ceil(len(bars) / 20) if bars else 1
    for i, bar in enumerate(bars):
        centre = LEFT + band * (i + 0.5)
        if i % label_every == 0:
            out.append(_text(centre, height - BOTTOM + 16, bar.label, "middle", MARKER_COLOUR))
        if math.isfinite(bar.value):
            top, base = sorted((frame.py(bar.value), frame.py(0.0)))
            tip = f"<title>{_e(bar.label)}: {_e(value_text(bar.value))}</title>"
            out.append(
                f'<rect x="{_n(centre - half)}" y="{_n(top)}" width="{_n(2 * half)}"'
                f' height="{_n(base - top)}" fill="{PALETTE[0][0]}" class="bar">{tip}</rect>'
            )
            labels.take((centre - half, top, centre + half, base))
            if len(bars) <= 24:
                text = value_text(bar.value)
                labels.labels.append(label_box(centre, top - 4, text, "middle"))
                out.append(_text(centre, top - 4, text, "middle"))
    return _close(out, frame, hlines, [], labels)
