"""Telemetry messages read: topic and payload to a reading, a status or a refusal with its reason.

Pure: no ORM, no database, so the subscriber's network thread and the HTTP endpoint read
messages without a connection, and the rules are tested alone (tests/telemetry/test_messages.py).
Storing what was read is telemetry/ingest.py's job.
"""

import json
import logging
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.conf import settings

log = logging.getLogger(__name__)
KINDS = ("telemetry", "status", "heartbeat")
MAX_FUTURE = timedelta(days=1)
# Device clocks before this are unset (epoch 0, year 1), not history: refused, not stored as 1970.
MIN_TS = datetime(2000, 1, 1, tzinfo=UTC)
BIGINT_MAX = 2**63 - 1
# 1 TWh: a 1 MW load for 114 years, far past any device's counter. A jump to 2^63-1 Wh fitted the
# bigint column but its cost overflowed the daily total's numeric(24, 9) and failed the batch.
MAX_ENERGY_WH = 10**12


class MessageError(ValueError):
    """Why a message cannot be read (kept with the message)."""


class ReadingIn(NamedTuple):
    """A parsed reading (a tuple: the writers make thousands a second)."""

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


def topic_parse(topic: str) -> tuple[str, str]:
    """<prefix>/<device>/<kind> -> (device, kind)."""
    prefix = settings.MQTT_TOPIC_PREFIX.strip("/")
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != prefix or parts[2] not in KINDS or not parts[1]:
        raise MessageError(f"topic is not {prefix}/<device>/({'|'.join(KINDS)})")
    return parts[1], parts[2]


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise MessageError(f"{name} must be a number, got {value!r}")
    return value


def text_field(value, name: str, limit: int) -> str:
    """A text field as stored: PostgreSQL refuses NUL and psycopg lone surrogates, and either
    failure used to fail the whole batch at the insert; longer than its column is refused too."""
    if not value:
        return ""
    if isinstance(value, (dict, list)):
        raise MessageError(f"{name} must be text, got a JSON {'object' if isinstance(value, dict) else 'array'}")
    text = str(value)
    if "\x00" in text:
        raise MessageError(f"{name} contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise MessageError(f"{name} is not valid Unicode (a lone surrogate)") from None
    if len(text) > limit:
        raise MessageError(f"{name} is longer than {limit} characters")
    return text


def json_load(data: bytes | str):
    """json.loads that refuses, with a MessageError, what it cannot read, nesting too deep included
    (100,000 '[' raise RecursionError, not ValueError)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise MessageError("nested too deeply") from None
    except ValueError:
        raise MessageError("not JSON") from None


def ts_parse(value, received_at: datetime, time_zone: str = "") -> datetime:
    """ISO 8601 or epoch seconds (milliseconds when it is that large); naive times are wall time in
    `time_zone` (the device's; empty: TELEMETRY_TIME_ZONE). Only from MIN_TS to a day after `received_at`."""
    if value is None:
        return received_at
    try:
        parsed = _ts_read(value, time_zone)
        if parsed < MIN_TS:
            raise MessageError(f"ts {parsed.isoformat()} is before {MIN_TS:%Y-%m-%d}: the device clock is not set")
        if parsed > received_at + MAX_FUTURE:
            raise MessageError(f"ts {parsed.isoformat()} is more than a day after it was received")
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset: UTC falls outside what datetime holds
        raise MessageError(f"ts out of range: {str(value)[:40]!r}") from None


def _ts_read(value, time_zone: str = "") -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise MessageError(f"ts is not ISO 8601 or epoch seconds: {value[:40]!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=ZoneInfo(time_zone or settings.TELEMETRY_TIME_ZONE))
    else:
        seconds = _number(value, "ts")
        if seconds > 1e11:
            seconds /= 1000
        try:
            parsed = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise MessageError(f"ts out of range: {value!r}") from None
    return parsed


def reading_from_json(
    device: str, data, received_at: datetime, *, time_zone: str = "", counter_unit: str = "Wh"
) -> ReadingIn:
    """The native reading; `time_zone` and `counter_unit` are the device's (Device fields)."""
    if not isinstance(data, dict):
        raise MessageError("telemetry must be a JSON object")
    energy = energy_total_wh(data, counter_unit)
    seq = data.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
        raise MessageError(f"seq must be an integer, got {seq!r}")
    if seq is not None and not -BIGINT_MAX <= seq <= BIGINT_MAX:
        raise MessageError("seq is out of range")
    power = data.get("power_w")
    return ReadingIn(
        device=text_field(device, "device", 120),
        ts=ts_parse(data.get("ts"), received_at, time_zone),
        received_at=received_at,
        energy_wh=energy,
        power_w=None if power is None else float(_number(power, "power_w")),
        switch_state=text_field(data.get("switch_state"), "switch_state", 16),
        seq=seq,
        boot_id=text_field(data.get("boot_id"), "boot_id", 64),
    )


def energy_total_wh(data: dict, counter_unit: str = "Wh") -> int:
    """The counter as exact whole Wh, from `energy_wh_total` (in the device's counter unit) or
    `energy_kwh_total`. A fraction of a Wh is refused, never rounded: a kWh counter sent as Wh
    (Tasmota's Total of 14.834) used to become 15 Wh, a thousandth of the truth, without a word."""
    if ("energy_wh_total" in data) == ("energy_kwh_total" in data):
        raise MessageError(
            "energy_wh_total is required"
            if "energy_wh_total" not in data
            else "send energy_wh_total or energy_kwh_total, not both"
        )
    name = "energy_wh_total" if "energy_wh_total" in data else "energy_kwh_total"
    value = _number(data[name], name)
    unit = "kWh" if name == "energy_kwh_total" else counter_unit
    # Whole Wh (nearly every message) skip Decimal. Other JSON numbers arrive as floats; repr
    # gives back the digits sent (up to 15 significant ones), read exactly.
    wh = value if unit == "Wh" and isinstance(value, int) else Decimal(repr(value)) * (1000 if unit == "kWh" else 1)
    if wh != int(wh):
        if unit == "Wh":
            raise MessageError(
                f"energy_wh_total must be whole Wh, got {value!r}: a kWh counter goes in energy_kwh_total "
                "(or set the device's counter unit to kWh)"
            )
        raise MessageError(f"{name} {value!r} kWh is not a whole number of Wh")
    if wh < 0:
        raise MessageError(f"{name} must not be negative")
    if wh > MAX_ENERGY_WH:  # refused here: in the batch insert it would fail every message with it
        raise MessageError(f"{name} is too large (at most {MAX_ENERGY_WH} Wh)")
    return int(wh)


def status_from_payload(payload: bytes) -> str:
    text = payload.decode("utf-8", "replace").strip()
    try:
        data = json_load(text)
    except MessageError:
        data = text
    value = data.get("status") if isinstance(data, dict) else data
    if not isinstance(value, str) or value.strip().lower() not in ("online", "offline"):
        raise MessageError("status must be online or offline")
    return value.strip().lower()


def message_parse(
    *, topic: str, payload: bytes, received_at: datetime, time_zone: str = "", counter_unit: str = "Wh"
) -> ReadingIn | StatusIn:
    """One MQTT message as a reading or a status; MessageError when it cannot be read."""
    device, kind = topic_parse(topic)
    if len(device) > 120:
        raise MessageError("device name longer than 120 characters")
    device = text_field(device, "device", 120)
    if kind == "status":
        return StatusIn(device, received_at, status_from_payload(payload))
    try:
        data = json_load(payload)
    except MessageError as exc:
        raise MessageError(f"{kind} payload is {exc}") from None
    if kind == "heartbeat":
        return StatusIn(device, received_at, None)
    return reading_from_json(device, data, received_at, time_zone=time_zone, counter_unit=counter_unit)


class MalformedIn(NamedTuple):
    """A message we could not read, kept with the reason."""

    topic: str
    payload: bytes
    received_at: datetime
    error: str


def message_prepare(
    topic: str, payload: bytes, received_at: datetime, *, time_zone: str = "", counter_unit: str = "Wh"
) -> ReadingIn | StatusIn | MalformedIn:
    """One message read without touching the database. Never raises: one message that fails in
    an unforeseen way is kept as malformed instead of failing its whole batch for ever."""
    try:
        return message_parse(
            topic=topic, payload=payload, received_at=received_at, time_zone=time_zone, counter_unit=counter_unit
        )
    except MessageError as exc:
        return MalformedIn(topic, payload, received_at, str(exc))
    except Exception as exc:  # a case the rules above did not foresee: kept, never fatal
        log.exception("telemetry message on %s could not be read", topic[:255])
        return MalformedIn(topic, payload, received_at, f"unreadable ({type(exc).__name__})")
