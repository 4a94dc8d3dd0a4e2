"""SMT ingest, the entry point: a stored raw file routed by its content to the job it needs.

PGP bundle, interval CSV, Green Button XML or DailyMeterUsage CSV; the worker's task (smt.tasks) queued here.

Bundles (../shared/formats/SMT.md §6) are decrypted with GnuPG into a temporary folder,
unpacked with the container limits of smt.parser (member names, count, ratio, total size),
and every member becomes its own raw file linked to the bundle, then is routed in turn.
"""

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from typing import BinaryIO

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from smt import billing, interval_rows, normalize, parser, pgp, storage
from smt.models import RawSmtFile

HEAD_BYTES = 4096
_BUNDLE_SUFFIX = re.compile(r"(\.\d+)?\.asc$", re.IGNORECASE)


def raw_file_queue(*, raw_file: RawSmtFile, started_by: str = "") -> str:
    """Queue normalization on django-q2 once the row is committed; returns the task id."""
    from django_q.tasks import async_task

    return async_task(
        "smt.tasks.raw_file_normalize",
        raw_file.pk,
        started_by,
        task_name=f"smt-normalize-{raw_file.pk}",
        group="smt-normalize",
    )


def raw_file_requeue(*, raw_file: RawSmtFile, reason: str = "", started_by: str = "") -> str:
    """Mark a stored file received again and queue it for a worker; returns the task id.

    The worker claims it like any queued file, so a file queued twice is still ingested once.
    """
    raw_file.set_status(RawSmtFile.Status.RECEIVED, error=reason)
    return raw_file_queue(raw_file=raw_file, started_by=started_by)


def raw_file_hints_take(
    *, raw_file: RawSmtFile, by: str, esiid: str = "", usage_points: Mapping[str, str] | None = None
) -> list[str]:
    """Give a failed file the ESIID / UsagePoint mapping it lacked and queue it again.

    Each hint given replaces the stored one (RawSmtFile.hints_merged); `by` (an identity) and
    the time are recorded, the file's origin and uploader stay. Returns what changed ("ESIID",
    "UsagePoint mapping"); empty, changing nothing, when the file is not failed or nothing new
    was given. Callers check the hints against the file first (storage.raw_file_inspect, or a
    customer's own check), as they would a new upload.
    """
    if not raw_file.hints_new(esiid=esiid, usage_points=usage_points):
        return []
    esiid, points = raw_file.hints_merged(esiid=esiid, usage_points=usage_points)
    changed = [
        name
        for name, new, old in (
            ("ESIID", esiid, raw_file.esiid_hint),
            ("UsagePoint mapping", points, dict(raw_file.usage_point_esiids or {})),
        )
        if new != old
    ]
    now = timezone.now()
    # Conditional on `failed`: of two requests re-sending the file at once, one takes it, and a
    # worker never reads a file whose hints change under it.
    taken = RawSmtFile.objects.filter(pk=raw_file.pk, status=RawSmtFile.Status.FAILED).update(
        esiid_hint=esiid[:22],
        usage_point_esiids=points,
        hints_set_by=by[:160],
        hints_set_at=now,
        status=RawSmtFile.Status.RECEIVED,
        status_changed_at=now,
        error="",
    )
    if not taken:
        return []
    raw_file.refresh_from_db()
    raw_file_queue(raw_file=raw_file, started_by=f"new hints: {by}")
    return changed


def hints_requeued_message(changed: list[str]) -> str:
    """The answer to a re-sent file that took new hints, e.g. 'already stored; re-queued with the new ESIID'."""
    return f"already stored; re-queued with the new {' and '.join(changed)}"


def raw_files_requeue_stranded() -> int:
    """Queue again the files a dead worker left in received/normalizing."""
    count = 0
    for raw in RawSmtFile.objects.stranded():
        raw_file_requeue(raw_file=raw, reason="re-queued after the worker stopped")
        count += 1
    return count


def raw_file_classify(*, fileobj: BinaryIO, filename: str, expected_esiid: str | None = None) -> str:
    """bundle, Green Button, interval or billing, from the bytes (not the name). Raises FileRejected."""
    head = fileobj.read(HEAD_BYTES)
    fileobj.seek(0)
    if pgp.is_armored(filename=filename, head=head):
        return RawSmtFile.Kind.BUNDLE
    if interval_rows.fileobj_is_greenbutton(fileobj):
        return RawSmtFile.Kind.GREENBUTTON
    interval_problem, kind = "", None
    try:
        kind = parser.sniff(fileobj, expected_esiid=expected_esiid)
    except parser.FileRejected as exc:
        interval_problem = str(exc)
    fileobj.seek(0)
    if kind == "interval":
        return RawSmtFile.Kind.INTERVAL
    try:
        billing.billing_header_find(parser.text_lines(next(parser.open_members(fileobj))[1], ""))
    except parser.FileRejected as exc:
        if kind == "billing":
            raise
        raise parser.FileRejected(f"neither interval nor billing data: {interval_problem}; {exc}") from None
    finally:
        fileobj.seek(0)
    return RawSmtFile.Kind.BILLING


def raw_file_ingest(*, raw_file: RawSmtFile, allow_bundle: bool = True) -> dict:
    """Process one stored file whatever it holds; returns its stats (with `error` when it failed).

    The raw file ends `normalized` or `failed` with the reason; nothing raises for bad content.
    A customer's file is never classified: it can only ever be interval rows, CSV or Green
    Button (smt.origins).
    """
    if not raw_file.official:
        kind = RawSmtFile.Kind.GREENBUTTON if raw_file.kind == RawSmtFile.Kind.GREENBUTTON else RawSmtFile.Kind.INTERVAL
        return {"kind": kind, **normalize.raw_file_normalize(raw_file=raw_file)}
    try:
        with default_storage.open(raw_file.storage_key, "rb") as handle:
            kind = raw_file_classify(
                fileobj=handle, filename=raw_file.filename, expected_esiid=raw_file.esiid_hint or None
            )
    except parser.FileRejected as exc:
        raw_file.set_status(RawSmtFile.Status.FAILED, error=str(exc), stats={"error": str(exc)})
        return {"error": str(exc), "kind": RawSmtFile.Kind.UNKNOWN}
    if kind != raw_file.kind:
        raw_file.kind = kind
        raw_file.save(update_fields=["kind"])
    if kind in (RawSmtFile.Kind.INTERVAL, RawSmtFile.Kind.GREENBUTTON):
        return {"kind": kind, **normalize.raw_file_normalize(raw_file=raw_file)}
    if kind == RawSmtFile.Kind.BUNDLE and not allow_bundle:
        return _fail(raw_file, kind, "a PGP bundle inside a bundle is not unpacked")
    work = _billing if kind == RawSmtFile.Kind.BILLING else bundle_expand
    raw_file.set_status(RawSmtFile.Status.NORMALIZING)
    try:
        stats = {"kind": kind, **work(raw_file=raw_file)}
    except (parser.FileRejected, pgp.DecryptError) as exc:
        return _fail(raw_file, kind, str(exc))
    except Exception as exc:
        raw_file.set_status(RawSmtFile.Status.FAILED, error=f"internal error: {exc.__class__.__name__}: {exc}")
        raise
    raw_file.set_status(RawSmtFile.Status.NORMALIZED, stats=stats)
    return stats


def raw_file_ingest_recorded(*, raw_file: RawSmtFile, label: str, recorder) -> dict:
    """raw_file_ingest inside a job run: counts, and a log line per failed file or bundle member."""
    stats = raw_file_ingest(raw_file=raw_file)
    if "error" in stats:
        recorder.count("ingestFailed")
        recorder.note(f"{label}: {stats['kind']} file failed: {stats['error']}", failed=True)
        return stats
    recorder.count("ingested")
    for name in ("intervalsInserted", "billingReadsInserted"):
        if stats.get(name):
            recorder.count(name, stats[name])
    for member in stats.get("members", []):
        if member["status"] == RawSmtFile.Status.FAILED:
            recorder.count("membersFailed")
            recorder.note(f"{label} › {member['name']}: {member['error']}", failed=True)
    # How the rows were parsed: an operator sees whether a big file really used the process pool.
    parsed_by = f", parsed by {stats['parseWorkers']} process(es)" if "parseWorkers" in stats else ""
    recorder.note(
        f"{label}: raw file #{raw_file.pk} {stats['kind']}: {stats.get('intervalsInserted', 0)} intervals, "
        f"{stats.get('billingReadsInserted', 0)} billing reads inserted{parsed_by}"
    )
    return stats


def _fail(raw_file: RawSmtFile, kind: str, message: str) -> dict:
    stats = {"kind": kind, "error": message}
    raw_file.set_status(RawSmtFile.Status.FAILED, error=message, stats=stats)
    return stats


def _billing(*, raw_file: RawSmtFile) -> dict:
    with default_storage.open(raw_file.storage_key, "rb") as handle:
        stream = next(parser.open_members(handle))[1]
        return billing.billing_reads_ingest(raw_file=raw_file, fileobj=stream)


def bundle_expand(*, raw_file: RawSmtFile) -> dict:
    """Decrypt a bundle, store each member as a raw file with `parent` = the bundle, route it.

    Raises DecryptError (gpg's reason) or FileRejected (unsafe or oversized payload). A member
    that fails fails alone; the bundle's stats list every member with its outcome.
    """
    folder = tempfile.mkdtemp(prefix="smt-bundle-")
    try:
        payload = os.path.join(folder, "payload")
        with default_storage.open(raw_file.storage_key, "rb") as armored:
            pgp.pgp_decrypt(
                armored=armored,
                output_path=payload,
                gnupg_home=settings.SMT_GNUPG_HOME,
                passphrase=settings.SMT_GNUPG_PASSPHRASE,
            )
        size = os.path.getsize(payload)
        if size > settings.SMT_BUNDLE_MAX_BYTES:
            raise parser.FileRejected(
                f"decrypted payload is {size} bytes; at most {settings.SMT_BUNDLE_MAX_BYTES} (SMT_BUNDLE_MAX_BYTES)"
            )
        with open(payload, "rb") as handle:
            members = [_member_store(raw_file, name, stream, folder) for name, stream in parser.open_members(handle)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    results = [_member_route(member, duplicate) for member, duplicate in members]
    return {
        "members": results,
        "membersFailed": sum(1 for r in results if r["status"] == RawSmtFile.Status.FAILED),
        "intervalsInserted": sum(r.get("intervalsInserted", 0) for r in results),
        "billingReadsInserted": sum(r.get("billingReadsInserted", 0) for r in results),
    }


def _member_store(bundle: RawSmtFile, name: str, stream: BinaryIO, folder: str) -> tuple[RawSmtFile, bool]:
    """Copy one member to a temporary file while hashing it, then store it under the bundle."""
    name = name or _BUNDLE_SUFFIX.sub("", bundle.filename) or "payload"
    digest, path = hashlib.sha256(), os.path.join(folder, "member")
    with open(path, "wb") as out:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    with open(path, "rb") as member:
        stored = storage.raw_file_store(
            fileobj=member,
            sha256=digest.hexdigest(),
            size=os.path.getsize(path),
            filename=name,
            source=bundle.source or "bundle",
            esiid=bundle.esiid_hint,
            meter=bundle.meter_hint,
            parent=bundle,
            origin=RawSmtFile.Origin.MEMBER,
        )
    return stored.raw_file, stored.duplicate


def _member_route(member: RawSmtFile, duplicate: bool) -> dict:
    entry = {"rawId": member.pk, "name": member.filename, "duplicate": duplicate}
    if duplicate and member.status == RawSmtFile.Status.NORMALIZED:
        return entry | {"kind": member.kind, "status": member.status}
    stats = raw_file_ingest(raw_file=member, allow_bundle=False)
    member.refresh_from_db(fields=["status", "kind"])
    entry |= {"kind": member.kind, "status": member.status, "error": stats.get("error", "")}
    for name in ("intervalsInserted", "billingReadsInserted"):
        if name in stats:
            entry[name] = stats[name]
    return entry
