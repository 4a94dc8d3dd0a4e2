"""Telemetry messages in: parse, store raw events once, update device state, feed the ledger.

The subscriber and the HTTP endpoint both end here; a message we cannot read is kept as a
MalformedMessage and never stops the batch.
"""

import json
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone
from types import SimpleNamespace
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from telemetry import bulk, ledger
from telemetry.models import Device, MalformedMessage, RawEvent

log = logging.getLogger(__name__)
KINDS = ("telemetry", "status", "heartbeat")
MAX_FUTURE = timedelta(days=1)
BIGINT_MAX = 2**63 - 1


class MessageError(ValueError):
    """Why a message cannot be read (kept with the message)."""


class ReadingIn(NamedTuple):
    """A parsed reading (a tuple: the subscriber makes thousands a second)."""

    device: str
    ts: datetime
    received_at: datetime
    energy_wh: int
    power_w: float | None = None
    switch_state: str = ""
    seq: int | None = None
    boot_id: str = ""


class StatusIn(NamedTuple):
    device: str
    received_at: datetime
    status: str | None  # online / offline; None for a heartbeat


@dataclass
class RecordResult:
    stored: int = 0
    duplicates: int = 0
    statuses: int = 0
    malformed: int = 0
    devices_created: list[str] = field(default_factory=list)
    processed: ledger.ProcessResult | None = None


def topic_parse(topic: str, prefix: str | None = None) -> tuple[str, str]:
    """<prefix>/<device>/<kind> -> (device, kind)."""
    prefix = settings.MQTT_TOPIC_PREFIX.strip("/") if prefix is None else prefix
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != prefix or parts[2] not in KINDS or not parts[1]:
        raise MessageError(f"topic is not {prefix}/<device>/({'|'.join(KINDS)})")
    return parts[1], parts[2]


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise MessageError(f"{name} must be a number, got {value!r}")
    return value


def ts_parse(value, received_at: datetime) -> datetime:
    """ISO 8601 or epoch seconds (milliseconds when it is that large); naive times are local."""
    if value is None:
        return received_at
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise MessageError(f"ts is not ISO 8601 or epoch seconds: {value[:40]!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=ZoneInfo(settings.TELEMETRY_TIME_ZONE))
    else:
        seconds = _number(value, "ts")
        if seconds > 1e11:
            seconds /= 1000
        try:
            parsed = datetime.fromtimestamp(seconds, tz=dt_timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise MessageError(f"ts out of range: {value!r}") from None
    if parsed > received_at + MAX_FUTURE:
        raise MessageError(f"ts {parsed.isoformat()} is more than a day after it was received")
    return parsed.astimezone(dt_timezone.utc)


def reading_from_json(device: str, data, received_at: datetime) -> ReadingIn:
    if not isinstance(data, dict):
        raise MessageError("telemetry must be a JSON object")
    if "energy_wh_total" not in data:
        raise MessageError("energy_wh_total is required")
    energy = _number(data["energy_wh_total"], "energy_wh_total")
    if energy < 0:
        raise MessageError("energy_wh_total must not be negative")
    if energy > BIGINT_MAX:  # refused here: in the batch insert it would fail every message with it
        raise MessageError("energy_wh_total is too large")
    seq = data.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
        raise MessageError(f"seq must be an integer, got {seq!r}")
    if seq is not None and not -BIGINT_MAX <= seq <= BIGINT_MAX:
        raise MessageError("seq is out of range")
    power = data.get("power_w")
    return ReadingIn(
        device=device, ts=ts_parse(data.get("ts"), received_at), received_at=received_at, energy_wh=round(energy),
        power_w=None if power is None else float(_number(power, "power_w")),
        switch_state=str(data.get("switch_state") or "")[:16], seq=seq, boot_id=str(data.get("boot_id") or "")[:64],
    )


def status_from_payload(payload: bytes) -> str:
    text = payload.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = text
    value = data.get("status") if isinstance(data, dict) else data
    if not isinstance(value, str) or value.strip().lower() not in ("online", "offline"):
        raise MessageError("status must be online or offline")
    return value.strip().lower()


def message_parse(*, topic: str, payload: bytes, received_at: datetime, prefix: str | None = None) -> ReadingIn | StatusIn:
    """One MQTT message as a reading or a status; MessageError when it cannot be read."""
    device, kind = topic_parse(topic, prefix)
    if len(device) > 120:
        raise MessageError("device name longer than 120 characters")
    if kind == "status":
        return StatusIn(device, received_at, status_from_payload(payload))
    try:
        data = json.loads(payload)
    except ValueError:
        raise MessageError(f"{kind} payload is not JSON") from None
    if kind == "heartbeat":
        return StatusIn(device, received_at, None)
    return reading_from_json(device, data, received_at)


class MalformedIn(NamedTuple):
    """A message we could not read, kept with the reason."""

    topic: str
    payload: bytes
    received_at: datetime
    error: str


def message_prepare(topic: str, payload: bytes, received_at: datetime) -> ReadingIn | StatusIn | MalformedIn:
    """One message read without touching the database: the subscriber calls this on its network
    thread as messages arrive. Never raises, as an exception there would stop the stream."""
    try:
        return message_parse(topic=topic, payload=payload, received_at=received_at, prefix=settings.MQTT_TOPIC_PREFIX.strip("/"))
    except MessageError as exc:
        return MalformedIn(topic, payload, received_at, str(exc))
    except Exception as exc:  # a case the rules above did not foresee: kept, never fatal
        log.exception("telemetry message on %s could not be read", topic[:255])
        return MalformedIn(topic, payload, received_at, f"unreadable ({type(exc).__name__})")


def prepared_record(items: list[ReadingIn | StatusIn | MalformedIn]) -> RecordResult:
    """A batch of prepared messages, stored in one go; malformed ones are kept for inspection."""
    malformed = [item for item in items if isinstance(item, MalformedIn)]
    result = items_record([item for item in items if not isinstance(item, MalformedIn)] if malformed else items)
    MalformedMessage.objects.bulk_create([
        MalformedMessage(topic=m.topic[:255], payload=m.payload.decode("utf-8", "replace")[:10000], error=m.error[:255],
                         received_at=m.received_at)
        for m in malformed
    ])
    result.malformed = len(malformed)
    return result


def messages_record(messages: list[tuple[str, bytes, datetime]]) -> RecordResult:
    """A batch of (topic, payload, received_at), stored in one go."""
    return prepared_record([message_prepare(topic, payload, received_at) for topic, payload, received_at in messages])


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
        cursor.execute(f"SELECT name, id FROM {Device._meta.db_table} WHERE name = ANY(%s::text[])", [bulk.array_literal(list(names))])
        return dict(cursor.fetchall())


def _devices_lock_state(ids: set[int]) -> dict[int, SimpleNamespace]:
    """Lock the batch's devices in id order and read the fields the batch updates, in one
    statement. The order means subscribers sharing a group never deadlock on device rows, and
    the lock serialises each device's ledger; plain objects, as thousands of model instances
    cost more than the query."""
    fields = ("id", "status", *(f for f in TOUCHED if f != "status"))
    if bulk.is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(fields)} FROM {Device._meta.db_table} WHERE id = ANY(%s::bigint[]) "
                           "ORDER BY id FOR UPDATE", [bulk.array_literal(list(ids))])
            found = cursor.fetchall()
    else:
        found = Device.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list(*fields)
    return {row[0]: SimpleNamespace(**dict(zip(fields, row)), pk=row[0]) for row in found}


def items_record(items: list[ReadingIn | StatusIn], *, source: str = "mqtt") -> RecordResult:
    result = RecordResult()
    if not items:
        return result
    with transaction.atomic():
        ids, result.devices_created = devices_ensure({item.device for item in items})
        devices = _devices_lock_state(set(ids.values()))
        readings = [item for item in items if isinstance(item, ReadingIn)]
        inserted, first_new = _events_insert(readings, ids, source)
        result.stored = sum(inserted.values())
        sent = Counter(ids[r.device] for r in readings)
        for device_id, count in sent.items():
            if count > inserted.get(device_id, 0):
                Device.objects.filter(pk=device_id).update(duplicates=F("duplicates") + count - inserted.get(device_id, 0))
        result.duplicates = len(readings) - result.stored
        result.statuses = len(items) - len(readings)
        _devices_touch(items, ids, devices)
        if first_new:
            result.processed = ledger.ledger_extend(first_new=first_new)
        elif inserted:
            result.processed = ledger.ledger_process(device_ids=sorted(inserted))
    return result


EVENT_COLUMNS = ("device_id", "ts", "received_at", "energy_wh", "power_w", "switch_state", "seq", "boot_id", "source", "processed")
EVENT_CASTS = ("bigint", "timestamptz", "timestamptz", "bigint", "float8", "varchar", "bigint", "varchar", "varchar", "boolean")


def _events_insert(readings: list[ReadingIn], ids: dict[str, int], source: str) -> tuple[Counter, dict[int, datetime]]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: duplicates (same seq in a boot, or same ts and
    counter) are dropped by the unique constraints, even within one batch. Returns rows per
    device and, on PostgreSQL, each device's earliest new reading time.

    On PostgreSQL the rows go in already marked processed, since the ledger takes them in this
    same transaction (rolled back together if it fails): marking them afterwards rewrote every
    row and its index entries a second time. The embedded SQLite set-up keeps the simpler
    mark-after path and returns no times."""
    rows = [(ids[r.device], r.ts, r.received_at, r.energy_wh, r.power_w, r.switch_state, r.seq, r.boot_id, source, False)
            for r in readings]
    insert = f"INSERT INTO {RawEvent._meta.db_table} ({', '.join(EVENT_COLUMNS)}) "
    inserted: Counter = Counter()
    if bulk.is_postgres():
        rows = [(*row[:-1], True) for row in rows]
        sql = (f"WITH new AS ({insert} {{rows}} ON CONFLICT DO NOTHING RETURNING device_id, ts) "
               "SELECT device_id, count(*), min(ts) FROM new GROUP BY device_id")
        first_new: dict[int, datetime] = {}
        for device_id, count, t0 in bulk.execute(sql, rows, EVENT_CASTS, returning=True):
            inserted[device_id], first_new[device_id] = count, t0
        return inserted, first_new
    with connection.cursor() as cursor:
        for offset in range(0, len(rows), 500):
            chunk = rows[offset: offset + 500]
            values = ", ".join(["(" + ", ".join(["%s"] * len(EVENT_COLUMNS)) + ")"] * len(chunk))
            cursor.execute(insert + f"VALUES {values} ON CONFLICT DO NOTHING RETURNING device_id", [p for row in chunk for p in row])
            inserted.update(row[0] for row in cursor.fetchall())
    return inserted, {}


def _devices_touch(items: list[ReadingIn | StatusIn], ids: dict[str, int], devices: dict[int, SimpleNamespace]) -> None:
    """Status, last heartbeat / reading / seen, in message order: the last word wins. One
    bulk UPDATE for the whole batch."""
    changed: set[str] = set()
    for item in items:
        device = devices[ids[item.device]]
        _device_note(device, item, changed)
    if not changed:
        return
    if bulk.is_postgres():
        _devices_write_pg(list(devices.values()))
    else:
        for device in devices.values():
            Device.objects.filter(pk=device.pk).update(**{f: getattr(device, f) for f in changed})


TOUCHED = ("last_seen_at", "last_reading_at", "last_heartbeat_at", "last_power_w", "status", "status_at")


def _devices_write_pg(devices: list[Device]) -> None:
    """UPDATE ... FROM unnest(...): the ORM's bulk_update builds a CASE per field and row, which
    costs more than the write itself at thousands of devices a second."""
    casts = ("bigint", "timestamptz", "timestamptz", "timestamptz", "float8", "varchar", "timestamptz")
    sets = ", ".join(f"{f} = v.{f}" for f in TOUCHED)
    rows = [(d.pk, *(getattr(d, f) for f in TOUCHED)) for d in devices]
    bulk.execute(f"UPDATE {Device._meta.db_table} AS d SET {sets} FROM ({{rows}}) AS v(id, {', '.join(TOUCHED)}) "
                 "WHERE d.id = v.id", rows, casts)


def _device_note(device: SimpleNamespace, item: ReadingIn | StatusIn, changed: set[str]) -> None:
    if device.last_seen_at is None or item.received_at > device.last_seen_at:
        device.last_seen_at = item.received_at
        changed.add("last_seen_at")
    if isinstance(item, ReadingIn):
        device.last_reading_at = item.received_at
        changed.add("last_reading_at")
        if item.power_w is not None:
            device.last_power_w = item.power_w
            changed.add("last_power_w")
        new_status = None if device.status == Device.Status.ONLINE else Device.Status.ONLINE
    elif item.status is None:
        device.last_heartbeat_at = item.received_at
        changed.add("last_heartbeat_at")
        new_status = None
    else:
        new_status = item.status
    if new_status:
        device.status, device.status_at = new_status, item.received_at
        changed.update(("status", "status_at"))
