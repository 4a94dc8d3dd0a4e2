import math

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
