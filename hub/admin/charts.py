"""Server-rendered SVG charts of the console (no script, no library, no external file).

A small module of our own rather than a charting library: pygal installs, but its output
carries an inline script and a 30 kB stylesheet per chart, and still needs its JavaScript for
tooltips. This chart is a few hundred bytes per run, styled by the console's CSS, readable
without colour (failed runs are marked with a cross, each bar has a text title) and mirrored
by a table on the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

__all__ = ["RunPoint", "run_history_svg"]

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 48, 16, 28
FAILED = ("failed", "partial")
SLOTS = 30


@dataclass(frozen=True)
class RunPoint:
    """One run on the chart: its duration (a bar) and its main count (a dot)."""

    run_id: int
    state: str
    seconds: float | None
    count: int | None
    current: bool = False


def _nice_max(value: float) -> float:
    """A round upper bound for an axis (1, 2, 5 × 10ⁿ)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"
    return f"{value / 60:.1f} min"


def run_history_svg(points: Sequence[RunPoint], *, title: str) -> Markup:
    """Bars of duration and dots of the main count for each run, oldest left."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts: list[str] = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
        '<desc id="chart-desc">Bars: how long each run took (left axis). Dots: the largest '
        "count of each run (right axis). Failed or partial runs are marked with a cross. "
        "The table below lists the same runs.</desc>",
    ]
    if not points:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">No runs yet</text>'
        )
        parts.append("</svg>")
        return Markup("".join(parts))  # noqa: S704  (built from escaped parts)
    max_s = _nice_max(max((p.seconds or 0.0) for p in points))
    max_c = _nice_max(float(max((p.count or 0) for p in points)))
    # Always 30 slots wide, oldest left: one run is one thin bar, not the whole width.
    slot = plot_w / max(len(points), SLOTS)
    bar_w = max(2.0, slot * 0.62)
    base_y = TOP + plot_h
    # axes and their top values
    parts.append(
        f'<g class="axis"><line x1="{LEFT}" y1="{base_y}" x2="{LEFT + plot_w}" y2="{base_y}"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base_y}"/>'
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{escape(_seconds(max_s))}</text>'
        f'<text x="{LEFT - 6}" y="{base_y}" text-anchor="end">0</text>'
        f'<text x="{LEFT + plot_w + 6}" y="{TOP + 4}">{int(max_c)}</text>'
        f'<text x="{LEFT + plot_w + 6}" y="{base_y}">0</text>'
        f'<line class="grid" x1="{LEFT}" y1="{TOP}" x2="{LEFT + plot_w}" y2="{TOP}"/></g>'
    )
    dots: list[tuple[float, float]] = []
    for index, point in enumerate(points):
        x = LEFT + index * slot + (slot - bar_w) / 2
        height = plot_h * ((point.seconds or 0.0) / max_s)
        state = escape(point.state)
        label = f"Run {point.run_id}: {point.state}"
        if point.seconds is not None:
            label += f", {_seconds(point.seconds)}"
        if point.count is not None:
            label += f", count {point.count}"
        css = f"bar state-{state}" + (" current" if point.current else "")
        parts.append(
            f'<g class="{css}"><title>{escape(label)}</title>'
            f'<rect x="{x:.1f}" y="{base_y - height:.1f}" width="{bar_w:.1f}" '
            f'height="{max(height, 1):.1f}"/>'
        )
        if point.state in FAILED:
            cx, cy = x + bar_w / 2, base_y - height - 8
            parts.append(
                f'<path class="mark" d="M{cx - 4:.1f} {cy - 4:.1f}L{cx + 4:.1f} {cy + 4:.1f}'
                f'M{cx + 4:.1f} {cy - 4:.1f}L{cx - 4:.1f} {cy + 4:.1f}"/>'
            )
        parts.append("</g>")
        if point.count is not None:
            dots.append((x + bar_w / 2, base_y - plot_h * (point.count / max_c)))
        if index % 5 == 0 or index == len(points) - 1:
            parts.append(
                f'<text class="tick" x="{x + bar_w / 2:.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="middle">{point.run_id}</text>'
            )
    if dots:
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in dots)
        parts.append(f'<polyline class="count-line" points="{line}"/>')
        parts.extend(
            f'<circle class="count-dot" cx="{x:.1f}" cy="{y:.1f}" r="3"/>' for x, y in dots
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (built from escaped parts)
