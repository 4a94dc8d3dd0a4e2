"""SMT normalize: a stored interval file parsed into SmtInterval rows, with its stats.

The rows go through smt.upsert, which keeps the newest REVISION_DATE per key: the result is the
same whatever order files arrive in. A file with no usable row ends `failed` with the reason.
"""

import logging
from collections.abc import Callable, Iterator
from typing import BinaryIO

from django.core.files.storage import default_storage
from django.db import connection, transaction

from smt import interval_rows, origins, parallel_parse, parser, partitions, upsert
from smt.esiid_checks import ercot_esiid_warnings
from smt.models import RawSmtFile

log = logging.getLogger(__name__)


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
        # Stored rows of the same REVISION_DATE whose values this file contradicts: kept (docs/SMT.md).
        "conflicting": counts.get("conflicting", 0),
        "conflictExamples": counts.get("conflictExamples", []),
        "notes": stats.notes_all(),
        "parseWorkers": stats.parse_workers,
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
            hints = {"expected_esiid": raw_file.esiid_hint or None, "usage_points": raw_file.usage_point_esiids or None}
            read = (
                _official_rows(fileobj, stats, **hints)
                if allowed is None
                else origins.customer_rows(fileobj, stats, esiids=allowed, **hints)
            )
            for row in read:
                esiids.add(row.esiid)
                yield row

    try:
        counts = _apply(rows, meter=meter, raw_id=raw_file.pk, dry_run=dry_run, customer=not raw_file.official)
        if stats.valid == 0:
            raise parser.FileRejected(stats.no_rows_message())
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
    result["esiids"] = sorted(esiids)  # the raw-file list shows and filters by them when no ESIID was given
    if warnings := ercot_esiid_warnings(esiids):  # unknown to ERCOT's extract, or not Active
        result["esiidWarnings"] = warnings
    if not dry_run:
        if raw_file.kind != RawSmtFile.Kind.GREENBUTTON:
            raw_file.kind = RawSmtFile.Kind.INTERVAL
            raw_file.save(update_fields=["kind"])
        raw_file.set_status(RawSmtFile.Status.NORMALIZED, stats=result)
    log.info(
        "normalized raw file %s: %s inserted, %s updated",
        raw_file.pk,
        result["intervalsInserted"],
        result["intervalsUpdated"],
    )
    return result


def _official_rows(fileobj: BinaryIO, stats: parser.ParseStats, **hints) -> Iterator[parser.Row]:
    """SMT's own files: big ones parsed across processes on PostgreSQL, where COPY keeps up with
    several parsers; SQLite inserts in this thread anyway, so there the serial reader stays."""
    if connection.vendor == "postgresql":
        return parallel_parse.file_rows_parallel(fileobj, stats, **hints)
    return interval_rows.file_rows(fileobj, stats, **hints)


def _apply(rows: Callable[[], Iterator[parser.Row]], *, meter: str, raw_id: int, dry_run: bool, customer: bool) -> dict:
    counts: dict = {}
    try:
        with transaction.atomic():
            counts = upsert.intervals_upsert(rows, meter=meter, raw_id=raw_id, customer=customer)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return counts
