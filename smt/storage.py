"""SMT raw files into storage: stored raw (sha256-keyed) before anything parses them, so a parse
failure never loses a file; registered once per sha256; plainly wrong files refused up front."""

import hashlib
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from smt import interval_rows, limits, parser, pgp
from smt.models import RawSmtFile


@dataclass(frozen=True)
class StoredFile:
    raw_file: RawSmtFile
    duplicate: bool


def safe_filename(name: str) -> str:
    """A storage-safe last path component of a client-supplied name; never a path."""
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    try:
        cleaned = get_valid_filename(base)
    except Exception:  # SuspiciousFileOperation for names like ".." or ""
        cleaned = ""
    return (cleaned or "upload.csv")[-100:]


def raw_file_key(*, sha256: str, filename: str, when=None) -> str:
    when = when or timezone.now()
    return f"smt/raw/{when:%Y/%m/%d}/{sha256}-{safe_filename(filename)}"


def raw_file_store(
    *,
    fileobj: BinaryIO,
    sha256: str,
    size: int,
    filename: str,
    origin: str,
    source: str = "",
    esiid: str = "",
    meter: str = "",
    kind: str = RawSmtFile.Kind.UNKNOWN,
    uploaded_by=None,
    uploader: str = "",
    parent: RawSmtFile | None = None,
    usage_points: Mapping[str, str] | None = None,
) -> StoredFile:
    """Store the bytes once per sha256 and register them. A known sha256 stores nothing.

    `origin` (a RawSmtFile.Origin) is where the bytes came from; it decides what the worker
    may make of them (smt.origins). Callers state it: there is no safe guess.
    """
    existing = RawSmtFile.objects.filter(sha256=sha256).first()
    if existing:
        return _known(existing, origin=origin, esiid=esiid, usage_points=usage_points, by=uploader)
    # An upload spooled to a temporary file is moved into local storage, not copied (1 GB twice).
    content = fileobj if hasattr(fileobj, "temporary_file_path") else File(fileobj, name=filename)
    key = default_storage.save(raw_file_key(sha256=sha256, filename=filename), content)
    try:
        return _register(
            key=key,
            sha256=sha256,
            size_bytes=size,
            filename=filename,
            source=source[:64],
            esiid_hint=esiid[:22],
            meter_hint=meter[:64],
            kind=kind,
            uploaded_by=uploaded_by,
            uploader=uploader[:160],
            parent=parent,
            origin=origin,
            usage_point_esiids=dict(usage_points or {}),
        )
    except BaseException:
        # Stored bytes with no raw-file row are an orphan nobody lists or deletes.
        default_storage.delete(key)
        raise


class _HashingReader:
    """Hashes and counts what passes through, for bytes whose sha256 is known only at the end."""

    def __init__(self, inner: BinaryIO):
        self.inner, self.digest, self.size = inner, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data


class _LargeChunkFile(File):
    # Storage backends copy in chunks of this size; 1 MB keeps the per-call cost of network reads low.
    DEFAULT_CHUNK_SIZE = 1 << 20


@dataclass(frozen=True)
class StreamedFile:
    key: str
    sha256: str
    size: int
    filename: str


def raw_file_stream(*, fileobj: BinaryIO, filename: str) -> StreamedFile:
    """Stream bytes of unknown sha256 straight into storage in one pass, hashing on the way.

    The key cannot carry the sha256 (known only at the end), so it carries a random id.
    Register the result with raw_file_register_streamed.
    """
    reader = _HashingReader(fileobj)
    name = f"smt/raw/{timezone.now():%Y/%m/%d}/{uuid.uuid4().hex}-{safe_filename(filename)}"
    key = default_storage.save(name, _LargeChunkFile(reader, name=filename))
    return StreamedFile(key=key, sha256=reader.digest.hexdigest(), size=reader.size, filename=filename)


def raw_file_register_streamed(
    *, streamed: StreamedFile, origin: str, source: str = "", kind: str = RawSmtFile.Kind.UNKNOWN
) -> StoredFile:
    """Register streamed bytes; bytes already stored under another raw file are deleted again."""
    existing = RawSmtFile.objects.filter(sha256=streamed.sha256).first()
    if existing:
        default_storage.delete(streamed.key)
        return _known(existing, origin=origin)
    return _register(
        key=streamed.key,
        sha256=streamed.sha256,
        size_bytes=streamed.size,
        filename=streamed.filename,
        source=source[:64],
        kind=kind,
        origin=origin,
    )


def _known(
    existing: RawSmtFile, *, origin: str, esiid: str = "", usage_points: Mapping[str, str] | None = None, by: str = ""
) -> StoredFile:
    """Bytes already stored. A customer's copy that now arrives through SMT's own channel is
    promoted and normalized again (not a duplicate), so its rows take their official rank; a
    failed one takes the hints sent with it (ingest.raw_file_hints_take does the rest)."""
    if existing.official or origin == RawSmtFile.Origin.CUSTOMER:
        return StoredFile(existing, duplicate=True)
    fields = ["origin"]
    if existing.hints_new(esiid=esiid, usage_points=usage_points):
        existing.esiid_hint, existing.usage_point_esiids = existing.hints_merged(esiid=esiid, usage_points=usage_points)
        existing.hints_set_by, existing.hints_set_at = by[:160], timezone.now()
        fields += ["esiid_hint", "usage_point_esiids", "hints_set_by", "hints_set_at"]
    existing.origin = origin
    existing.save(update_fields=fields)
    existing.set_status(RawSmtFile.Status.RECEIVED, error="")
    return StoredFile(existing, duplicate=False)


def _register(*, key: str, sha256: str, filename: str, **fields) -> StoredFile:
    try:
        with transaction.atomic():
            raw = RawSmtFile.objects.create(
                filename=(filename or "upload.csv")[:255], sha256=sha256, storage_key=key, **fields
            )
    except IntegrityError:
        # Another request stored the same bytes a moment ago: keep theirs, drop our copy.
        default_storage.delete(key)
        return StoredFile(RawSmtFile.objects.get(sha256=sha256), duplicate=True)
    return StoredFile(raw, duplicate=False)


def raw_file_precheck(
    *,
    fileobj: BinaryIO,
    size: int,
    filename: str = "",
    bundles: bool = False,
    expected_esiid: str | None = None,
    usage_points: Mapping[str, str] | None = None,
) -> str:
    """Refuse what is plainly not SMT data before it is stored; return the file kind.

    See raw_file_inspect, which also says what was undone on the way.
    """
    return raw_file_inspect(
        fileobj=fileobj,
        size=size,
        filename=filename,
        bundles=bundles,
        expected_esiid=expected_esiid,
        usage_points=usage_points,
    ).kind


@dataclass(frozen=True)
class Inspection:
    kind: str
    notes: list[str]  # spreadsheet fixes and Green Button decisions, for the upload's answer


def raw_file_inspect(
    *,
    fileobj: BinaryIO,
    size: int,
    filename: str = "",
    bundles: bool = False,
    expected_esiid: str | None = None,
    usage_points: Mapping[str, str] | None = None,
) -> Inspection:
    """Refuse what is plainly not SMT data before it is stored; its kind and what was undone.

    Small files are parsed whole, so a file without one valid row is refused here with its row
    errors instead of being stored only to fail. With `bundles`, a PGP-armored `.asc` file is
    accepted as a bundle (it can only be checked once decrypted). A Green Button file is read
    with `expected_esiid` / `usage_points`: one whose UsagePoints are not all mapped is refused
    naming them. Raises parser.FileRejected.
    """
    if size == 0:
        raise parser.FileRejected(f"file is empty; expected a CSV with header {parser.EXPECTED_HEADER}")
    if bundles and pgp.is_armored(filename=filename, head=fileobj.read(4096)):
        fileobj.seek(0)
        return Inspection(RawSmtFile.Kind.BUNDLE, [])
    fileobj.seek(0)
    greenbutton = interval_rows.fileobj_is_greenbutton(fileobj)
    kind = RawSmtFile.Kind.GREENBUTTON if greenbutton else parser.sniff(fileobj, expected_esiid=expected_esiid)
    stats = parser.ParseStats()
    if kind != "billing" and size <= settings.SMT_PRECHECK_FULL_BYTES:
        # Read to the end: a damaged container or an unclosed quote shows only there and is
        # better refused now than stored to fail in the worker. The budget bounds the work.
        rows = interval_rows.file_rows(
            fileobj, stats, limits.content_budget(size=size), expected_esiid=expected_esiid, usage_points=usage_points
        )
        valid = sum(1 for _ in rows)
        fileobj.seek(0)
        if not valid:
            raise parser.FileRejected(stats.no_rows_message())
    return Inspection(kind, stats.notes_all())
