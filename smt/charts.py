"""Server-rendered SVG charts: no chart library, no CDN, readable without JavaScript."""

from datetime import date, timedelta

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from smt.templatetags.smt_format import percent
from smt.usage import DaySummary, gap_label

CELL = 14
GAP = 3
# A month name at the axis' 10px font is about 20px wide, more than one 17px week column.
MONTH_LABEL_WIDTH = 2 * (CELL + GAP)


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
    parts = [
        f'<svg class="heatmap" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="Completeness per day">'
    ]
    for row, label in ((0, "Mon"), (2, "Wed"), (4, "Fri"), (6, "Sun")):
        parts.append(f'<text x="0" y="{top + row * (CELL + GAP) + CELL - 3}" class="axis">{label}</text>')
    parts += [f'<text x="{x}" y="11" class="axis">{label}</text>' for x, label in month_labels(days, origin, left)]
    for summary in days:
        day = date.fromisoformat(summary.date)
        offset = (day - origin).days
        x, y = left + (offset // 7) * (CELL + GAP), top + day.weekday() * (CELL + GAP)
        title = f"{summary.date}: {summary.found}/{summary.expected} intervals ({summary.completeness:.0%}), {summary.kwh:.1f} kWh"
        if summary.estimated:
            title += f", {summary.estimated} estimated"
        parts.append(
            f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" rx="2" fill="{completeness_colour(summary.completeness, summary.found)}" '
            f'data-date="{summary.date}"><title>{escape(title)}</title></rect>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def month_labels(days: list[DaySummary], origin: date, left: int) -> list[tuple[int, str]]:
    """(x, "Oct") above the first column of each month, and above the first day shown.

    The first day's month may start a week or less before the next month's first Monday: its
    label gives way to the next one rather than running into it ("OctNov").
    """
    labels: list[tuple[int, str]] = []
    for summary in days:
        day = date.fromisoformat(summary.date)
        if not (summary is days[0] or day.day <= 7 and day.weekday() == 0):
            continue
        x = left + (day - origin).days // 7 * (CELL + GAP)
        if labels and x - labels[-1][0] < MONTH_LABEL_WIDTH:
            labels.pop()
        labels.append((x, f"{day:%b}"))
    return labels


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
