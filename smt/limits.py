"""Upload limits: quotas counted and taken in one atomic step, caps on decompressed content,
refused attempts counted per uploader, and the checks on the fields that come with a file.

Documented in docs/SECURITY.md ("Upload limits"); every number here is a setting.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from smt import parser
from smt.models import RawSmtFile, UploadRefusal


class LimitReached(Exception):
    """The uploader's quota is used up; the message says which and when it renews."""


def content_budget(*, size: int) -> parser.ContentBudget:
    """What reading an upload of `size` bytes may decompress to: a multiple of it, and an absolute cap."""
    ratio, ceiling = settings.SMT_UPLOAD_EXPAND_RATIO, settings.SMT_UPLOAD_EXPAND_MAX_BYTES
    why = f"{ratio}x the {size}-byte upload, at most {ceiling} bytes: SMT_UPLOAD_EXPAND_RATIO, SMT_UPLOAD_EXPAND_MAX_BYTES"
    return parser.ContentBudget(min(max(size, 1) * ratio, ceiling), why)


@contextmanager
def upload_quota_taken(*, uploader: str, since: datetime, allowed: int, message: str) -> Iterator[None]:
    """Count the uploader's files since `since` and insert the new one in one step.

    Inside the block the caller stores the file. A transaction-scoped advisory lock per
    uploader makes parallel requests queue for the count, so N requests racing for the
    last slot store exactly one; without it each counts the same total and all pass.
    Raises LimitReached (nothing stored) when `allowed` files are already counted.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"smt-upload-quota:{uploader}"]
                )
        if RawSmtFile.objects.uploads_since(uploader=uploader, since=since) >= allowed:
            raise LimitReached(message)
        yield


def upload_refusal_record(*, uploader: str, reason: str) -> None:
    """Count a refused upload against its uploader: refusals cost work, and are otherwise free."""
    UploadRefusal.objects.create(uploader=uploader[:160], reason=reason[:500])


def upload_refusals_left(*, uploader: str, now: datetime | None = None) -> int:
    """Refused uploads the uploader may still make in the last 24 hours."""
    since = (now or timezone.now()) - timedelta(days=1)
    used = UploadRefusal.objects.filter(uploader=uploader, at__gte=since).count()
    return max(0, settings.SMT_UPLOAD_REFUSALS_PER_DAY - used)


def upload_field_problem(fields: dict[str, str]) -> str | None:
    """The first text field a raw-file row cannot hold, named with the reason, or None.

    Checked before the bytes are stored: PostgreSQL refuses a NUL in text, and a refused
    insert after the save would leave a stored object with no raw-file row.
    """
    for name, value in fields.items():
        if "\x00" in value:
            return f"field {name!r} contains a NUL character"
        if any(ord(char) < 32 and char not in "\t" for char in value):
            return f"field {name!r} contains a control character"
    return None
