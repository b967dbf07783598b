"""Tiny dependency-free SVG charts: line and bar charts with axes, 1-2-5 ticks, a legend and a ``<title>``.

Callers pass plain text: every string that reaches the SVG is escaped here. Points with a non-finite
coordinate are skipped, ranges always include zero, and an empty or flat range is padded so the axes stay
readable. Series differ in colour, dash pattern and point shape, so charts still read in greyscale.
Reference lines (``HLine``, e.g. SLO thresholds) more than twice above the data are listed, not drawn.
"""

from __future__ import annotations

import html
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


def tick_text(value: float, ticks: Sequence[float]) -> str:
    """A tick label with as many decimals as the tick step needs (0.2 -> 1, 50 -> 0)."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    return f"{value:,.{max(0, -math.floor(math.log10(step) + 1e-9))}f}"


@dataclass(frozen=True)
class _Frame:
    width: int
    height: int
    x_ticks: list[float]
    y_ticks: list[float]

    def px(self, x: float) -> float:
        low, high = self.x_ticks[0], self.x_ticks[-1]
        return LEFT + (x - low) / (high - low) * (self.width - LEFT - RIGHT)

    def py(self, y: float) -> float:
        low, high = self.y_ticks[0], self.y_ticks[-1]
        return self.height - BOTTOM - (y - low) / (high - low) * (self.height - TOP - BOTTOM)


def _y_ticks(values: Sequence[float], hlines: Sequence[HLine]) -> list[float]:
    """Y ticks over zero, the values and the reference lines no more than twice above the data (+4%)."""
    top = 2 * max(values, default=math.inf)
    every = [0.0, *values, *(h.y for h in hlines if math.isfinite(h.y) and h.y <= top)]
    return nice_ticks(min(every), max(every) * 1.04)


def _axes(frame: _Frame, title: str, x_label: str, y_label: str, numeric_x: bool, empty: bool) -> list[str]:
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
        out.append(_text(LEFT - 6, frame.py(y) + 4, tick_text(y, frame.y_ticks), "end", MARKER_COLOUR))
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


def _close(out: list[str], frame: _Frame, hlines: Sequence[HLine], markers: Sequence[Marker]) -> str:
    """Reference lines over the data (SLOs far above it listed at the top), then the closing tag."""
    w, h = frame.width, frame.height
    finite = [line for line in hlines if math.isfinite(line.y)]
    for line in (line for line in finite if line.y <= frame.y_ticks[-1]):
        dashed = ' stroke-width="1.5" stroke-dasharray="6 4" class="slo-line"'
        out.append(_line(LEFT, frame.py(line.y), w - RIGHT, frame.py(line.y), HLINE_COLOUR, dashed))
        out.append(_text(w - RIGHT - 4, frame.py(line.y) - 4, line.label, "end", HLINE_COLOUR, HALO))
    for i, line in enumerate(line for line in finite if line.y > frame.y_ticks[-1]):
        out.append(_text(w - RIGHT, 18 + 13 * i, f"{line.label}: above the chart", "end", HLINE_COLOUR))
    for i, marker in enumerate(m for m in markers if math.isfinite(m.x)):
        px = frame.px(marker.x)
        anchor, dx = ("end", -4.0) if px > w - 160 else ("start", 4.0)
        out.append(_line(px, TOP, px, h - BOTTOM, MARKER_COLOUR, ' stroke-dasharray="3 3" class="marker"'))
        out.append(_text(px + dx, TOP + 12 + 13 * i, marker.label, anchor, MARKER_COLOUR, HALO))
    return "\n".join([*out, "</svg>"])


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
) -> str:
    """One SVG line chart: series in palette order with a legend, reference lines labelled on the chart."""
    clean = [[(x, y) for x, y in s.points if math.isfinite(x) and math.isfinite(y)] for s in series]
    xs = [0.0, *(x for points in clean for x, _ in points), *(m.x for m in markers if math.isfinite(m.x))]
    y_ticks = _y_ticks([y for points in clean for _, y in points], hlines)
    frame = _Frame(width, height, nice_ticks(min(xs), max(xs) * 1.04), y_ticks)
    out = _axes(frame, title, x_label, y_label, numeric_x=True, empty=not any(clean))
    legend_x = float(LEFT)
    for i, (s, points) in enumerate(zip(series, clean, strict=True)):
        colour, dash, kind = PALETTE[i % len(PALETTE)]
        style = f' stroke-width="2" stroke-dasharray="{dash}"'
        out.append(_line(legend_x, 36, legend_x + 24, 36, colour, style))
        out += [_shape(kind, legend_x + 12, 36, colour, s.name), _text(legend_x + 30, 40, s.name)]
        legend_x += 44 + 6.5 * len(s.name)
        path = " ".join(f"{_n(frame.px(x))},{_n(frame.py(y))}" for x, y in points)
        if len(points) > 1:
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}"{style} class="series"/>')
        out += [
            _shape(kind, frame.px(x), frame.py(y), colour, f"{s.name}: {x:,.4g}, {y:,.4g}") for x, y in points
        ]
    return _close(out, frame, hlines, markers)


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
) -> str:
    """One SVG bar chart, one labelled bar per entry in order; a non-finite value leaves its slot empty."""
    values = [b.value for b in bars if math.isfinite(b.value)]
    frame = _Frame(width, height, [0.0, 1.0], _y_ticks(values, hlines))
    out = _axes(frame, title, x_label, y_label, numeric_x=False, empty=not values)
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
            out += [_text(centre, top - 4, value_text(bar.value), "middle")] * (len(bars) <= 24)
    return _close(out, frame, hlines, [])
