"""Server-rendered SVG charts every app shares: no chart library, no CDN, readable without JavaScript."""

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from django.utils.safestring import SafeString, mark_safe


class DayBar(Protocol):
    """One day's bar: its ISO date, its kWh, and whether any of it was estimated."""

    date: str
    kwh: float
    estimated: int


def bar_chart(days: Sequence[DayBar], *, height: int = 180) -> SafeString:
    """Daily consumption kWh as bars, with the peak labelled on the axis."""
    if not days:
        return mark_safe("")
    peak = max((d.kwh for d in days), default=0) or 1
    left, bottom, bar = 44, 22, max(2, min(18, 900 // len(days)))
    width = left + len(days) * (bar + 1) + 4
    parts = [
        f'<svg class="bars" viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="none" role="img" '
        f'aria-label="Daily kWh" style="max-width:{width}px">'
    ]
    plot = height - bottom - 8
    for fraction in (0, 0.5, 1):
        y = 8 + plot * (1 - fraction)
        parts.append(f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        label = (
            f"{peak * fraction:.0f}" if peak >= 10 else f"{peak * fraction:.1f}"
        )  # a 1.4 kWh peak: 0.0/0.7/1.4, not 0/1/1
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" class="axis" text-anchor="end">{label}</text>')
    for index, summary in enumerate(days):
        h = plot * summary.kwh / peak
        x = left + index * (bar + 1)
        css = "bar est" if summary.estimated else "bar"
        parts.append(
            f'<rect x="{x}" y="{8 + plot - h:.1f}" width="{bar}" height="{h:.1f}" class="{css}">'
            f"<title>{summary.date}: {summary.kwh:.2f} kWh</title></rect>"
        )
        day = date.fromisoformat(summary.date)
        if day.day == 1 or (
            index == 0 and (day.day < 20 or len(days) < 20)
        ):  # no first label crowding the next month's
            parts.append(f'<text x="{x}" y="{height - 6}" class="axis">{day:%b %-d}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
