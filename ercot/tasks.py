"""django-q2 entry points: thin wrappers around ercot.ingest."""

from ercot import ingest
from ercot.models import ErcotIngest


def ercot_fetch() -> dict:
    return ingest.ercot_fetch().as_json()


def ercot_fetch_if_missing() -> dict | None:
    """The retry polls: fetch again only while today's files are still missing."""
    if not ingest.ercot_missing_today():
        return None
    return ingest.ercot_fetch().as_json()


def ingest_load(ingest_id: int) -> int | None:
    row = ErcotIngest.objects.done().filter(pk=ingest_id).first()
    if row is None:
        return None  # failed or deleted meanwhile
    return ingest.ingest_load(ingest=row).rows
