"""Texas facts every source shares: Central time and the shape of an ESIID."""

from zoneinfo import ZoneInfo

# ERCOT, SMT and the TDSPs date everything in Central prevailing time (CST/CDT).
CENTRAL = ZoneInfo("America/Chicago")


def parse_esiid(value: str) -> str | None:
    """The ESIID in `value` (17 or 22 ASCII digits, a spreadsheet's leading quote allowed), else None."""
    value = value.strip()
    if value.startswith("'"):
        value = value[1:]
    if value.isdigit() and len(value) in (17, 22) and value.isascii():
        return value
    return None
