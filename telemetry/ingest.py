"""Telemetry messages stored: raw events once, device state updated, the ledger fed.

The subscriber and the HTTP endpoint both end here; telemetry/messages.py reads each message
first, and one we cannot read is kept as a MalformedMessage and never stops the batch.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from django.db import DatabaseError, DataError, IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from telemetry import bulk, ledger, routes
from telemetry.messages import MalformedIn, ReadingIn, StatusIn
from telemetry.models import Device, MalformedMessage, RawEvent

log = logging.getLogger(__name__)


@dataclass
class RecordResult:
    stored: int = 0
    duplicates: int = 0
    statuses: int = 0
    malformed: int = 0
    devices_created: list[str] = field(default_factory=list)
    processed: ledger.ProcessResult | None = None


def prepared_record(
    items: list[ReadingIn | StatusIn | MalformedIn], messages: list[tuple[str, bytes, datetime]] | None = None
) -> RecordResult:
    """A batch of prepared messages, stored in one go; malformed ones are kept for inspection.

    A message the database refuses (a value it cannot hold) is kept as malformed with the
    database's reason and the rest are stored (items_record_isolating): a bad message never
    blocks the good ones, nor the subscriber, which used to retry such a batch every 2 s for ever
    (and the broker sent it again after a restart). A fault of the database itself (connection,
    timeout, read-only) is raised, so the subscriber retries the batch. `messages`, the (topic,
    payload, received_at) each item was read from, are what such a message is kept as."""
    sources = messages if messages is not None else [None] * len(items)
    malformed = [item for item in items if isinstance(item, MalformedIn)]
    readable = [
        (item, source) for item, source in zip(items, sources, strict=True) if not isinstance(item, MalformedIn)
    ]
    with transaction.atomic():
        result, refused = items_record_isolating(readable)
        malformed += refused
        malformed_keep(malformed)
    result.malformed = len(malformed)
    return result


# What the database (or psycopg, before sending) says when a value cannot be stored.
DATA_REFUSED = (DataError, IntegrityError, psycopg.DataError, psycopg.IntegrityError)


def message_at_fault(exc: Exception) -> bool:
    """True when storing failed for what a message holds (a value out of a column's range, text
    the driver cannot send, a case the code did not foresee), False when the database or its
    connection is at fault (down, read-only, timed out: the batch must be retried, not dropped)."""
    if isinstance(exc, DATA_REFUSED):
        return True
    return not isinstance(exc, (DatabaseError, psycopg.Error))


def refusal_reason(exc: Exception) -> str:
    """The database's own words (PostgreSQL's message and DETAIL) on one line."""
    words = " ".join(str(exc).split())
    return words if isinstance(exc, (DatabaseError, psycopg.Error)) else f"{type(exc).__name__}: {words}"


Sourced = tuple[ReadingIn | StatusIn, tuple[str, bytes, datetime] | None]


def items_record_isolating(readable: list[Sourced]) -> tuple[RecordResult, list[MalformedIn]]:
    """The items stored in one go, or, when the database refuses that for something in them, in
    halves, each in its own savepoint (call inside a transaction), halved again down to single
    messages where it still refuses: one bad message in 5,000 costs some 25 attempts, not 5,000.
    Message order is kept. The single messages refused come back as malformed, kept as the
    message they were read from, with the database's reason."""
    total, refused, pending = RecordResult(), [], [readable]
    while pending:
        part = pending.pop()
        try:
            one = items_record([item for item, _ in part])
        except Exception as exc:
            if not message_at_fault(exc):
                raise
            if part is readable:
                log.warning(
                    "the database refused a batch of %d telemetry messages (%s); isolating the ones at fault",
                    len(part),
                    refusal_reason(exc),
                )
            if len(part) > 1:
                pending += [part[len(part) // 2 :], part[: len(part) // 2]]  # popped from the end: first half first
                continue
            item, source = part[0]
            topic, payload, received_at = source or (item.device, repr(item).encode(), item.received_at)
            refused.append(MalformedIn(topic, payload, received_at, f"not stored: {refusal_reason(exc)}"))
            continue
        if part is readable:
            return one, []
        total.stored += one.stored
        total.duplicates += one.duplicates
        total.statuses += one.statuses
        total.devices_created += one.devices_created
    return total, refused


def _storable(text: str) -> str:
    """Text PostgreSQL accepts: no NUL, no lone surrogate (the kept record must never fail too)."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def malformed_keep(malformed: list[MalformedIn]) -> None:
    MalformedMessage.objects.bulk_create(
        [
            MalformedMessage(
                topic=_storable(m.topic[:255]),
                payload=_storable(m.payload.decode("utf-8", "replace")[:10000]),
                error=_storable(m.error[:255]),
                received_at=m.received_at,
            )
            for m in malformed
        ]
    )


def messages_record(messages: list[tuple[str, bytes, datetime]]) -> RecordResult:
    """A batch of (topic, payload, received_at), stored in one go, each read by the adapter its
    topic routes to (telemetry/routes.py) with its device's time zone and counter unit."""
    routed = routes.messages_route(messages, routes=routes.routes_configured(), profiles=device_profiles)
    return prepared_record([item for item, _ in routed], [message for _, message in routed])


def device_profiles(names: set[str]) -> dict[str, routes.DeviceProfile]:
    """The devices among `names` whose messages are read otherwise than by default."""
    rows = (
        Device.objects.filter(name__in=names)
        .exclude(time_zone="", counter_unit="Wh")
        .values_list("name", "time_zone", "counter_unit")
    )
    return {name: routes.DeviceProfile(zone, unit) for name, zone, unit in rows}


def reading_record(*, topic: str, payload: bytes, received_at: datetime | None = None) -> RecordResult:
    """One message (tests and tools call this; the subscriber batches through prepared_record)."""
    return messages_record([(topic, payload, received_at or timezone.now())])


def devices_ensure(names: set[str]) -> tuple[dict[str, int], list[str]]:
    """Name -> id, registering unknown devices as unassigned."""
    known = _device_ids(names)
    missing = sorted(names - set(known))
    if missing:
        Device.objects.bulk_create([Device(name=name) for name in missing], ignore_conflicts=True)
        known.update(_device_ids(set(missing)))
    return known, missing


def _device_ids(names: set[str]) -> dict[str, int]:
    if not bulk.is_postgres():
        return dict(Device.objects.filter(name__in=names).values_list("name", "pk"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT name, id FROM {Device._meta.db_table} WHERE name = ANY(%s::text[])",
            [bulk.array_literal(list(names))],
        )
        return dict(cursor.fetchall())


def items_record(items: list[ReadingIn | StatusIn], *, source: str = "mqtt") -> RecordResult:
    result = RecordResult()
    if not items:
        return result
    with transaction.atomic():
        ids, result.devices_created = devices_ensure({item.device for item in items})
        # Lock the batch's devices first, in id order: subscribers sharing a group then never
        # deadlock on device rows, and derive one device's ledger one at a time.
        ledger.devices_lock(sorted(set(ids.values())))
        readings = [item for item in items if isinstance(item, ReadingIn)]
        inserted, first_new = _events_insert(readings, ids, source)
        result.stored = sum(inserted.values())
        sent = Counter(ids[r.device] for r in readings)
        for device_id, count in sent.items():
            if count > inserted.get(device_id, 0):
                Device.objects.filter(pk=device_id).update(
                    duplicates=F("duplicates") + count - inserted.get(device_id, 0)
                )
        result.duplicates = len(readings) - result.stored
        result.statuses = len(items) - len(readings)
        devices_news_apply(devices_news(items, ids))
        if first_new:
            result.processed = ledger.ledger_extend(first_new=first_new)
        elif inserted:
            result.processed = ledger.ledger_process(device_ids=sorted(inserted))
    return result


EVENT_COLUMNS = (
    "device_id",
    "ts",
    "received_at",
    "energy_wh",
    "power_w",
    "switch_state",
    "seq",
    "boot_id",
    "source",
    "processed",
)
EVENT_CASTS = (
    "bigint",
    "timestamptz",
    "timestamptz",
    "bigint",
    "float8",
    "varchar",
    "bigint",
    "varchar",
    "varchar",
    "boolean",
)


def _events_insert(readings: list[ReadingIn], ids: dict[str, int], source: str) -> tuple[Counter, dict[int, datetime]]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: duplicates (same seq in a boot, or same ts and
    counter) are dropped by the unique constraints, even within one batch. Returns rows per
    device and, on PostgreSQL, each device's earliest new reading time.

    On PostgreSQL the rows go in already marked processed, since the ledger takes them in this
    same transaction (rolled back together if it fails): marking them afterwards rewrote every
    row and its index entries a second time. The embedded SQLite set-up keeps the simpler
    mark-after path and returns no times."""
    rows = [
        (ids[r.device], r.ts, r.received_at, r.energy_wh, r.power_w, r.switch_state, r.seq, r.boot_id, source, False)
        for r in readings
    ]
    insert = f"INSERT INTO {RawEvent._meta.db_table} ({', '.join(EVENT_COLUMNS)}) "
    inserted: Counter = Counter()
    if bulk.is_postgres():
        return _events_insert_partitioned([(*row[:-1], True) for row in rows])
    with connection.cursor() as cursor:
        for offset in range(0, len(rows), 500):
            chunk = rows[offset : offset + 500]
            values = ", ".join(["(" + ", ".join(["%s"] * len(EVENT_COLUMNS)) + ")"] * len(chunk))
            cursor.execute(
                insert + f"VALUES {values} ON CONFLICT DO NOTHING RETURNING device_id",
                [p for row in chunk for p in row],
            )
            inserted.update(row[0] for row in cursor.fetchall())
    return inserted, {}


SEQ_TABLE = "telemetry_rawevent_seq"
_COLUMNS = ", ".join(EVENT_COLUMNS)
# One statement: the sequence keys first (the first reading of each key in the batch, in message
# order), then the events whose key was new (or that carry none), both ON CONFLICT DO NOTHING.
# telemetry_rawevent is partitioned by ts on PostgreSQL (migration 0008) and a partitioned
# table's unique key must contain ts, while a reading resent without device time comes back with
# a new ts: so (device, boot_id, seq) is unique in the unpartitioned key table instead.
# rawevent_once_per_ts_counter (it holds ts) still catches the rest in each partition. A key whose
# event that catches is returned as an orphan (kind 'k'), so the caller removes it and the key
# table holds the keys of stored events exactly, as the old index did.
_INSERT_PARTITIONED = f"""
WITH v AS (
    SELECT * FROM unnest({", ".join(f"%s::{cast}[]" for cast in EVENT_CASTS)}) WITH ORDINALITY AS v({_COLUMNS}, n)),
firsts AS (
    SELECT DISTINCT ON (device_id, boot_id, seq) n, device_id, boot_id, seq, ts FROM v
    WHERE seq IS NOT NULL ORDER BY device_id, boot_id, seq, n),
keys AS (
    INSERT INTO {SEQ_TABLE} (device_id, boot_id, seq, ts) SELECT device_id, boot_id, seq, ts FROM firsts
    ON CONFLICT DO NOTHING RETURNING device_id, boot_id, seq),
new AS (
    INSERT INTO {RawEvent._meta.db_table} ({_COLUMNS})
    SELECT {_COLUMNS} FROM v WHERE v.seq IS NULL OR v.n IN (SELECT f.n FROM firsts f JOIN keys k USING (device_id, boot_id, seq))
    ORDER BY v.n
    ON CONFLICT DO NOTHING RETURNING device_id, ts, boot_id, seq)
SELECT 'e', device_id, count(*), min(ts), NULL, NULL FROM new GROUP BY device_id
UNION ALL
SELECT 'k', k.device_id, NULL, NULL, k.boot_id, k.seq FROM keys k
WHERE NOT EXISTS (SELECT 1 FROM new WHERE new.device_id = k.device_id AND new.boot_id = k.boot_id AND new.seq = k.seq)"""


def _events_insert_partitioned(rows: list[tuple]) -> tuple[Counter, dict[int, datetime]]:
    """_events_insert on PostgreSQL: rows per device and each device's earliest new reading time."""
    inserted: Counter = Counter()
    first_new: dict[int, datetime] = {}
    orphans = []
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_PARTITIONED, bulk.columns(rows, len(EVENT_COLUMNS)))
        for kind, device_id, count, t0, boot_id, seq in cursor.fetchall():
            if kind == "e":
                inserted[device_id], first_new[device_id] = count, t0
            else:
                orphans.append((device_id, boot_id, seq))
        if orphans:  # rare: a reading with a new seq that repeats a stored (ts, counter)
            cursor.execute(
                f"DELETE FROM {SEQ_TABLE} WHERE (device_id, boot_id, seq) IN "
                "(SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::bigint[]))",
                bulk.columns(orphans, 3),
            )
    return inserted, first_new


@dataclass(slots=True)
class DeviceNews:
    """What one batch says about one device, whatever the device's stored state: merged into it
    by one UPDATE (devices_news_apply), so the batch never reads that state first."""

    seen: datetime
    reading_at: datetime | None = None
    heartbeat_at: datetime | None = None
    power_w: float | None = None
    # The last explicit status wins; a reading after an explicit offline brings the device
    # back online at that reading. Without an explicit status, the first reading makes the
    # device online from then, unless it was online already (`online_since`: the stored time stays).
    status: str | None = None
    status_at: datetime | None = None
    online_since: datetime | None = None


def devices_news(items: list[ReadingIn | StatusIn], ids: dict[str, int]) -> dict[int, DeviceNews]:
    """Status, last heartbeat / reading / seen per device, in message order: the last word wins."""
    found: dict[int, DeviceNews] = {}
    for item in items:
        at = item.received_at
        news = found.get(ids[item.device])
        if news is None:
            news = found[ids[item.device]] = DeviceNews(seen=at)
        elif at > news.seen:
            news.seen = at
        if isinstance(item, ReadingIn):
            news.reading_at = at
            if item.power_w is not None:
                news.power_w = item.power_w
            if news.status is None:
                news.online_since = news.online_since or at
            elif news.status != Device.Status.ONLINE:
                news.status, news.status_at = Device.Status.ONLINE, at
        elif item.status is None:
            news.heartbeat_at = at
        else:
            news.status, news.status_at = item.status, at
    return found


NEWS_FIELDS = ("seen", "reading_at", "heartbeat_at", "power_w", "status", "status_at", "online_since")
NEWS_CASTS = ("bigint", "timestamptz", "timestamptz", "timestamptz", "float8", "varchar", "timestamptz", "timestamptz")


def devices_news_apply(found: dict[int, DeviceNews]) -> None:
    """One UPDATE ... FROM unnest(...) on PostgreSQL (the ORM's bulk_update builds a CASE per
    field and row, which costs more than the write at thousands of devices a second); device by
    device elsewhere, with the same rules."""
    if not found:
        return
    if not bulk.is_postgres():
        for pk, news in found.items():
            device_news_apply_one(pk, news)
        return
    rows = [(pk, *(getattr(news, f) for f in NEWS_FIELDS)) for pk, news in found.items()]
    bulk.execute(
        f"""
        UPDATE {Device._meta.db_table} AS d SET
            last_seen_at = GREATEST(d.last_seen_at, v.seen),
            last_reading_at = COALESCE(v.reading_at, d.last_reading_at),
            last_heartbeat_at = COALESCE(v.heartbeat_at, d.last_heartbeat_at),
            last_power_w = COALESCE(v.power_w, d.last_power_w),
            status = CASE WHEN v.status IS NOT NULL THEN v.status WHEN v.online_since IS NOT NULL THEN 'online' ELSE d.status END,
            status_at = CASE WHEN v.status IS NOT NULL THEN v.status_at
                             WHEN v.online_since IS NOT NULL AND d.status <> 'online' THEN v.online_since
                             ELSE d.status_at END
        FROM ({{rows}}) AS v(id, {", ".join(NEWS_FIELDS)}) WHERE d.id = v.id""",
        rows,
        NEWS_CASTS,
    )


def device_news_apply_one(pk: int, news: DeviceNews) -> None:
    """devices_news_apply's rules for one device through the ORM (SQLite; tests compare the two)."""
    device = Device.objects.get(pk=pk)
    device.last_seen_at = max(filter(None, (device.last_seen_at, news.seen)))
    device.last_reading_at = news.reading_at or device.last_reading_at
    device.last_heartbeat_at = news.heartbeat_at or device.last_heartbeat_at
    device.last_power_w = device.last_power_w if news.power_w is None else news.power_w
    if news.status is not None:
        device.status, device.status_at = news.status, news.status_at
    elif news.online_since is not None and device.status != Device.Status.ONLINE:
        device.status, device.status_at = Device.Status.ONLINE, news.online_since
    device.save(
        update_fields=["last_seen_at", "last_reading_at", "last_heartbeat_at", "last_power_w", "status", "status_at"]
    )
