"""Server-rendered SVG for telemetry: daily bars (smt.charts' style) and a power/energy timeline."""

from dataclasses import dataclass
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from config.charts import bar_chart
from telemetry.reports import DayRow


@dataclass(frozen=True)
class _Bar:
    date: str
    kwh: float
    estimated: int = 0


def daily_bars(rows: list[DayRow]) -> SafeString:
    return bar_chart([_Bar(r.day.isoformat(), r.kwh) for r in rows])


def timeline(
    points: list[tuple[datetime, float | None, float]],
    *,
    start: datetime,
    end: datetime,
    width: int = 900,
    height: int = 220,
) -> SafeString:
    """points: (time, power W or None, cumulative kWh). Power as a line on the left axis, energy
    (from the ledger) as a filled area on the right axis."""
    if not points:
        return mark_safe("")
    left, right, top, bottom = 52, 72, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    span = (end - start).total_seconds() or 1
    peak_w = max((p[1] for p in points if p[1] is not None), default=0) or 1
    peak_kwh = max(p[2] for p in points) or 1
    x = lambda t: left + plot_w * (t - start).total_seconds() / span  # noqa: E731
    parts = [
        f'<svg class="timeline" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="Power and energy" '
        f'style="max-width:{width}px">'
    ]
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" class="axis" text-anchor="end">{peak_w * fraction:.0f} W</text>'
        )
        parts.append(f'<text x="{left + plot_w + 4}" y="{y + 4:.1f}" class="axis">{peak_kwh * fraction:.2f} kWh</text>')
    area = [f"{x(t):.1f},{top + plot_h * (1 - kwh / peak_kwh):.1f}" for t, _, kwh in points]
    parts.append(
        f'<polygon class="energy" points="{x(points[0][0]):.1f},{top + plot_h} {" ".join(area)} '
        f'{x(points[-1][0]):.1f},{top + plot_h}"><title>Energy (kWh, cumulative from the ledger)</title></polygon>'
    )
    line = [f"{x(t):.1f},{top + plot_h * (1 - w / peak_w):.1f}" for t, w, _ in points if w is not None]
    if line:
        parts.append(f'<polyline class="power" points="{" ".join(line)}"><title>Power (W)</title></polyline>')
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        t = start + (end - start) * fraction
        parts.append(
            f'<text x="{left + plot_w * fraction:.1f}" y="{height - 6}" class="axis" text-anchor="middle">'
            f"{escape(t.strftime('%H:%M'))}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))
