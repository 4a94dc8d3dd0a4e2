"""Times on staff pages carry their zone: "2026-12-06 19:37 CST", never a bare "19:37".

SMT and ERCOT pages show Central (the project's TIME_ZONE, active on every request); telemetry
pages show TELEMETRY_TIME_ZONE, where its devices and its local days are.
"""

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import django_tables2 as tables
from django.utils import dateformat, timezone

STAMP = "Y-m-d H:i T"
STAMP_SECONDS = "Y-m-d H:i:s T"


def stamp(value: datetime, zone: ZoneInfo | str | None = None, *, seconds: bool = False) -> str:
    """`value` in `zone` (the active zone when None) with the zone's abbreviation."""
    if isinstance(zone, str):
        zone = ZoneInfo(zone)
    local = timezone.localtime(value, zone) if timezone.is_aware(value) else value
    return dateformat.format(local, STAMP_SECONDS if seconds else STAMP)


class ZonedDateTimeColumn(tables.DateTimeColumn):
    """A DateTimeColumn that always names the zone; `zone` may be a callable read at render time
    (a setting such as TELEMETRY_TIME_ZONE, which tests change)."""

    def __init__(self, *, zone: ZoneInfo | str | Callable[[], str] | None = None, seconds: bool = False, **kwargs):
        super().__init__(format=STAMP_SECONDS if seconds else STAMP, **kwargs)
        self.zone, self.seconds = zone, seconds

    def render(self, value: datetime | None) -> str:
        if value is None:  # a TemplateColumn renders empty values too
            return self.default
        zone = self.zone() if callable(self.zone) else self.zone
        return stamp(value, zone, seconds=self.seconds)
