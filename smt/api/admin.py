"""JSON API for SMT under /api/admin/: normalize, raw-file listing, legacy inline pull."""

import base64
import binascii
import gzip
import hashlib
import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from config.texas import CENTRAL
from ops.models import JobRun
from smt import greenbutton_export, ingest, interval_rows, limits, mirror, origins, parser, storage, usage
from smt.models import RawSmtFile
from smt.normalize import raw_file_normalize

router = Router(tags=["smt"])


class NormalizeIn(Schema):
    rawId: int | None = Field(None, ge=1)
    latest: bool = False
    dryRun: bool = False


@router.post("/smt/normalize")
def normalize(request: HttpRequest, body: NormalizeIn) -> dict:
    """Normalize one raw file (`rawId`) or the newest one (`latest: true`), now."""
    if body.rawId is None and not body.latest:
        raise HttpError(422, "give 'rawId' (a raw file id) or 'latest': true")
    files = RawSmtFile.objects.all()
    raw = files.filter(pk=body.rawId).first() if body.rawId else files.first()
    if raw is None:
        raise HttpError(404, f"raw file {body.rawId} not found" if body.rawId else "no raw files yet")
    stats = raw_file_normalize(raw_file=raw, dry_run=body.dryRun)
    raw.refresh_from_db()
    return {"ok": "error" not in stats, **stats, "files": [{"rawId": raw.pk, "status": raw.status, **stats}]}


class RawFilesQuery(Schema):
    limit: int = Field(50, ge=1, le=1000)


@router.get("/debug/smt/raw-files")
def raw_files(request: HttpRequest, query: Query[RawFilesQuery]) -> dict:
    rows = RawSmtFile.objects.all()[: query.limit]
    return {"ok": True, "count": len(rows), "files": [raw.as_json() for raw in rows]}


class PullIn(Schema):
    mode: Literal["inline"]
    source: str = Field("smt-inline", max_length=64)
    filename: str = Field(..., min_length=1, max_length=255)
    mime: str = "text/csv"
    encoding: Literal["base64", "base64+gzip"] = "base64"
    sizeBytes: int | None = Field(None, ge=0)
    content_b64: str = Field(..., min_length=1)
    esiid: str = ""
    meter: str = Field("", max_length=64)
    captured_at: str | None = None
    # Green Button files with several UsagePoints: each UsagePoint path to its ESIID.
    usage_point_esiids: dict[str, str] = Field(default_factory=dict, max_length=100)


@router.post("/smt/pull", response={200: dict, 201: dict, 202: dict})
def pull_inline(request: HttpRequest, body: PullIn):
    """Legacy inline JSON upload for small files (4 MB decoded); use /upload beyond that."""
    limit = settings.SMT_INLINE_MAX_BYTES
    if len(body.content_b64) > (limit * 4 // 3) + 8:
        raise HttpError(413, f"inline content is limited to {limit} bytes; stream larger files to /upload")
    try:
        content = base64.b64decode(body.content_b64, validate=True)
        if body.encoding == "base64+gzip":
            content = gzip.GzipFile(fileobj=io.BytesIO(content)).read(limit + 1)
    except (binascii.Error, ValueError):
        raise HttpError(422, "content_b64 is not valid base64") from None
    except (OSError, EOFError):
        raise HttpError(422, "content_b64 is not valid gzip data (encoding 'base64+gzip')") from None
    if len(content) > limit:
        raise HttpError(413, f"inline content is limited to {limit} bytes; stream larger files to /upload")
    if body.sizeBytes is not None and body.sizeBytes != len(content):
        raise HttpError(422, f"sizeBytes says {body.sizeBytes} but the content has {len(content)} bytes")
    esiid = parser.parse_esiid(body.esiid) if body.esiid else ""
    if esiid is None:
        raise HttpError(422, f"esiid {body.esiid!r} is not a 17- or 22-digit ESIID")
    if problem := limits.upload_field_problem({"source": body.source, "meter": body.meter, "filename": body.filename}):
        raise HttpError(422, f"{problem}; nothing was stored")
    sha = hashlib.sha256(content).hexdigest()
    try:
        usage_points = interval_rows.usage_point_esiids_parse(json.dumps(body.usage_point_esiids))
        existing = RawSmtFile.objects.filter(sha256=sha).first()
        if existing and existing.official:  # a customer's copy is promoted by raw_file_store
            return _pull_resent(existing, content, request.auth, esiid=esiid, points=usage_points)
        inspection = storage.raw_file_inspect(
            fileobj=io.BytesIO(content), size=len(content), expected_esiid=esiid or None, usage_points=usage_points
        )
    except parser.FileRejected as exc:
        raise HttpError(422, f"file refused: {exc}") from None
    stored = storage.raw_file_store(
        fileobj=io.BytesIO(content),
        sha256=sha,
        size=len(content),
        filename=body.filename,
        source=body.source,
        esiid=esiid,
        meter=body.meter,
        kind=inspection.kind,
        uploader=request.auth,
        origin=origins.origin_for_identity(request.auth),
        usage_points=usage_points,
        uploaded_by=request.user if request.user.is_authenticated else None,
    )
    raw = stored.raw_file
    if not stored.duplicate:
        ingest.raw_file_queue(raw_file=raw)
    return Status(
        200 if stored.duplicate else 201,
        {
            "ok": True,
            "duplicate": stored.duplicate,
            "rawId": raw.pk,
            "sha256": sha,
            "size": len(content),
            "status": raw.status,
            "kind": inspection.kind,
            "notes": inspection.notes,
        },
    )


def _pull_resent(raw: RawSmtFile, content: bytes, identity: str, *, esiid: str, points: dict[str, str]) -> Status:
    """Bytes SMT's channels stored already: a duplicate, unless a failed file gets the hints it lacked."""
    body = {"ok": True, "duplicate": True, "rawId": raw.pk, "sha256": raw.sha256, "size": len(content)}
    if not raw.hints_new(esiid=esiid, usage_points=points):
        return Status(200, body | {"status": raw.status})
    merged_esiid, merged_points = raw.hints_merged(esiid=esiid, usage_points=points)
    inspection = storage.raw_file_inspect(
        fileobj=io.BytesIO(content), size=len(content), expected_esiid=merged_esiid or None, usage_points=merged_points
    )
    changed = ingest.raw_file_hints_take(raw_file=raw, by=identity, esiid=esiid, usage_points=points)
    raw.refresh_from_db(fields=["status"])
    if not changed:  # another request re-queued it a moment ago
        return Status(200, body | {"status": raw.status})
    message = ingest.hints_requeued_message(changed)
    return Status(
        202,
        body
        | {"status": raw.status, "requeued": True, "message": message, "kind": raw.kind, "notes": inspection.notes},
    )


class GreenButtonQuery(Schema):
    esiid: str = Field(..., min_length=1)
    start: str = ""
    end: str = ""


@router.get("/smt/green-button")
def green_button_export(request: HttpRequest, query: Query[GreenButtonQuery]) -> StreamingHttpResponse:
    """One ESIID's intervals as Green Button (ESPI XML), streamed: Central days `start`..`end`, `end` included."""
    esiid = parser.parse_esiid(query.esiid)
    if esiid is None:
        raise HttpError(422, f"esiid {query.esiid!r} is not a 17- or 22-digit ESIID")
    try:
        first, last = greenbutton_export.greenbutton_export_range(start=query.start, end=query.end)
    except ValidationError as exc:
        raise HttpError(400, "; ".join(exc.messages)) from None
    response = StreamingHttpResponse(
        greenbutton_export.greenbutton_export(esiid=esiid, first=first, last=last), content_type="application/atom+xml"
    )
    name = greenbutton_export.greenbutton_export_filename(esiid=esiid, first=first, last=last)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# ---------------------------------------------------------------- usage (issue: inspection, deletion, summaries)


def parse_instant(value: str | None, field: str) -> datetime | None:
    """ISO 8601; a bare date is midnight UTC; a time without offset is taken as UTC."""
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HttpError(400, f"{field}: {value!r} is not an ISO 8601 date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_day(value: str | None, field: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise HttpError(400, f"{field}: {value!r} is not an ISO 8601 date (YYYY-MM-DD)") from None


class IntervalQuery(Schema):
    esiid: str = Field(..., min_length=1)
    meter: str | None = None
    dateStart: str | None = None
    dateEnd: str | None = None
    limit: int = Field(1000, ge=1, le=100_000)


@router.get("/debug/smt/intervals")
def intervals_list(request: HttpRequest, query: Query[IntervalQuery]) -> dict:
    rows = usage.intervals_for(esiid=query.esiid, meter=query.meter)
    start, end = parse_instant(query.dateStart, "dateStart"), parse_instant(query.dateEnd, "dateEnd")
    if start:
        rows = rows.filter(ts__gte=start)
    if end:
        rows = rows.filter(ts__lt=end)
    data = [usage.interval_json(r) for r in rows.order_by("ts", "meter", "channel")[: query.limit]]
    return {"ok": True, "count": len(data), "intervals": data}


class DeleteIn(Schema):
    esiid: str | None = None
    meter: str | None = None
    dateStart: str | None = None
    dateEnd: str | None = None
    reason: str = Field("", max_length=2000)


@router.post("/debug/smt/intervals")
def intervals_delete(request: HttpRequest, body: DeleteIn) -> dict:
    missing = [name for name in ("esiid", "meter", "dateStart", "dateEnd") if not getattr(body, name)]
    if missing:
        raise HttpError(400, f"missing field(s): {', '.join(missing)}; an unbounded range is refused")
    start, end = parse_instant(body.dateStart, "dateStart"), parse_instant(body.dateEnd, "dateEnd")
    try:
        record = usage.intervals_delete(
            esiid=body.esiid,
            meter=body.meter,
            start=start,
            end=end,
            reason=body.reason,
            actor=request.auth,
            user=request.user if request.user.is_authenticated else None,
        )
    except ValidationError as exc:
        raise HttpError(400, "; ".join(exc.messages)) from None
    return {"ok": True, "deletedCount": record.deleted_count, "auditId": record.pk, "rawFileIds": record.raw_file_ids}


class SummaryQuery(Schema):
    esiid: str = Field(..., min_length=1)
    meter: str | None = None
    dateStart: str | None = None
    dateEnd: str | None = None
    limit: int = Field(400, ge=1, le=usage.MAX_SUMMARY_DAYS)


@router.get("/analysis/daily-summary")
def daily_summary(request: HttpRequest, query: Query[SummaryQuery]) -> dict:
    today = timezone.localdate(timezone=CENTRAL)
    end = parse_day(query.dateEnd, "dateEnd") or today
    start = parse_day(query.dateStart, "dateStart") or end - timedelta(days=min(query.limit, 30) - 1)
    if (end - start).days + 1 > query.limit:
        start = end - timedelta(days=query.limit - 1)
    try:
        days = usage.daily_summary(esiid=query.esiid, meter=query.meter, start=start, end=end)
    except ValidationError as exc:
        raise HttpError(400, "; ".join(exc.messages)) from None
    return {"ok": True, "esiid": query.esiid, "days": [d.as_json() for d in days]}


class BackfillIn(Schema):
    esiid: str = Field(..., min_length=17, max_length=22, pattern=r"^\d+$")
    days: int = Field(30, ge=1, le=800)
    limit: int = Field(10_000, ge=1, le=100_000)


@router.post("/smt/backfill-usage")
def backfill_usage(request: HttpRequest, body: BackfillIn) -> dict:
    return {"ok": True, **usage.backfill_usage(esiid=body.esiid, days=body.days, limit=body.limit, now=timezone.now())}


class MirrorIn(Schema):
    esiid: str = ""


@router.post("/smt/mirror", response={202: dict})
def mirror_queue(request: HttpRequest, body: MirrorIn):
    """Queue a mirror + ingest run now (optionally tagged with an ESIID); poll /jobs/{jobId}."""
    esiid = parser.parse_esiid(body.esiid) if body.esiid else ""
    if esiid is None:
        raise HttpError(422, f"esiid {body.esiid!r} is not a 17- or 22-digit ESIID")
    job = mirror.mirror_queue(trigger=JobRun.Trigger.MANUAL, esiid=esiid)
    return Status(202, {"ok": True, **job.as_json()})
