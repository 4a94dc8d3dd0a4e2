"""Customer workflows: houses added, uploads limited to their own ESIIDs, per-house usage summaries."""

import secrets
from collections.abc import Mapping
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.texas import CENTRAL
from smt import limits, origins, parser, usage
from smt.models import House, RawSmtFile, SmtInterval


def customer_identity(user) -> str:
    return f"customer:{user.get_username()}"


def house_create(*, username: str, email: str, name: str, esiid: str, meter: str) -> tuple[House, str]:
    """Add a house for the customer `username`, creating the account when it is new.

    Returns the house and the new account's one-time password ("" for an existing customer).
    Raises ValidationError on `username` for a staff account (customers are separate users) and
    on `esiid` for a house the customer already has; nothing is written then.
    """
    with transaction.atomic():
        user, created = get_user_model().objects.get_or_create(username=username, defaults={"email": email})
        if user.is_staff:
            raise ValidationError({"username": "That is a staff account; customers are separate users."})
        password = ""
        if created:
            password = secrets.token_urlsafe(10)
            user.set_password(password)
            user.save()
        try:
            with transaction.atomic():
                house = House.objects.create(customer=user, name=name, esiid=esiid, meter=meter)
        except IntegrityError:
            raise ValidationError({"esiid": "This customer already has a house with that ESIID."}) from None
    return house, password


def customer_month_start(now: datetime | None = None) -> datetime:
    """Where the monthly quota starts counting: the 1st, midnight Central time."""
    now = (now or timezone.now()).astimezone(CENTRAL)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def customer_uploads_left(*, user, now: datetime | None = None) -> int:
    """Uploads left this calendar month (Central time)."""
    used = RawSmtFile.objects.uploads_since(uploader=customer_identity(user), since=customer_month_start(now))
    return max(0, settings.SMT_CUSTOMER_UPLOADS_PER_MONTH - used)


def customer_quota_taken(*, user):
    """A block in which storing one file uses one of the month's uploads, atomically (LimitReached)."""
    return limits.upload_quota_taken(
        uploader=customer_identity(user),
        since=customer_month_start(),
        allowed=settings.SMT_CUSTOMER_UPLOADS_PER_MONTH,
        message="monthly upload quota used up; it renews on the 1st (Central time)",
    )


def customer_file_check(
    *,
    fileobj,
    user,
    budget: parser.ContentBudget | None = None,
    expected_esiid: str | None = None,
    usage_points: Mapping[str, str] | None = None,
) -> list[str]:
    """The file's ESIIDs, all of them the customer's. Raises FileRejected naming the line.

    Reads the whole file once (customer exports are small) with the reader the worker loads it
    with, so what passes here is exactly what is loaded; nothing is stored before this passes.
    `expected_esiid` and `usage_points` are the upload's (customer_expected_esiid), stored on
    the raw file so the worker reads it the same way.
    """
    stats, seen = parser.ParseStats(), set()
    rows = origins.customer_rows(
        fileobj,
        stats,
        esiids=origins.customer_esiids(user=user),
        budget=budget,
        expected_esiid=expected_esiid,
        usage_points=usage_points,
    )
    for row in rows:
        seen.add(row.esiid)
    fileobj.seek(0)
    if not seen:
        raise parser.FileRejected("no valid interval row in the file; expected an SMT interval export")
    return sorted(seen)


def customer_expected_esiid(*, user, given: str) -> str | None:
    """The ESIID a customer's upload names: the form's `esiid` (one of their houses), else their
    only house's. None when they have several and named none. Raises FileRejected."""
    esiids = sorted(origins.customer_esiids(user=user))
    if given.strip():
        esiid = parser.parse_esiid(given)
        if esiid is None or esiid not in esiids:
            raise parser.FileRejected(
                f"field 'esiid': {given.strip()!r} is not the ESIID of one of your houses "
                f"({', '.join(esiids) or 'none'})"
            )
        return esiid
    return esiids[0] if len(esiids) == 1 else None


def house_summary(
    *, house: House, days: int = 90, today: date | None = None, start: date | None = None, end: date | None = None
) -> dict:
    """Daily usage and completeness of one house over its last `days` local days, or start..end.

    Completeness counts only the days from the meter's first reading to yesterday
    (usage.counted_days); `incompleteDays` is how many of those miss readings.
    """
    today = today or timezone.localdate(timezone=CENTRAL)
    latest = SmtInterval.objects.filter(esiid=house.esiid).order_by("-ts").values_list("ts", flat=True).first()
    if start is None or end is None:
        start, end = _latest_window(house=house, days=days, today=today, latest=latest)
    summaries = usage.daily_summary(esiid=house.esiid, meter=house.meter or None, start=start, end=end)
    counted = usage.counted_days(summaries, first_day=usage.first_data_day(esiid=house.esiid), today=today)
    found, expected = sum(d.found for d in counted), sum(d.expected for d in counted)
    last_upload = RawSmtFile.objects.filter(origin=RawSmtFile.Origin.CUSTOMER, uploaded_by=house.customer).first()
    return {
        "houseId": house.pk,
        "name": house.name,
        "esiid": house.esiid,
        "dateStart": start.isoformat(),
        "dateEnd": end.isoformat(),
        "kwh": round(sum(d.kwh for d in summaries), 3),
        "completeness": round(found / expected, 4) if expected else 0.0,
        "found": found,
        "expected": expected,
        "countedDays": len(counted),
        "incompleteDays": sum(1 for d in counted if d.completeness < 1),
        "estimatedDays": sum(1 for d in summaries if d.estimated),
        "lastUpload": last_upload.received_at.isoformat() if last_upload else None,
        "lastUploadDay": last_upload.received_at.astimezone(CENTRAL).date().isoformat() if last_upload else None,
        "latestInterval": latest.isoformat() if latest else None,
        "latestDay": latest.astimezone(CENTRAL).date().isoformat() if latest else None,
        "days": [d.as_json() for d in summaries],
    }


def _latest_window(*, house: House, days: int, today: date, latest: datetime | None) -> tuple[date, date]:
    """The default range: the last `days` local days up to the newest data, from its first day."""
    # The window ends yesterday, or at the newest data when an older export is all we have:
    # a customer who uploads last year's file should see last year's chart, not 90 empty days.
    end = today - timedelta(days=1)
    if latest is not None:
        end = min(end, latest.astimezone(CENTRAL).date())
    start = end - timedelta(days=days - 1)
    # Completeness counts from the first day we hold: days before a customer's first export
    # are not "missing", they are before their data begins.
    first = (
        SmtInterval.objects.filter(esiid=house.esiid, ts__gte=usage.day_bounds(start, start)[0])
        .order_by("ts")
        .values_list("ts", flat=True)
        .first()
    )
    if first is not None:
        start = max(start, min(end, first.astimezone(CENTRAL).date()))
    return start, end


def house_months(*, house: House) -> list[date]:
    """The first day of every Central month holding readings for this house, newest first."""
    months = SmtInterval.objects.filter(esiid=house.esiid).datetimes("ts", "month", order="DESC", tzinfo=CENTRAL)
    return [m.date() for m in months]
