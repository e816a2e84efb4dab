"""Weekly trend charts as inline SVG, laid out here and drawn by ``templates/_chart.html``.

No JavaScript: each bar carries a ``<title>`` (shown on hover and read by screen readers), and
the whole chart has a text alternative.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

WIDTH = 360
HEIGHT = 150
LEFT = 30
RIGHT = 8
TOP = 14
BOTTOM = 26


class Week(Protocol):
    @property
    def week_start(self) -> date: ...

    @property
    def count(self) -> int: ...


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    cx: float
    count: int
    label: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class XLabel:
    x: float
    label: str


@dataclass(frozen=True)
class TrendChart:
    rule_id: str
    total: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    x_labels: tuple[XLabel, ...]
    trend_points: str
    description: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM


def _nice_max(value: int) -> int:
    if value <= 4:
        return max(value, 1)
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = int(math.ceil(value / (step * magnitude)) * step * magnitude)
        if top / value < 1.5:
            return top
    return value


def _short(d: date) -> str:
    return f"{d.day} {d:%b}"


def trend_chart(rule_id: str, weeks: Sequence[Week]) -> TrendChart:
    n = max(len(weeks), 1)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    top = _nice_max(max((w.count for w in weeks), default=0))
    slot = plot_w / n
    bar_w = max(slot * 0.7, 1.0)
    baseline = HEIGHT - BOTTOM
    bars = []
    for i, week in enumerate(weeks):
        h = plot_h * week.count / top
        x = LEFT + i * slot + (slot - bar_w) / 2
        noun = "flag" if week.count == 1 else "flags"
        bars.append(
            Bar(
                x=round(x, 1),
                y=round(baseline - h, 1),
                width=round(bar_w, 1),
                height=round(h, 1),
                cx=round(x + bar_w / 2, 1),
                count=week.count,
                label=f"Week of {week.week_start:%d %b %Y}: {week.count} {noun}",
            )
        )
    ticks = tuple(
        Tick(y=round(baseline - plot_h * v / top, 1), label=str(v))
        for v in sorted({0, top // 2, top})
        if v == 0 or v == top or top % 2 == 0
    )
    labels: list[XLabel] = []
    if weeks:
        for i in sorted({0, len(weeks) // 2, len(weeks) - 1}):
            labels.append(XLabel(x=bars[i].cx, label=_short(weeks[i].week_start)))
    total = sum(w.count for w in weeks)
    points = " ".join(f"{b.cx},{b.y}" for b in bars)
    if weeks:
        description = (
            f"{rule_id}: {total} flags in the {len(weeks)} weeks from "
            f"{weeks[0].week_start:%d %b %Y}; "
            + ", ".join(f"{_short(w.week_start)}: {w.count}" for w in weeks)
        )
    else:
        description = f"{rule_id}: no weeks to show"
    return TrendChart(
        rule_id=rule_id,
        total=total,
        bars=tuple(bars),
        ticks=ticks,
        x_labels=tuple(labels),
        trend_points=points,
        description=description,
    )
