"""What a customer sees of their own uploads: their files only, and each outcome in plain words."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import QuerySet

from config.texas import CENTRAL
from smt.models import RawSmtFile


def customer_raw_files(*, user) -> QuerySet:
    """The raw files this customer uploaded themselves, newest first; nobody else's, ever."""
    return RawSmtFile.objects.filter(uploaded_by=user, origin=RawSmtFile.Origin.CUSTOMER)


@dataclass(frozen=True)
class UploadOutcome:
    """One upload as a homeowner reads it: done yet, what it did, and which local days it covers."""

    pending: bool
    ok: bool
    text: str
    first_day: date | None = None
    last_day: date | None = None


def local_day(iso: str | None) -> date | None:
    """The Central day of an ISO instant from the normalize stats ("2025-11-02T05:00:00Z")."""
    if not iso:
        return None
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(CENTRAL).date()


def days_label(first: date, last: date) -> str:
    """'Nov 2, 2025', 'Nov 1 – 30, 2025', 'Nov 1 – Dec 3, 2025' or 'Dec 30, 2024 – Jan 2, 2025'."""
    if first == last:
        return f"{first:%b} {first.day}, {first.year}"
    if first.year != last.year:
        return f"{first:%b} {first.day}, {first.year} – {last:%b} {last.day}, {last.year}"
    if first.month != last.month:
        return f"{first:%b} {first.day} – {last:%b} {last.day}, {last.year}"
    return f"{first:%b} {first.day} – {last.day}, {last.year}"


def _readings(n: int) -> str:
    return f"{n} reading" if n == 1 else f"{n} readings"


def upload_outcome(raw_file: RawSmtFile) -> UploadOutcome:
    """The outcome of one upload in words, e.g. '96 readings for Nov 2, 2025 added; 4 revised'."""
    if raw_file.pending:
        return UploadOutcome(pending=True, ok=True, text="Received; reading your file now…")
    if raw_file.status == RawSmtFile.Status.FAILED:
        return UploadOutcome(
            pending=False, ok=False, text=f"Not added: {raw_file.error or 'the file could not be read'}"
        )
    stats = raw_file.stats or {}
    first, last = local_day(stats.get("tsMin")), local_day(stats.get("tsMax"))
    # tsMax is the start of the last interval, so a file ending at midnight stays on its own day.
    added, revised = stats.get("intervalsInserted", 0), stats.get("intervalsUpdated", 0)
    span = f" for {days_label(first, last)}" if first and last else ""
    if added == 0 and revised == 0:
        text = f"Nothing new: we already had all {_readings(stats.get('validRows', 0))}{span}"
    else:
        text = f"{_readings(added)}{span} added"
        if revised:
            text += f"; {revised} revised"
    return UploadOutcome(pending=False, ok=True, text=text, first_day=first, last_day=last)


def upload_usage_range(outcome: UploadOutcome) -> tuple[date, date] | None:
    """The usage-page range that shows an upload's days (a week at least, so one day is not a lone bar)."""
    if outcome.first_day is None or outcome.last_day is None:
        return None
    start = min(outcome.first_day, outcome.last_day - timedelta(days=6))
    return start, outcome.last_day
