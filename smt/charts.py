"""Server-rendered SVG charts: no chart library, no CDN, readable without JavaScript."""

from datetime import date, timedelta

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from smt.templatetags.smt_format import percent
from smt.usage import DaySummary, gap_label

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


def day_rows(days: list[DaySummary]) -> SafeString:
    """The rows of the day table, newest first, in one pass.

    A year is 366 rows of 8 cells; through template tags and filters that took longer than
    the summary query itself (bench/smt_usage.py).
    """
    rows = []
    for d in reversed(days):
        gaps = ", ".join(gap_label(g, expected=d.expected) for g in d.gaps) or "–"
        rows.append(
            f'<tr class="{"incomplete" if d.completeness < 1 else ""}"><td>{escape(d.date)}</td>'
            f'<td class="num">{d.expected}</td><td class="num">{d.found}</td>'
            f'<td class="num">{percent(d.completeness)}</td><td class="num">{d.kwh:.3f}</td>'
            f'<td class="num">{d.generationKwh:.3f}</td><td class="num">{d.estimated}</td>'
            f'<td class="gaps">{escape(gaps)}</td></tr>'
        )
    return mark_safe("".join(rows))
