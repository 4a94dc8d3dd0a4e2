import math
from datetime import date, timedelta

from django import template

register = template.Library()


@register.filter
def percent(fraction) -> str:
    """Completeness as a percentage that never rounds up to 100: 0.9996 reads 99.9%, not 100%."""
    try:
        value = math.floor(float(fraction) * 1000) / 10
    except (TypeError, ValueError):
        return "–"
    return f"{value:.0f}%" if value == int(value) else f"{value:.1f}%"


@register.filter
def month_end(first: date) -> date:
    """The last day of the month that `first` is in (for month links on the customer usage page)."""
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
