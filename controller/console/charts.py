"""Geometry for the dashboard's server-drawn SVG charts: where each bar and tick goes.

Only layout lives here (scales, positions, which days get a label); the numbers are the
API's. The templates _chart_bars.html, _chart_days.html and _chart_gauge.html draw them
with CSS classes, no inline styles and no script.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Room for the value axis on the left and the labels below.
LEFT, RIGHT, TOP, BOTTOM = 36.0, 8.0, 18.0, 26.0


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    css: str


@dataclass(frozen=True)
class Frame:
    """The plotting area and value scale shared by the bar charts."""

    width: float
    height: float
    top: float
    bottom: float  # y of the zero line
    left: float
    right: float
    ticks: list[Tick]


def nice_top(largest: int) -> int:
    """A round axis maximum at or above largest: 1, 2, 5 or 10 times a power of ten."""
    if largest <= 0:
        return 1
    power: int = 10 ** int(math.log10(largest))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= largest)


def _frame(width: float, height: float, largest: int) -> tuple[Frame, int]:
    top_value = nice_top(largest)
    bottom = height - BOTTOM
    span = bottom - TOP
    steps = 4 if top_value % 4 == 0 else (5 if top_value % 5 == 0 else 2)
    ticks = [
        Tick(value, bottom - span * value / top_value)
        for value in range(0, top_value + 1, max(1, top_value // steps))
    ]
    return Frame(width, height, TOP, bottom, LEFT, width - RIGHT, ticks), top_value


def _height(frame: Frame, value: int, top_value: int) -> float:
    return round((frame.bottom - frame.top) * value / top_value, 1)


@dataclass(frozen=True)
class BarChart:
    frame: Frame
    bars: list[Bar]


def bar_chart(
    items: list[tuple[str, int, str]], *, width: float = 360, height: float = 170
) -> BarChart:
    """One bar per (label, value, css class), side by side."""
    frame, top_value = _frame(width, height, max((v for _, v, _ in items), default=0))
    slot = (frame.right - frame.left) / max(1, len(items))
    bars = []
    for index, (label, value, css) in enumerate(items):
        bar_height = _height(frame, value, top_value)
        bars.append(
            Bar(
                label=label,
                value=value,
                x=round(frame.left + index * slot + slot * 0.15, 1),
                y=round(frame.bottom - bar_height, 1),
                width=round(slot * 0.7, 1),
                height=bar_height,
                css=css,
            )
        )
    return BarChart(frame, bars)


@dataclass(frozen=True)
class DayGroup:
    day: str
    label: str  # shown under the axis; empty on crowded days
    x: float  # centre of the group
    created: Bar
    resolved: Bar


@dataclass(frozen=True)
class DaysChart:
    frame: Frame
    groups: list[DayGroup]
    open_points: str  # an SVG polyline's points: open tickets at each day's end


def days_chart(days: list[dict[str, Any]], *, width: float = 720, height: float = 220) -> DaysChart:
    """Created and resolved side by side per day, and the open tickets as a line."""
    largest = max((max(d["created"], d["resolved"], d["open_at_end"]) for d in days), default=0)
    frame, top_value = _frame(width, height, largest)
    slot = (frame.right - frame.left) / max(1, len(days))
    label_every = max(1, math.ceil(len(days) / 8))
    groups, points = [], []
    for index, day in enumerate(days):
        start = frame.left + index * slot
        bar_width = round(slot * 0.38, 2)
        pair = []
        for offset, series in ((0.1, "created"), (0.52, "resolved")):
            bar_height = _height(frame, day[series], top_value)
            pair.append(
                Bar(
                    label=series,
                    value=day[series],
                    x=round(start + slot * offset, 2),
                    y=round(frame.bottom - bar_height, 1),
                    width=bar_width,
                    height=bar_height,
                    css=series,
                )
            )
        centre = round(start + slot / 2, 2)
        # Counted back from today, so the last day is labelled and none crowds it.
        labelled = (len(days) - 1 - index) % label_every == 0
        label = str(day["day"])[5:] if labelled else ""
        groups.append(DayGroup(str(day["day"]), label, centre, pair[0], pair[1]))
        open_y = round(frame.bottom - _height(frame, day["open_at_end"], top_value), 1)
        points.append(f"{centre},{open_y}")
    return DaysChart(frame, groups, " ".join(points))


@dataclass(frozen=True)
class Gauge:
    """A horizontal bar: the filled share of a whole (percent may be None: no data)."""

    width: float
    height: float
    filled: float
    percent: float | None


def gauge(percent: float | None, *, width: float = 300, height: float = 24) -> Gauge:
    share = 0.0 if percent is None else min(max(percent, 0.0), 100.0) / 100
    return Gauge(width, height, round(width * share, 1), percent)
