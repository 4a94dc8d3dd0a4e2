"""JSON API under /api/power-analytics/: telemetry for devices without MQTT, health, summaries,
timelines, cost versions and recalculation. The API calls a location a classroom."""

import datetime as dt
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from config.auth import admin_token_given, request_identity
from telemetry import ingest, messages, reports, routes, totals
from telemetry.models import CostVersion, Device, Location

router = Router(tags=["power-analytics"])
MAX_READINGS = 5000
MAX_TIMELINE = timedelta(days=31)


def _caller(request: HttpRequest, names: set[str]) -> str:
    """The admin token, or the per-device token of the one device all readings are for (401 otherwise)."""
    if admin_token_given(request):
        return "token:admin"
    token = request.headers.get("x-device-token")
    if token and len(names) == 1:
        device = Device.objects.filter(name=next(iter(names))).first()
        if device is not None and device.token_matches(token):
            return f"device:{device.name}"
    raise HttpError(401, "give x-admin-token, or x-device-token with readings of that one device")


def _device_names(data) -> set[str | None]:
    """The devices the readings are for, None standing for any reading without a device name,
    so a device token never covers a body holding one (and no list or object is hashed)."""
    items = data if isinstance(data, list) else [data]
    return {i["device"] if isinstance(i, dict) and isinstance(i.get("device"), str) else None for i in items}


def _readings(data) -> list[messages.ReadingIn]:
    items = data if isinstance(data, list) else [data]
    if not items or len(items) > MAX_READINGS or not all(isinstance(i, dict) for i in items):
        raise HttpError(422, f"send one reading object or a list of 1 to {MAX_READINGS} of them")
    now, readings = timezone.now(), []
    # Each device's own zone (for times without an offset) and counter unit, as over MQTT.
    profiles = ingest.device_profiles({name for i in items if (name := _queryable(i.get("device")))})
    for index, item in enumerate(items):
        device = item.get("device")
        if not isinstance(device, str) or not device.strip() or len(device) > 120 or "/" in device:
            raise HttpError(422, f"readings[{index}].device: a device name (1-120 characters, no '/') is required")
        try:
            profile = profiles.get(device.strip()) or routes.DeviceProfile()
            readings.append(
                messages.reading_from_json(
                    device.strip(), item, now, time_zone=profile.time_zone, counter_unit=profile.counter_unit
                )
            )
        except messages.MessageError as exc:
            raise HttpError(422, f"readings[{index}]: {exc}") from None
    return readings


def _queryable(device) -> str:
    """The device name if a query may hold it (the loop below refuses the others, naming why)."""
    try:
        return messages.text_field(device.strip(), "device", 120) if isinstance(device, str) else ""
    except messages.MessageError:
        return ""


@router.post("/telemetry", auth=None)
def power_telemetry(request: HttpRequest) -> dict:
    """One reading `{device, energy_wh_total | energy_kwh_total, ts?, power_w?, switch_state?, seq?, boot_id?}` or a list."""
    try:
        data, problem = messages.json_load(request.body or b"null"), ""
    except messages.MessageError as exc:
        data, problem = None, f"body is {exc}"
    _caller(request, _device_names(data))  # before anything is parsed in depth or stored
    if problem:
        raise HttpError(400, problem)
    readings = _readings(data)
    try:
        result = ingest.items_record(readings, source="api")
    except ingest.DATA_REFUSED as exc:  # rolled back whole: nothing of the body is stored
        raise HttpError(422, f"the database refused the readings: {ingest.refusal_reason(exc)}") from None
    return {
        "ok": True,
        "stored": result.stored,
        "duplicates": result.duplicates,
        "devices_registered": result.devices_created,
    }


@router.get("/health")
def power_health(request: HttpRequest) -> dict:
    return reports.health_snapshot()


def _location(name: str) -> Location:
    return get_object_or_404(Location, name=name)


class SummaryQuery(Schema):
    classroom: str = Field(..., min_length=1)
    date: dt.date | None = None


@router.get("/summary")
def power_summary(request: HttpRequest, query: Query[SummaryQuery]) -> dict:
    """Energy and cost of a classroom's devices on one local day (today when no date)."""
    day = query.date or totals.local_day(timezone.now())
    return reports.location_summary(location=_location(query.classroom), day=day)


class TimelineQuery(Schema):
    classroom: str = Field(..., min_length=1)
    start: datetime
    end: datetime


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=totals.local_zone())


@router.get("/timeline")
def power_timeline(request: HttpRequest, query: Query[TimelineQuery]) -> dict:
    """Ledger entries and readings (power) per device, start <= t < end (naive times are local)."""
    start, end = _aware(query.start), _aware(query.end)
    if end <= start or end - start > MAX_TIMELINE:
        raise HttpError(422, "end must be after start, at most 31 days later")
    return reports.location_timeline(location=_location(query.classroom), start=start, end=end)


class CostVersionIn(Schema):
    cost_per_kwh: Decimal = Field(..., ge=0, max_digits=12, decimal_places=6)
    effective_from: datetime
    notes: str = Field("", max_length=2000)


def cost_version_json(version: CostVersion) -> dict:
    return {
        "id": version.pk,
        "cost_per_kwh": str(version.cost_per_kwh),
        "effective_from": version.effective_from.isoformat(),
        "notes": version.notes,
        "created_by": version.created_by,
        "created_at": version.created_at.isoformat(),
    }


@router.get("/cost-versions")
def power_cost_versions(request: HttpRequest) -> dict:
    return {"versions": [cost_version_json(v) for v in CostVersion.objects.all()]}


@router.post("/cost-versions")
def power_cost_version_add(request: HttpRequest, body: CostVersionIn) -> dict:
    """Add a price from `effective_from` (with offset; naive is local) and recalculate the days it affects."""
    try:
        version = totals.cost_version_create(
            cost_per_kwh=body.cost_per_kwh,
            effective_from=_aware(body.effective_from),
            notes=body.notes,
            created_by=request_identity(request) or "",
        )
    except ValidationError as exc:
        raise HttpError(422, "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
    return {"ok": True, "version": cost_version_json(version), "recalculation": version.recalculation}


class RecalculateIn(Schema):
    classroom: str = Field(..., min_length=1)
    start: date
    end: date


@router.post("/recalculate")
def power_recalculate(request: HttpRequest, body: RecalculateIn) -> dict:
    """Rebuild from the ledger the daily totals of the devices that were in the classroom during
    the local days start..end, on the days they were there."""
    if body.end < body.start or (body.end - body.start).days > 3660:
        raise HttpError(422, "end must not be before start, at most ten years later")
    return {"ok": True, **totals.range_recalculate(first=body.start, last=body.end, location=_location(body.classroom))}
