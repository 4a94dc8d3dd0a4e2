"""The interval upsert: parsed rows into smt_interval under the precedence rule (docs/SMT.md).

PostgreSQL COPYs straight in when a file brings only new keys, else stages and upserts with one
INSERT ... ON CONFLICT; SQLite stages with executemany and the same rule. The SQLite/PostgreSQL
parity tests (tests/smt/test_sqlite_parity.py) hold both to the same answer.
"""

import itertools
import logging
import re
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import psycopg
from django.db import IntegrityError, connection, transaction

from smt import parser
from smt.models import RawSmtFile

log = logging.getLogger(__name__)
COPY_CHUNK_ROWS = 10_000
# Rows read before choosing between a direct COPY and the staging upsert.
PEEK_ROWS = 20_000


def intervals_upsert(rows: Callable[[], Iterator[parser.Row]], *, meter: str, raw_id: int, customer: bool) -> dict:
    """Apply the rows of one raw file; returns counts `distinct`, `inserted`, `updated`.

    `rows` starts a fresh pass over the file each call: the PostgreSQL fast path may need two.
    Runs in the caller's transaction, which may roll it back (a dry run).
    """
    if connection.vendor == "postgresql":
        return _apply_postgres(rows, meter=meter, raw_id=raw_id, customer=customer)
    return _apply_generic(rows(), meter=meter, raw_id=raw_id, customer=customer)


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
            buffer.append(
                f"{r.esiid}\t{meter_text}\t{r.channel}\t{ts_text(r.ts)}\t{wh_text(r.wh)}\t{r.quality}\t{revised}\t{raw_id}\t{r.row}\n"
            )
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
    newer = (
        f"({incoming}.revised_at IS NOT NULL AND ({current}.revised_at IS NULL "
        f"OR {incoming}.revised_at > {current}.revised_at))"
    )
    # Uncorrelated, so PostgreSQL hashes the customer files' ids once instead of a lookup per row.
    current_customer = (
        f"COALESCE({current}.raw_file_id IN (SELECT id FROM smt_rawsmtfile "
        f"WHERE origin = '{RawSmtFile.Origin.CUSTOMER.value}'), false)"
    )
    return f"({newer} AND {current_customer})" if customer else f"({newer} OR {current_customer})"


CONFLICT_EXAMPLES = 5


def _conflicts_sql(*, customer: bool, placeholder: str, epoch_to_ts: str) -> str:
    """SQL: the winners that contradict a stored row of the same REVISION_DATE and do not replace it.

    Equal revisions are a re-delivery, so the stored row is kept (docs/SMT.md); one whose
    values differ is counted as `conflicting` and a few are shown on the raw file's page.
    Reads `winners`; `placeholder` is the meter parameter. Both databases run it.
    """
    replaces = _replaces(customer=customer, incoming="w", current="c")
    return (
        "SELECT w.esiid, w.channel, w.ts_epoch, w.row_number, w.wh AS file_wh, w.quality AS file_quality, "
        "c.kwh AS kept_kwh, c.quality AS kept_quality "
        f"FROM (SELECT *, {epoch_to_ts}(revised_epoch) AS revised_at FROM winners) w "
        f"JOIN smt_interval c ON c.esiid = w.esiid AND c.meter = {placeholder} AND c.channel = w.channel "
        f"AND c.ts = {epoch_to_ts}(w.ts_epoch) "
        "WHERE ((c.revised_at IS NULL AND w.revised_at IS NULL) OR c.revised_at = w.revised_at) "
        "AND (round(c.kwh * 1000) <> w.wh OR c.quality <> w.quality) "
        f"AND NOT {replaces}"
    )


def _examples(rows: list[dict]) -> list[dict]:
    """What the raw file's page shows of each conflict: where, what was kept, what differed."""
    return [
        {
            "esiid": r["esiid"],
            "channel": r["channel"],
            "ts": parser.epoch_iso(int(r["ts_epoch"])),
            "row": r["row_number"],
            "keptKwh": f"{Decimal(str(r['kept_kwh'])):.3f}",
            "keptQuality": r["kept_quality"],
            "fileKwh": f"{int(r['file_wh']) / 1000:.3f}",
            "fileQuality": r["file_quality"],
        }
        for r in rows
    ]


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
    winners = (
        "SELECT * FROM smt_stage"
        if ordered
        else (
            "SELECT DISTINCT ON (esiid, channel, ts_epoch) * FROM smt_stage "
            "ORDER BY esiid, channel, ts_epoch, revised_epoch DESC NULLS LAST, seq DESC"
        )
    )
    # `changed` leaves out the rows the revision rule would ignore anyway, so a re-ingest reads
    # the key index and writes nothing (ON CONFLICT DO UPDATE ... WHERE false still locks rows);
    # the same lookup says whether the key was stored (a partitioned table has no xmax to ask).
    # The upsert's WHERE keeps the rule exact if another file lands in between.
    replaces = _replaces(customer=customer, incoming="w", current="c")
    cursor.execute(
        f"""
        WITH winners AS MATERIALIZED ({winners}),
        conflicts AS MATERIALIZED ({_conflicts_sql(customer=customer, placeholder="%s", epoch_to_ts="to_timestamp")}),
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
               count(*) FILTER (WHERE NOT ch.existed), count(*) FILTER (WHERE ch.existed),
               (SELECT count(*) FROM conflicts),
               (SELECT json_agg(e) FROM (SELECT * FROM conflicts ORDER BY esiid, channel, ts_epoch LIMIT {CONFLICT_EXAMPLES}) e)
        FROM upserted u JOIN changed ch ON ch.esiid = u.esiid AND ch.channel = u.channel AND to_timestamp(ch.ts_epoch) = u.ts
        """,
        [meter, meter, meter, raw_id],
    )
    distinct, inserted, updated, conflicting, examples = cursor.fetchone()
    cursor.execute("DROP TABLE smt_stage")
    return {
        "distinct": distinct,
        "inserted": inserted,
        "updated": updated,
        "conflicting": conflicting,
        "conflictExamples": _examples(examples or []),
    }


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
        conflicting, examples = _sqlite_conflicts(cursor, meter=meter, customer=customer)
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
    return {
        "distinct": distinct,
        "inserted": inserted,
        "updated": changed - inserted,
        "conflicting": conflicting,
        "conflictExamples": examples,
    }


def _sqlite_conflicts(cursor, *, meter: str, customer: bool) -> tuple[int, list[dict]]:
    """_conflicts_sql on SQLite, where smt_interval keeps instants as 'YYYY-MM-DD HH:MM:SS' text."""
    sql = _conflicts_sql(customer=customer, placeholder="%s", epoch_to_ts="_sqlite_ts").replace(
        "winners", "smt_winners"
    )
    # SQLite has no to_timestamp: the same text the upsert below writes, inlined per use.
    sql = re.sub(r"_sqlite_ts\(([\w.]+)\)", r"strftime('%%Y-%%m-%%d %%H:%%M:%%S', \1, 'unixepoch')", sql)
    cursor.execute(f"SELECT count(*) FROM ({sql})", [meter])
    count = cursor.fetchone()[0]
    cursor.execute(f"SELECT * FROM ({sql}) ORDER BY esiid, channel, ts_epoch LIMIT {CONFLICT_EXAMPLES}", [meter])
    names = [column[0] for column in cursor.description]
    return count, _examples([dict(zip(names, row, strict=True)) for row in cursor.fetchall()])
