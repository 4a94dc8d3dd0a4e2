"""JSON API for SMT under /api/admin/: normalize, raw-file listing, legacy inline pull."""

import base64
import binascii
import gzip
import hashlib
import io
from typing import Literal

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from smt import ingest, parser
from smt.models import RawSmtFile

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
    stats = ingest.raw_file_normalize(raw_file=raw, dry_run=body.dryRun)
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


@router.post("/smt/pull", response={200: dict, 201: dict})
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
    sha = hashlib.sha256(content).hexdigest()
    existing = RawSmtFile.objects.filter(sha256=sha).first()
    if existing:
        return Status(200, {"ok": True, "duplicate": True, "rawId": existing.pk, "sha256": sha, "size": len(content), "status": existing.status})
    try:
        kind = ingest.raw_file_precheck(fileobj=io.BytesIO(content), size=len(content))
    except parser.FileRejected as exc:
        raise HttpError(422, f"file refused: {exc}") from None
    stored = ingest.raw_file_store(
        fileobj=io.BytesIO(content), sha256=sha, size=len(content), filename=body.filename,
        source=body.source, esiid=esiid, meter=body.meter, kind=kind, uploader=request.auth,
        uploaded_by=request.user if request.user.is_authenticated else None,
    )
    raw = stored.raw_file
    if not stored.duplicate:
        ingest.raw_file_queue(raw_file=raw)
    return Status(200 if stored.duplicate else 201, {
        "ok": True, "duplicate": stored.duplicate, "rawId": raw.pk, "sha256": sha, "size": len(content), "status": raw.status,
    })
