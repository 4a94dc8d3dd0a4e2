"""Server-rendered SVG charts: no chart library, no CDN, readable without JavaScript."""

from datetime import date, timedelta

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from smt.usage import DaySummary

CELL = 14
GAP = 3


def completeness_colour(value: float, found: int) -> str:
    if found == 0:
        return "#e4e7ec"  # nothing at all: grey, not red, so "no data yet" reads differently
    if value >= 1:
        return "#0f6e5c"
    if value >= 0.95:
        return "#5fb49c"
    if value >= 0.75:
        return "#f4b400"
    return "#d92d20"


def heatmap(days: list[DaySummary]) -> SafeString:
    """A calendar heatmap: one column per week, Monday on top, colour by completeness."""
    if not days:
        return mark_safe("")
    first = date.fromisoformat(days[0].date)
    origin = first - timedelta(days=first.weekday())
    weeks = (date.fromisoformat(days[-1].date) - origin).days // 7 + 1
    left, top = 30, 18
    width, height = left + weeks * (CELL + GAP), top + 7 * (CELL + GAP)
    parts = [f'<svg class="heatmap" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="Completeness per day">']
    for row, label in ((0, "Mon"), (2, "Wed"), (4, "Fri"), (6, "Sun")):
        parts.append(f'<text x="0" y="{top + row * (CELL + GAP) + CELL - 3}" class="axis">{label}</text>')
    month_seen = None
    for summary in days:
        day = date.fromisoformat(summary.date)
        offset = (day - origin).days
        x, y = left + (offset // 7) * (CELL + GAP), top + day.weekday() * (CELL + GAP)
        if day.day <= 7 and day.month != month_seen and day.weekday() == 0 or (month_seen is None and summary is days[0]):
            month_seen = day.month
            parts.append(f'<text x="{x}" y="11" class="axis">{day:%b}</text>')
        title = f"{summary.date}: {summary.found}/{summary.expected} intervals ({summary.completeness:.0%}), {summary.kwh:.1f} kWh"
        if summary.estimated:
            title += f", {summary.estimated} estimated"
        parts.append(
            f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" rx="2" fill="{completeness_colour(summary.completeness, summary.found)}" '
            f'data-date="{summary.date}"><title>{escape(title)}</title></rect>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def bar_chart(days: list[DaySummary], *, height: int = 180) -> SafeString:
    """Daily consumption kWh as bars, with the peak labelled on the axis."""
    if not days:
        return mark_safe("")
    peak = max((d.kwh for d in days), default=0) or 1
    left, bottom, bar = 44, 22, max(2, min(18, 900 // len(days)))
    width = left + len(days) * (bar + 1) + 4
    parts = [f'<svg class="bars" viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="none" role="img" '
             f'aria-label="Daily kWh" style="max-width:{width}px">']
    plot = height - bottom - 8
    for fraction in (0, 0.5, 1):
        y = 8 + plot * (1 - fraction)
        parts.append(f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" class="axis" text-anchor="end">{peak * fraction:.0f}</text>')
    for index, summary in enumerate(days):
        h = plot * summary.kwh / peak
        x = left + index * (bar + 1)
        css = "bar est" if summary.estimated else "bar"
        parts.append(f'<rect x="{x}" y="{8 + plot - h:.1f}" width="{bar}" height="{h:.1f}" class="{css}">'
                     f'<title>{summary.date}: {summary.kwh:.2f} kWh</title></rect>')
        day = date.fromisoformat(summary.date)
        if day.day == 1 or (index == 0 and (day.day < 20 or len(days) < 20)):  # no first label crowding the next month's
            parts.append(f'<text x="{x}" y="{height - 6}" class="axis">{day:%b %-d}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
