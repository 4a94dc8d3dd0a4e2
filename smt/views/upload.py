"""POST /upload and /api/admin/smt/raw-upload: the streaming upload endpoint.

It is a plain Django view, not a django-ninja one: the upload handlers must be in place
before anything reads the body, and the size check must happen before that too.
"""

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.auth import admin_token_given, request_identity, token_matches
from config.errors import json_error
from smt import greenbutton, ingest, interval_rows, limits, origins, parser, storage
from smt.esiid_checks import ercot_esiid_warnings
from smt.models import RawSmtFile
from smt.upload_handler import HashingUploadHandler, UploadTooLarge


def _csrf_failure(request: HttpRequest) -> JsonResponse | None:
    """Sessions need CSRF; token callers (curl, scripts) carry no cookie and need none.

    Only a valid token skips the check: a wrong one must not turn a forged session POST into
    an upload the session's owner never sent.
    """
    upload_token = token_matches(request.headers.get("x-smt-upload-token"), settings.SMT_UPLOAD_TOKEN)
    if admin_token_given(request) or upload_token:
        return None
    reason = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
    return json_error(403, "CSRF check failed; send the csrftoken with the upload") if reason else None


def _too_large(limit: int) -> JsonResponse:
    return json_error(413, f"file too large: the limit is {limit} bytes (SMT_UPLOAD_MAX_BYTES)", maxBytes=limit)


@csrf_exempt
@require_POST
def raw_file_upload(request: HttpRequest) -> JsonResponse:
    identity = request_identity(request, upload_token=True)
    if identity is None:
        if request.user.is_authenticated:
            return json_error(403, "staff role or an upload token is required to upload SMT files")
        return json_error(
            401, "authentication required: x-smt-upload-token, x-admin-token, Bearer token or a staff session"
        )
    since = timezone.now() - timedelta(days=1)
    # A cheap early refusal before the body streams in; _store counts again, atomically.
    if RawSmtFile.objects.uploads_since(uploader=identity, since=since) >= settings.SMT_UPLOADS_PER_DAY:
        return json_error(429, _daily_limit_message(identity))
    upload = receive_file(request)
    if isinstance(upload, JsonResponse):
        return upload
    return _store(request, upload, identity)


def receive_file(request: HttpRequest):
    """The streamed, hashed upload in field 'file', or a JSON error response (413, 415, 400, 403)."""
    limit = settings.SMT_UPLOAD_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return json_error(400, "invalid Content-Length header")
    if declared > limit + 64 * 1024:  # multipart framing adds a little around the file
        return _too_large(limit)
    if not request.content_type.startswith("multipart/form-data"):
        return json_error(415, "send multipart/form-data with the file in a field named 'file'")
    request.upload_handlers = [HashingUploadHandler(request, max_bytes=limit)]
    try:
        failure = _csrf_failure(request)
        if failure:
            return failure
        upload = request.FILES.get("file")
    except UploadTooLarge:
        return _too_large(limit)
    except MultiPartParserError as exc:
        return json_error(400, f"malformed multipart body: {exc}")
    if upload is None:
        return json_error(400, "missing form field 'file' (multipart file upload)")
    return upload


def _daily_limit_message(identity: str) -> str:
    return f"upload limit reached: {settings.SMT_UPLOADS_PER_DAY} files per day for {identity}; try again tomorrow"


def _store(request: HttpRequest, upload, identity: str) -> JsonResponse:
    esiid = request.POST.get("esiid", "").strip()
    if esiid and parser.parse_esiid(esiid) is None:
        return json_error(422, f"field 'esiid': {esiid!r} is not a 17- or 22-digit ESIID")
    fields = {name: request.POST.get(name, "") for name in ("source", "meter")} | {"filename": upload.name or ""}
    if problem := limits.upload_field_problem(fields):
        upload.close()
        return json_error(422, f"{problem}; nothing was stored")
    try:
        usage_points = interval_rows.usage_point_esiids_parse(request.POST.get("usage_point_esiids", ""))
    except parser.FileRejected as exc:
        upload.close()
        return json_error(422, f"{exc}; nothing was stored")
    quota = limits.upload_quota_taken(
        uploader=identity,
        since=timezone.now() - timedelta(days=1),
        allowed=settings.SMT_UPLOADS_PER_DAY,
        message=_daily_limit_message(identity),
    )
    try:
        with upload:
            existing = RawSmtFile.objects.filter(sha256=upload.sha256).first()
            if existing and existing.official:  # a customer's copy is promoted by raw_file_store
                return _resent(existing, upload, identity, esiid=parser.parse_esiid(esiid) or "", points=usage_points)
            # Staff and tokens may send SMT's PGP bundles; customers (their own upload page) may not.
            inspection = storage.raw_file_inspect(
                fileobj=upload,
                size=upload.size,
                filename=upload.name or "",
                bundles=True,
                expected_esiid=esiid or None,
                usage_points=usage_points,
            )
            with quota:
                stored = storage.raw_file_store(
                    fileobj=upload,
                    sha256=upload.sha256,
                    size=upload.size,
                    filename=upload.name or "",
                    source=request.POST.get("source", "upload").strip() or "upload",
                    esiid=parser.parse_esiid(esiid) or "",
                    meter=request.POST.get("meter", "").strip(),
                    kind=inspection.kind,
                    uploaded_by=request.user if request.user.is_authenticated else None,
                    uploader=identity,
                    origin=origins.origin_for_identity(identity),
                    usage_points=usage_points,
                )
    except greenbutton.UsagePointsUnmapped as exc:
        return json_error(422, f"file refused: {exc}", usagePoints=exc.usage_points)
    except parser.FileRejected as exc:
        return json_error(422, f"file refused: {exc}")
    except limits.LimitReached as exc:
        return json_error(429, str(exc))
    raw = stored.raw_file
    if stored.duplicate:
        return JsonResponse(upload_body(raw, duplicate=True), status=200)
    ingest.raw_file_queue(raw_file=raw)
    return JsonResponse(upload_body(raw, duplicate=False, notes=inspection.notes), status=201)


def _resent(raw: RawSmtFile, upload, identity: str, *, esiid: str, points: dict[str, str]) -> JsonResponse:
    """Bytes SMT's channels stored already: a duplicate, unless a failed file gets the hints it lacked.

    The new hints are checked against the file as a new upload's would be (FileRejected: 422).
    """
    if not raw.hints_new(esiid=esiid, usage_points=points):
        return JsonResponse(upload_body(raw, duplicate=True), status=200)
    merged_esiid, merged_points = raw.hints_merged(esiid=esiid, usage_points=points)
    inspection = storage.raw_file_inspect(
        fileobj=upload,
        size=upload.size,
        filename=upload.name or "",
        bundles=True,
        expected_esiid=merged_esiid or None,
        usage_points=merged_points,
    )
    changed = ingest.raw_file_hints_take(raw_file=raw, by=identity, esiid=esiid, usage_points=points)
    if not changed:  # another request re-queued it a moment ago
        return JsonResponse(upload_body(raw, duplicate=True), status=200)
    return JsonResponse(requeued_body(raw, changed, notes=inspection.notes), status=202)


def requeued_body(raw: RawSmtFile, changed: list[str], *, notes: list[str]) -> dict:
    """upload_body for stored bytes re-queued with new hints: still a duplicate, but not ignored."""
    return upload_body(raw, duplicate=True, notes=notes) | {
        "requeued": True,
        "message": ingest.hints_requeued_message(changed),
    }


def upload_body(raw: RawSmtFile, *, duplicate: bool, notes: list[str] | None = None) -> dict:
    raw.refresh_from_db(fields=["status", "stats", "kind"])
    body = {
        "ok": True,
        "duplicate": duplicate,
        "rawId": raw.pk,
        "sha256": raw.sha256,
        "size": raw.size_bytes,
        "status": raw.status,
        "filename": raw.filename,
        "url": raw.get_absolute_url(),
        "kind": raw.kind,
        # What was undone or decided reading it (a spreadsheet's UTF-16, a scientific ESIID, ...).
        "notes": raw.stats.get("notes") or notes or [],
    }
    # The file's own ESIIDs once normalized, else the ESIID given with the upload.
    warnings = raw.stats.get("esiidWarnings") or ercot_esiid_warnings([raw.esiid_hint])
    if warnings:
        body["esiidWarnings"] = warnings
    return body
