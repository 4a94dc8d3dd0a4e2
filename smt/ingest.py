"""SMT ingest: raw files into storage, then normalized into SmtInterval rows.

Every file is stored raw (sha256-keyed) before parsing, so a parse failure never loses it.
Normalization stages the parsed rows and applies them with one INSERT ... ON CONFLICT that
keeps the newest REVISION_DATE: the result is the same whatever order files arrive in.
"""

import hashlib
import itertools
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import psycopg
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from ercot.esiids import esiid_warnings
from smt import limits, origins, parser, partitions, pgp
from smt.models import RawSmtFile

log = logging.getLogger(__name__)
COPY_CHUNK_ROWS = 10_000
# Rows read before choosing between a direct COPY and the staging upsert.
PEEK_ROWS = 20_000


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
) -> StoredFile:
    """Store the bytes once per sha256 and register them. A known sha256 stores nothing.

    `origin` (a RawSmtFile.Origin) is where the bytes came from; it decides what the worker
    may make of them (smt.origins). Callers state it: there is no safe guess.
    """
    existing = RawSmtFile.objects.filter(sha256=sha256).first()
    if existing:
        return _known(existing, origin=origin)
    # An upload spooled to a temporary file is moved into local storage, not copied (1 GB twice).
    content = fileobj if hasattr(fileobj, "temporary_file_path") else File(fileobj, name=filename)
    key = default_storage.save(raw_file_key(sha256=sha256, filename=filename), content)
    try:
        return _register(key=key, sha256=sha256, size_bytes=size, filename=filename, source=source[:64], esiid_hint=esiid[:22],
                         meter_hint=meter[:64], kind=kind, uploaded_by=uploaded_by, uploader=uploader[:160], parent=parent,
                         origin=origin)
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


def raw_file_register_streamed(*, streamed: StreamedFile, origin: str, source: str = "",
                               kind: str = RawSmtFile.Kind.UNKNOWN) -> StoredFile:
    """Register streamed bytes; bytes already stored under another raw file are deleted again."""
    existing = RawSmtFile.objects.filter(sha256=streamed.sha256).first()
    if existing:
        default_storage.delete(streamed.key)
        return _known(existing, origin=origin)
    return _register(key=streamed.key, sha256=streamed.sha256, size_bytes=streamed.size, filename=streamed.filename,
                     source=source[:64], kind=kind, origin=origin)


def _known(existing: RawSmtFile, *, origin: str) -> StoredFile:
    """Bytes already stored. A customer's copy that now arrives through SMT's own channel is
    promoted and normalized again (not a duplicate), so its rows take their official rank."""
    if existing.official or origin == RawSmtFile.Origin.CUSTOMER:
        return StoredFile(existing, duplicate=True)
    existing.origin = origin
    existing.save(update_fields=["origin"])
    existing.set_status(RawSmtFile.Status.RECEIVED, error="")
    return StoredFile(existing, duplicate=False)


def _register(*, key: str, sha256: str, filename: str, **fields) -> StoredFile:
    try:
        with transaction.atomic():
            raw = RawSmtFile.objects.create(filename=(filename or "upload.csv")[:255], sha256=sha256, storage_key=key, **fields)
    except IntegrityError:
        # Another request stored the same bytes a moment ago: keep theirs, drop our copy.
        default_storage.delete(key)
        return StoredFile(RawSmtFile.objects.get(sha256=sha256), duplicate=True)
    return StoredFile(raw, duplicate=False)


def raw_file_queue(*, raw_file: RawSmtFile, started_by: str = "") -> str:
    """Queue normalization on django-q2 once the row is committed; returns the task id."""
    from django_q.tasks import async_task

    return async_task(
        "smt.tasks.raw_file_normalize", raw_file.pk, started_by,
        task_name=f"smt-normalize-{raw_file.pk}", group="smt-normalize",
    )


def raw_files_requeue_stranded() -> int:
    """Queue again the files a dead worker left in received/normalizing."""
    count = 0
    for raw in RawSmtFile.objects.stranded():
        raw.set_status(RawSmtFile.Status.RECEIVED, error="re-queued after the worker stopped")
        raw_file_queue(raw_file=raw)
        count += 1
    return count


# ---------------------------------------------------------------- normalize


class _DryRun(Exception):
    pass


def _stats_json(stats: parser.ParseStats, counts: dict, dry_run: bool) -> dict:
    return {
        "filesProcessed": 1,
        "rowsRead": stats.rows_read,
        "validRows": stats.valid,
        "intervalsInserted": counts.get("inserted", 0),
        "intervalsUpdated": counts.get("updated", 0),
        "duplicatesSkipped": stats.valid - counts.get("inserted", 0) - counts.get("updated", 0),
        "duplicatesInFile": stats.valid - counts.get("distinct", stats.valid),
        "dstGapRowsSkipped": stats.dst_gap_skipped,
        "invalid": stats.invalid,
        "invalidCount": stats.invalid_count,
        "totalKwh": stats.consumption_wh / 1000,
        "generationKwh": stats.generation_wh / 1000,
        "tsMin": parser.epoch_iso(stats.ts_min),
        "tsMax": parser.epoch_iso(stats.ts_max),
        "dryRun": dry_run,
    }


def raw_file_normalize(*, raw_file: RawSmtFile, dry_run: bool = False) -> dict:
    """Parse the stored file and upsert its intervals. Returns the stats (see docs/SMT.md).

    A file with no usable row ends `failed` with the reason; a dry run changes nothing.
    """
    if not dry_run:
        raw_file.set_status(RawSmtFile.Status.NORMALIZING)
    stats = parser.ParseStats()
    meter = raw_file.meter_hint or "unknown"
    esiids: set[str] = set()  # for the ERCOT master-table warnings
    # A customer's file may write only their houses' ESIIDs as they are now, not at upload.
    allowed = None if raw_file.official else origins.customer_esiids(user=raw_file.uploaded_by)

    def rows() -> Iterator[parser.Row]:
        """One pass over the stored file; the fast path may need a second one."""
        stats.reset()
        with default_storage.open(raw_file.storage_key, "rb") as fileobj:
            read = parser.iter_rows(fileobj, stats) if allowed is None else origins.customer_rows(fileobj, stats, esiids=allowed)
            for row in read:
                esiids.add(row.esiid)
                yield row

    try:
        counts = _apply(rows, meter=meter, raw_id=raw_file.pk, dry_run=dry_run, customer=not raw_file.official)
        if stats.valid == 0:
            raise parser.FileRejected(_no_rows_message(stats))
    except parser.FileRejected as exc:
        result = _stats_json(stats, {}, dry_run) | {"error": str(exc)}
        if not dry_run:
            raw_file.set_status(RawSmtFile.Status.FAILED, error=str(exc), stats=result)
        return result
    except Exception as exc:
        if not dry_run:
            raw_file.set_status(RawSmtFile.Status.FAILED, error=f"internal error: {exc.__class__.__name__}: {exc}")
        raise
    result = _stats_json(stats, counts, dry_run)
    if not dry_run:  # months with no partition yet (an old export) landed in the default one: give them theirs
        partitions.interval_partitions_ensure_epochs(ts_min=stats.ts_min, ts_max=stats.ts_max)
    if warnings := esiid_warnings(esiids):  # unknown to ERCOT's extract, or not Active
        result["esiidWarnings"] = warnings
    if not dry_run:
        raw_file.kind = RawSmtFile.Kind.INTERVAL
        raw_file.save(update_fields=["kind"])
        raw_file.set_status(RawSmtFile.Status.NORMALIZED, stats=result)
    log.info("normalized raw file %s: %s inserted, %s updated", raw_file.pk, result["intervalsInserted"], result["intervalsUpdated"])
    return result


def _no_rows_message(stats: parser.ParseStats) -> str:
    if not stats.invalid:
        return f"no data rows after the header; expected rows like {parser.EXPECTED_HEADER}"
    kinds = ", ".join(f"{kind}: {e['count']} (first at line {e['rows'][0]}: {e['messages'][0]})" for kind, e in stats.invalid.items())
    return f"no valid interval row; invalid rows by kind: {kinds}"


def _apply(rows: Callable[[], Iterator[parser.Row]], *, meter: str, raw_id: int, dry_run: bool, customer: bool) -> dict:
    counts: dict = {}
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                counts = _apply_postgres(rows, meter=meter, raw_id=raw_id, customer=customer)
            else:
                counts = _apply_generic(rows(), meter=meter, raw_id=raw_id, customer=customer)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return counts


_STAGE_COLUMNS = "esiid text, channel text, ts_epoch bigint, wh bigint, quality text, revised_epoch bigint, seq bigint, row_number int"
_INTERVAL_COLUMNS = "esiid, meter, channel, ts, kwh, quality, revised_at, raw_file_id, row_number"


def _apply_postgres(rows: Callable[[], Iterator[parser.Row]], *, meter: str, raw_id: int, customer: bool) -> dict:
    """COPY straight into smt_interval when the file brings only new keys, else stage and upsert.

    The first PEEK_ROWS rows decide: if none of their keys' time spans is stored yet, the file is
    most likely new data, and the unique key makes the direct COPY safe anyway: any stored key
    (or a key twice in the file) aborts it back to the savepoint, and the file is read again
    through the staging path, which applies the revision rule.
    """
    pass_rows = rows()
    head = list(itertools.islice(pass_rows, PEEK_ROWS))
    with connection.cursor() as cursor:
        if head and not _spans_stored(cursor, head, meter=meter):
            try:
                with transaction.atomic():
                    return _copy_direct(cursor, itertools.chain(head, pass_rows), meter=meter, raw_id=raw_id)
            except (psycopg.errors.UniqueViolation, IntegrityError):
                log.info("raw file %s overlaps stored intervals; upserting through staging", raw_id)
                pass_rows.close()
                pass_rows, head = rows(), []
        return _stage_upsert(cursor, itertools.chain(head, pass_rows), meter=meter, raw_id=raw_id, customer=customer)


def _spans_stored(cursor, rows: list[parser.Row], *, meter: str) -> bool:
    """Whether any stored interval falls in the time span these rows cover, per ESIID and channel."""
    spans: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        span = spans.setdefault((r.esiid, r.channel), [r.ts, r.ts])
        span[0], span[1] = min(span[0], r.ts), max(span[1], r.ts)
    keys = list(spans)
    cursor.execute(
        """
        SELECT EXISTS (
            SELECT 1 FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[]) AS s(esiid, channel, lo, hi)
            JOIN smt_interval c ON c.esiid = s.esiid AND c.meter = %s AND c.channel = s.channel
                 AND c.ts BETWEEN to_timestamp(s.lo) AND to_timestamp(s.hi)
        )
        """,
        [[k[0] for k in keys], [k[1] for k in keys], [spans[k][0] for k in keys], [spans[k][1] for k in keys], meter],
    )
    return cursor.fetchone()[0]


def _copy_direct(cursor, rows: Iterator[parser.Row], *, meter: str, raw_id: int) -> dict:
    """COPY the rows into smt_interval as they are parsed; PostgreSQL works while Python parses."""
    meter_text = _copy_escape(meter)
    ts_text, wh_text, revised_text = _TextCache(_epoch_text), _TextCache(_wh_text), _TextCache(_epoch_text)
    count = 0
    with cursor.cursor.copy(f"COPY smt_interval ({_INTERVAL_COLUMNS}) FROM STDIN") as copy:
        buffer = []
        for r in rows:
            revised = r"\N" if r.revised is None else revised_text(r.revised)
            buffer.append(f"{r.esiid}\t{meter_text}\t{r.channel}\t{ts_text(r.ts)}\t{wh_text(r.wh)}\t{r.quality}\t{revised}\t{raw_id}\t{r.row}\n")
            if len(buffer) >= COPY_CHUNK_ROWS:
                copy.write("".join(buffer))
                count += len(buffer)
                buffer = []
        copy.write("".join(buffer))
        count += len(buffer)
    return {"distinct": count, "inserted": count, "updated": 0}


class _TextCache(dict):
    """Text for COPY, remembered: a year of files repeats the same instants and kWh values."""

    def __init__(self, render: Callable[[int], str]):
        super().__init__()
        self.render = render

    def __call__(self, value: int) -> str:
        text = self.get(value)
        if text is None:
            if len(self) >= 200_000:
                self.clear()
            text = self[value] = self.render(value)
        return text


def _epoch_text(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(epoch))


def _wh_text(wh: int) -> str:
    return f"{wh // 1000}.{wh % 1000:03d}"


def _copy_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _replaces(*, customer: bool, incoming: str, current: str) -> str:
    """SQL: whether an incoming row replaces the stored row `current` with the same key.

    Precedence (docs/SMT.md): a row from SMT's own channels replaces a customer's row whatever
    the revision dates, and a customer's row never replaces one from SMT's channels; within a
    rank, the newer REVISION_DATE wins. A stored row whose raw file is gone counts as official.
    """
    newer = (f"({incoming}.revised_at IS NOT NULL AND ({current}.revised_at IS NULL "
             f"OR {incoming}.revised_at > {current}.revised_at))")
    # Uncorrelated, so PostgreSQL hashes the customer files' ids once instead of a lookup per row.
    current_customer = (f"COALESCE({current}.raw_file_id IN (SELECT id FROM smt_rawsmtfile "
                        f"WHERE origin = '{RawSmtFile.Origin.CUSTOMER.value}'), false)")
    return f"({newer} AND {current_customer})" if customer else f"({newer} OR {current_customer})"


def _stage_upsert(cursor, rows: Iterator[parser.Row], *, meter: str, raw_id: int, customer: bool) -> dict:
    # Dropped explicitly too: inside an outer transaction (tests, batch jobs) COMMIT comes late.
    cursor.execute("DROP TABLE IF EXISTS smt_stage")
    cursor.execute(f"CREATE TEMP TABLE smt_stage ({_STAGE_COLUMNS}) ON COMMIT DROP")
    # Room to sort a year of a large portfolio in memory instead of on disk.
    cursor.execute("SET LOCAL work_mem = '64MB'")
    ordered = _copy_stage(cursor, rows)
    cursor.execute("ANALYZE smt_stage")
    # DISTINCT ON keeps one row per key (newest revision, then last in file), so ON CONFLICT
    # never touches a row twice; a file whose keys only ever increase has no repeat to drop.
    winners = "SELECT * FROM smt_stage" if ordered else (
        "SELECT DISTINCT ON (esiid, channel, ts_epoch) * FROM smt_stage "
        "ORDER BY esiid, channel, ts_epoch, revised_epoch DESC NULLS LAST, seq DESC"
    )
    # `changed` leaves out the rows the revision rule would ignore anyway, so a re-ingest reads
    # the key index and writes nothing (ON CONFLICT DO UPDATE ... WHERE false still locks rows);
    # the same lookup says whether the key was stored (a partitioned table has no xmax to ask).
    # The upsert's WHERE keeps the rule exact if another file lands in between.
    replaces = _replaces(customer=customer, incoming="w", current="c")
    cursor.execute(
        f"""
        WITH winners AS MATERIALIZED ({winners}),
        changed AS MATERIALIZED (
            SELECT w.*, c.ts IS NOT NULL AS existed
            FROM (SELECT *, to_timestamp(revised_epoch) AS revised_at FROM winners) w
            LEFT JOIN smt_interval c
              ON c.esiid = w.esiid AND c.meter = %s AND c.channel = w.channel AND c.ts = to_timestamp(w.ts_epoch)
            WHERE c.ts IS NULL OR {replaces}
        ), upserted AS (
            INSERT INTO smt_interval AS cur ({_INTERVAL_COLUMNS})
            SELECT esiid, %s, channel, to_timestamp(ts_epoch), wh::numeric / 1000, quality,
                   revised_at, %s, row_number
            FROM changed
            ON CONFLICT (esiid, meter, channel, ts) DO UPDATE SET
                kwh = EXCLUDED.kwh, quality = EXCLUDED.quality, revised_at = EXCLUDED.revised_at,
                raw_file_id = EXCLUDED.raw_file_id, row_number = EXCLUDED.row_number
            WHERE {_replaces(customer=customer, incoming="EXCLUDED", current="cur")}
            RETURNING esiid, channel, ts
        )
        SELECT (SELECT count(*) FROM winners),
               count(*) FILTER (WHERE NOT ch.existed), count(*) FILTER (WHERE ch.existed)
        FROM upserted u JOIN changed ch ON ch.esiid = u.esiid AND ch.channel = u.channel AND to_timestamp(ch.ts_epoch) = u.ts
        """,
        [meter, meter, raw_id],
    )
    distinct, inserted, updated = cursor.fetchone()
    cursor.execute("DROP TABLE smt_stage")
    return {"distinct": distinct, "inserted": inserted, "updated": updated}


def _copy_stage(cursor, rows: Iterator[parser.Row]) -> bool:
    """COPY the rows into smt_stage; True when every (ESIID, channel) only ever moved forward in time."""
    last: dict[tuple[str, str], int] = {}
    ordered = True
    with cursor.cursor.copy("COPY smt_stage FROM STDIN") as copy:
        buffer = []
        for seq, r in enumerate(rows):
            if ordered:
                key = (r.esiid, r.channel)
                ordered = r.ts > last.get(key, -1) and len(last) < 100_000
                last[key] = r.ts
            revised = r"\N" if r.revised is None else r.revised
            buffer.append(f"{r.esiid}\t{r.channel}\t{r.ts}\t{r.wh}\t{r.quality}\t{revised}\t{seq}\t{r.row}\n")
            if len(buffer) >= COPY_CHUNK_ROWS:
                copy.write("".join(buffer))
                buffer = []
        copy.write("".join(buffer))
    return ordered


def _apply_generic(rows, *, meter: str, raw_id: int, customer: bool) -> dict:
    """SQLite: the same staging and revision rule, with executemany instead of COPY."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS smt_stage ({_STAGE_COLUMNS})")
        cursor.execute("DELETE FROM smt_stage")
        batch = []
        for seq, r in enumerate(rows):
            batch.append((r.esiid, r.channel, r.ts, r.wh, r.quality, r.revised, seq, r.row))
            if len(batch) >= 5000:
                cursor.executemany("INSERT INTO smt_stage VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", batch)
                batch = []
        if batch:
            cursor.executemany("INSERT INTO smt_stage VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", batch)
        cursor.execute(
            """
            CREATE TEMP TABLE smt_winners AS
            SELECT esiid, channel, ts_epoch, wh, quality, revised_epoch, row_number,
                   strftime('%%Y-%%m-%%d %%H:%%M:%%S', ts_epoch, 'unixepoch') AS ts
            FROM (SELECT *, row_number() OVER (PARTITION BY esiid, channel, ts_epoch
                         ORDER BY revised_epoch DESC NULLS LAST, seq DESC) AS rn FROM smt_stage)
            WHERE rn = 1
            """,
            [],  # with parameters Django turns each %% into %, as in the upsert below
        )
        cursor.execute("SELECT count(*) FROM smt_winners")
        distinct = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM smt_winners w WHERE NOT EXISTS (SELECT 1 FROM smt_interval c WHERE "
            "c.esiid = w.esiid AND c.meter = %s AND c.channel = w.channel AND c.ts = w.ts)",
            [meter],
        )
        inserted = cursor.fetchone()[0]
        cursor.execute(
            f"""
            INSERT INTO smt_interval AS cur (esiid, meter, channel, ts, kwh, quality, revised_at, raw_file_id, row_number)
            SELECT esiid, %s, channel, ts, wh / 1000.0, quality,
                   CASE WHEN revised_epoch IS NULL THEN NULL
                        ELSE strftime('%%Y-%%m-%%d %%H:%%M:%%S', revised_epoch, 'unixepoch') END,
                   %s, row_number
            FROM smt_winners WHERE true
            ON CONFLICT (esiid, meter, channel, ts) DO UPDATE SET
                kwh = excluded.kwh, quality = excluded.quality, revised_at = excluded.revised_at,
                raw_file_id = excluded.raw_file_id, row_number = excluded.row_number
            WHERE {_replaces(customer=customer, incoming="excluded", current="cur")}
            """,
            [meter, raw_id],
        )
        cursor.execute("SELECT changes()")  # rows inserted or updated by the upsert alone
        changed = cursor.fetchone()[0]
        cursor.execute("DROP TABLE smt_winners")
        cursor.execute("DELETE FROM smt_stage")
    return {"distinct": distinct, "inserted": inserted, "updated": changed - inserted}


def raw_file_precheck(*, fileobj: BinaryIO, size: int, filename: str = "", bundles: bool = False) -> str:
    """Refuse what is plainly not SMT data before it is stored; return the file kind.

    Small files are parsed whole, so a file without one valid row is refused here with its row
    errors instead of being stored only to fail. With `bundles`, a PGP-armored `.asc` file is
    accepted as a bundle (it can only be checked once decrypted). Raises parser.FileRejected.
    """
    if size == 0:
        raise parser.FileRejected(f"file is empty; expected a CSV with header {parser.EXPECTED_HEADER}")
    if bundles and pgp.is_armored(filename=filename, head=fileobj.read(4096)):
        fileobj.seek(0)
        return RawSmtFile.Kind.BUNDLE
    fileobj.seek(0)
    kind = parser.sniff(fileobj)
    if kind == "interval" and size <= settings.SMT_PRECHECK_FULL_BYTES:
        # Read to the end: a damaged container or an unclosed quote shows only there and is
        # better refused now than stored to fail in the worker. The budget bounds the work.
        stats = parser.ParseStats()
        valid = sum(1 for _ in parser.iter_rows(fileobj, stats, limits.content_budget(size=size)))
        fileobj.seek(0)
        if not valid:
            raise parser.FileRejected(_no_rows_message(stats))
    return kind
