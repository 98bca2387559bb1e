"""Charts as geometry for SVG drawn by the templates (no chart library, no script).

Each chart is a list of bars with their label, value, text and position in a fixed
view box; the template draws them and puts the same numbers in a table beside the
chart for screen readers and for anyone who prefers numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 480  # view box units; the SVG scales to its container (at most 760 px wide)
ROW = 28
LABEL = 150  # room for the labels left of the bars
GAP = 8


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    text: str  # the value as shown at the end of the bar
    y: float
    x: float
    width: float
    tone: str = "primary"  # a CSS class: primary, secondary, positive, negative


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    bars: tuple[Bar, ...]
    height: float
    width: float = WIDTH
    label_width: float = LABEL

    @property
    def empty(self) -> bool:
        return not self.bars or all(b.value == 0 for b in self.bars)


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float, str]],
    *,
    tone: str = "primary",
    maximum: float | None = None,
) -> BarChart:
    """Horizontal bars, one per ``(label, value, text)``, scaled to the largest value (or
    ``maximum``, e.g. 1 for rates). Negative values draw as zero-length bars."""
    room = WIDTH - LABEL - 80  # keep space for the value text right of the longest bar
    top = maximum if maximum is not None else max((v for _, v, _ in items), default=0.0)
    bars = tuple(
        Bar(
            label=label,
            value=value,
            text=text,
            y=i * ROW + GAP / 2,
            x=LABEL,
            width=(max(value, 0.0) / top * room) if top > 0 else 0.0,
            tone=tone,
        )
        for i, (label, value, text) in enumerate(items)
    )
    return BarChart(title, bars, height=max(len(bars), 1) * ROW + GAP)


@dataclass(frozen=True, slots=True)
class Segment:
    label: str
    points: float
    x: float  # in percent of the bar's width
    width: float
    tone: str


@dataclass(frozen=True, slots=True)
class StackedBar:
    """A score as one bar of its contributions: positive segments left to right, the
    negative ones in a second bar below, both on the same scale."""

    positive: tuple[Segment, ...]
    negative: tuple[Segment, ...]
    total: float


def stacked(items: Sequence[tuple[str, float, str]]) -> StackedBar:
    """Given ``(label, points, tone)`` per contribution, lay them out in percent of the
    larger of the positive sum and the negative sum."""
    plus = [(label, p, tone) for label, p, tone in items if p > 0]
    minus = [(label, p, tone) for label, p, tone in items if p < 0]
    scale = max(sum(p for _, p, _ in plus), -sum(p for _, p, _ in minus), 1e-9)

    def lay(rows: list[tuple[str, float, str]]) -> tuple[Segment, ...]:
        out, x = [], 0.0
        for label, p, tone in rows:
            width = abs(p) / scale * 100
            out.append(Segment(label, p, x, width, tone))
            x += width
        return tuple(out)

    return StackedBar(lay(plus), lay(minus), sum(p for _, p, _ in items))
