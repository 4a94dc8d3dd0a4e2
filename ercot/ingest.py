"""ERCOT TDSP ESIID extract ingest: zips into storage, then rows into the ESIID master table.

Fetch: list the documents on the first configured path (EWS, Public API, MIS), stream every
document not yet ingested into storage at `ercot/<Central date>/<ConstructedName>`, record one
`ErcotIngest` row per document. Anything already stored is skipped, so runs can be repeated.

Load: each stored extract goes into `EsiidRecord` (see ercot.esiids).
"""

import hashlib
import logging
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from ercot import download, esiids, ews, extract
from ercot.models import ErcotIngest

log = logging.getLogger(__name__)
METHODS = ("ews", "api", "mis")


# ---------------------------------------------------------------- configuration


def _ews_missing() -> list[str]:
    missing = [] if settings.ERCOT_EWS_BASE else ["ERCOT_EWS_BASE"]
    if settings.ERCOT_EWS_PFX:
        return missing
    if settings.ERCOT_EWS_CERT or settings.ERCOT_EWS_KEY:
        return missing + [name for name in ("ERCOT_EWS_CERT", "ERCOT_EWS_KEY") if not getattr(settings, name)]
    return missing + ["ERCOT_EWS_PFX"]  # or ERCOT_EWS_CERT with ERCOT_EWS_KEY


_API_VARIABLES = (
    "ERCOT_SUBSCRIPTION_KEY",
    "ERCOT_USERNAME",
    "ERCOT_PASSWORD",
    "ERCOT_TOKEN_URL",
    "ERCOT_API_BASE_URL",
    "ERCOT_CLIENT_ID",
    "ERCOT_SCOPE",
    "ERCOT_PRODUCT_ID",
)
_EWS_VARIABLES = ("ERCOT_EWS_BASE", "ERCOT_EWS_PFX", "ERCOT_EWS_CERT", "ERCOT_EWS_KEY")


def method_missing(method: str) -> list[str]:
    """The unset variables that `method` needs (empty: the method is ready)."""
    if method == "ews":
        return _ews_missing()
    if method == "api":
        return [name for name in _API_VARIABLES if not getattr(settings, name)]
    return [] if settings.ERCOT_MIS_BASE_URL else ["ERCOT_MIS_BASE_URL"]


def method_requested(method: str) -> bool:
    """A method counts as wanted once any of its own credentials is set."""
    if method == "ews":
        return any(getattr(settings, name) for name in _EWS_VARIABLES)
    if method == "api":
        return any(getattr(settings, name) for name in ("ERCOT_SUBSCRIPTION_KEY", "ERCOT_USERNAME", "ERCOT_PASSWORD"))
    return True


def ercot_health() -> dict:
    """{ok, method, missing}: the method a fetch would use first and what the wanted ones lack."""
    ready = [m for m in METHODS if not method_missing(m)]
    missing = [name for m in METHODS if method_requested(m) for name in method_missing(m)]
    return {
        "ok": not missing and bool(ready),
        "method": ready[0] if ready else None,
        "missing": missing,
        "methods": ready,
    }


def ercot_client(method: str):
    timeout = settings.ERCOT_HTTP_TIMEOUT
    if method == "ews":
        ca = settings.ERCOT_EWS_CA.encode()
        if settings.ERCOT_EWS_PFX:
            cert = ews.ClientCertificate.from_pfx(_b64(settings.ERCOT_EWS_PFX), settings.ERCOT_EWS_PFX_PASS, ca)
        else:
            cert = ews.ClientCertificate(settings.ERCOT_EWS_CERT.encode(), settings.ERCOT_EWS_KEY.encode(), ca)
        return ews.EwsClient(
            base_url=settings.ERCOT_EWS_BASE,
            cert=cert,
            report_type=settings.ERCOT_EWS_REPORTTYPE,
            source=settings.ERCOT_EWS_SOURCE,
            user_id=settings.ERCOT_EWS_USERID,
            timeout=timeout,
        )
    if method == "api":
        return download.ApiClient(
            base_url=settings.ERCOT_API_BASE_URL,
            token_url=settings.ERCOT_TOKEN_URL,
            subscription_key=settings.ERCOT_SUBSCRIPTION_KEY,
            username=settings.ERCOT_USERNAME,
            password=settings.ERCOT_PASSWORD,
            client_id=settings.ERCOT_CLIENT_ID,
            scope=settings.ERCOT_SCOPE,
            product_id=settings.ERCOT_PRODUCT_ID,
            timeout=timeout,
            min_interval=settings.ERCOT_API_MIN_INTERVAL,
        )
    return download.MisClient(
        base_url=settings.ERCOT_MIS_BASE_URL, report_type=settings.ERCOT_REPORT_TYPE, timeout=timeout
    )


def _b64(value: str) -> bytes:
    import base64

    return base64.b64decode("".join(value.split()))


# ---------------------------------------------------------------- fetch


@dataclass
class FetchRun:
    method: str | None = None
    results: list[dict] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)  # "ews: <why it was passed over>"

    @property
    def ok(self) -> bool:
        return self.method is not None and not any("error" in r for r in self.results)

    def as_json(self) -> dict:
        return {"ok": self.ok, "method": self.method, "results": self.results, "fallbacks": self.tried}


def ercot_fetch(*, method: str | None = None, day: date | None = None, load: bool = True) -> FetchRun:
    """Fetch every listed extract not stored yet (only those of Central `day` when given).

    Paths are tried in order (EWS, API, MIS) among the configured ones; a path whose listing
    fails hands over to the next. `method` forces one path. Stored files are queued for loading.
    """
    run = FetchRun()
    for name in [method] if method else [m for m in METHODS if not method_missing(m)]:
        if missing := method_missing(name):
            run.tried.append(f"{name}: not configured, missing {', '.join(missing)}")
            continue
        try:
            client = ercot_client(name)
            docs = client.list_documents()
        except (download.FetchError, ValueError, OSError) as exc:
            run.tried.append(f"{name}: {exc}")
            log.warning("ERCOT %s listing failed: %s", name, exc)
            continue
        run.method = name
        for doc in docs:
            if day and not _on_day(doc, day):
                continue
            result = ingest_document(client=client, doc=doc)
            run.results.append(result)
            # New files, and files found in storage but never loaded (a lost row, another path).
            if result.pop("needsLoad", False) and load:
                ingest_queue_load(ingest_id=result["ingestId"])
        return run
    if method or run.tried:
        run.results.append({"name": "listing", "error": "; ".join(run.tried) or f"method {method} failed"})
    return run


def _on_day(doc: download.RemoteDoc, day: date) -> bool:
    if doc.name:
        try:
            return extract.parse_name(doc.name).file_date == day
        except extract.NameRejected:
            return True  # let ingest_document record the bad name
    return doc.posted_at is not None and doc.posted_at.astimezone(extract.CENTRAL).date() == day


class _HashingFile:
    """A spooled temporary file that hashes what is written into it."""

    def __init__(self):
        self.file = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 (the caller closes it: `with sink.file:`)
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.file.write(data)


def ingest_document(*, client, doc: download.RemoteDoc) -> dict:
    """Store one listed document: `{key, bytes}`, `{key, skipped: true}` or `{name, error}`."""
    done = ErcotIngest.objects.done().filter(doc_id=doc.doc_id).first()
    if done:
        return {"key": done.storage_key, "skipped": True, "ingestId": done.pk}
    label = doc.name or doc.friendly_name or doc.doc_id
    try:
        if doc.name:
            name = extract.parse_name(doc.name)
            if default_storage.exists(name.storage_key):
                return _record_existing(client, doc, name)
        sink = _HashingFile()
        with sink.file:
            filename = client.download(doc, sink)
            label = filename or label
            name = extract.parse_name(filename)
            if default_storage.exists(name.storage_key):
                return _record_existing(client, doc, name)
            extract.zip_check(sink.file)
            key = default_storage.save(name.storage_key, File(sink.file, name=name.name))
        if key != name.storage_key:  # another run stored the same name a moment ago
            default_storage.delete(key)
            return _record_existing(client, doc, name)
        row = _record(
            client, doc, name, status=ErcotIngest.Status.STORED, size=sink.size, sha256=sink.sha256.hexdigest()
        )
        if doc.size is not None and doc.size != sink.size:
            # Whether ContentSize is exact is unconfirmed: the zip checked out, so keep it and say so.
            row.error = f"size differs from the listing: {doc.size} bytes announced, {sink.size} received"
            row.save(update_fields=["error"])
        log.info("ERCOT extract stored: %s (%s bytes)", key, sink.size)
        return {"key": key, "bytes": sink.size, "ingestId": row.pk, "needsLoad": True}
    except (download.FetchError, ValueError, OSError, zipfile.BadZipFile) as exc:
        _record_failure(client, doc, label, str(exc))
        log.warning("ERCOT extract %s failed: %s", label, exc)
        return {"name": label, "error": str(exc)}


def _record(client, doc, name: extract.ExtractName, *, status: str, size: int, sha256: str) -> ErcotIngest:
    row, _ = ErcotIngest.objects.update_or_create(
        doc_id=doc.doc_id,
        defaults={
            "filename": name.name,
            "storage_key": name.storage_key,
            "size_bytes": size,
            "content_size": doc.size,
            "sha256": sha256,
            "source_url": doc.url[:500],
            "method": client.method,
            "tdsp": name.tdsp,
            "kind": name.kind,
            "file_date": name.file_date,
            "posted_at": doc.posted_at or name.published_at,
            "status": status,
            "error": "",
            "fetched_at": timezone.now(),
        },
    )
    return row


def _record_existing(client, doc, name: extract.ExtractName) -> dict:
    """The key is already in storage (another path or an earlier run): hash it, download nothing."""
    digest, size = hashlib.sha256(), 0
    with default_storage.open(name.storage_key, "rb") as stored:
        while chunk := stored.read(download.CHUNK):
            digest.update(chunk)
            size += len(chunk)
    row = _record(client, doc, name, status=ErcotIngest.Status.SKIPPED, size=size, sha256=digest.hexdigest())
    return {"key": name.storage_key, "skipped": True, "ingestId": row.pk, "needsLoad": row.loaded_at is None}


def _record_failure(client, doc, label: str, error: str) -> None:
    defaults = {
        "filename": label[:200],
        "source_url": doc.url[:500],
        "method": client.method,
        "status": ErcotIngest.Status.FAILED,
        "error": error,
        "content_size": doc.size,
        "posted_at": doc.posted_at,
        "fetched_at": timezone.now(),
    }
    try:
        name = extract.parse_name(label)
        defaults |= {"tdsp": name.tdsp, "kind": name.kind, "file_date": name.file_date}
    except extract.NameRejected:
        friendly = extract.FRIENDLY_RE.match(doc.friendly_name or "")
        if friendly:
            defaults |= {"tdsp": friendly["tdsp"], "kind": friendly["kind"]}
    ErcotIngest.objects.update_or_create(doc_id=doc.doc_id, defaults=defaults)


def ingest_queue_load(*, ingest_id: int) -> str:
    from django_q.tasks import async_task

    return async_task("ercot.tasks.ingest_load", ingest_id, task_name=f"ercot-load-{ingest_id}", group="ercot-load")


def ercot_missing_today(*, today: date | None = None) -> bool:
    """True while no extract with today's Central date is stored (the retry polls use this)."""
    today = today or timezone.localdate(timezone=extract.CENTRAL)
    return not ErcotIngest.objects.done().filter(file_date=today).exists()


# ---------------------------------------------------------------- load into EsiidRecord


@dataclass
class LoadResult:
    rows: int  # records written
    errors: extract.RowErrors
    read: int = 0


def ingest_load(*, ingest: ErcotIngest) -> LoadResult:
    """Parse the stored extract into EsiidRecord; records the rows read, the rows written and refused rows."""
    errors = extract.RowErrors()
    with default_storage.open(ingest.storage_key, "rb") as stored, zipfile.ZipFile(stored) as archive:
        members = [m for m in archive.namelist() if m.lower().endswith(".csv")]
        with transaction.atomic():
            loaded = sum(
                (
                    esiids.esiid_csv_load(
                        fileobj=archive.open(m),
                        member=m,
                        errors=errors,
                        tdsp=ingest.tdsp,
                        posted_at=ingest.posted_at,
                        ingest_id=ingest.pk,
                        kind=ingest.kind,
                        size=archive.getinfo(m).file_size,
                    )
                    for m in members
                ),
                esiids.Loaded(0, 0),
            )
    ingest.rows_read, ingest.rows_loaded = loaded.read, loaded.written
    ingest.row_errors, ingest.loaded_at = errors.rows or [], timezone.now()
    if errors.count:
        ingest.error = f"{errors.count} row(s) refused; first: line {errors.rows[0]['line']}: {errors.rows[0]['error']}"
    ingest.save(update_fields=["rows_read", "rows_loaded", "row_errors", "loaded_at", "error"])
    return LoadResult(loaded.written, errors, loaded.read)
