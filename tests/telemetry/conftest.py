from datetime import datetime, timedelta, timezone

import pytest

from telemetry import ingest
from telemetry.models import LedgerEntry

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _telemetry_settings(settings):
    settings.TELEMETRY_TIME_ZONE = "Asia/Kolkata"
    settings.TELEMETRY_GAP_SECONDS = 900
    settings.MQTT_TOPIC_PREFIX = "autovolt"


def feed(device: str, *readings: tuple, start: datetime = T0) -> ingest.RecordResult:
    """readings: (minute, energy_wh[, {seq, boot_id, ...}]) stored in one batch, in the order given."""
    items = []
    for minute, wh, *extra in readings:
        ts = start + timedelta(minutes=minute)
        items.append(ingest.ReadingIn(device=device, ts=ts, received_at=ts, energy_wh=wh, **(extra[0] if extra else {})))
    return ingest.items_record(items)


def current(device: str) -> list[tuple]:
    """(start minute, end minute, delta, kind, confidence) of the device's current entries."""
    rows = LedgerEntry.objects.current().filter(device__name=device).order_by("end_ts", "id")
    minute = lambda ts: int((ts - T0).total_seconds() // 60)  # noqa: E731
    return [(minute(e.start_ts), minute(e.end_ts), e.delta_wh, e.kind, e.confidence) for e in rows]
