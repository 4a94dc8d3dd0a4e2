"""Money as people read it: the currency, thousands separators, two decimals (prices keep up to
four when they have them, so 0.1275 per kWh is not shown as 0.13)."""

from decimal import Decimal, InvalidOperation

from django import template
from django.conf import settings

register = template.Library()


def money_text(value, *, places: int = 2, max_places: int = 2, sign: bool = False) -> str:
    try:
        amount = Decimal(str(value if value is not None else 0))
    except InvalidOperation:
        return ""
    shown = amount.quantize(Decimal(1).scaleb(-max_places))
    while places < max_places and shown == shown.quantize(Decimal(1).scaleb(-(max_places - 1))):
        max_places -= 1
        shown = shown.quantize(Decimal(1).scaleb(-max_places))
    number = f"{shown:+,.{max_places}f}" if sign else f"{shown:,.{max_places}f}"
    return f"{settings.TELEMETRY_CURRENCY} {number}"


@register.filter
def money(value) -> str:
    """An amount: "INR 1,045.02"."""
    return money_text(value)


@register.filter
def money_change(value) -> str:
    """A difference, always signed: "INR +11.80"."""
    return money_text(value, sign=True)


@register.filter
def price(value) -> str:
    """A price per kWh: "INR 9.00", "INR 0.1275"."""
    return money_text(value, max_places=4)
