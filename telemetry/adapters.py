"""Off-the-shelf meters over MQTT: one small pure function per vendor.

Each adapter turns (topic, payload bytes) into our reading shape, a device status, a Refusal
with its reason (the subscriber keeps that as a malformed message), or None when the topic is
not one the adapter reads. Units are the adapter's business: Tasmota counts kWh, Shelly Wh,
ESPHome whatever the sensor is set to. Energy comes out as exact integer Wh (numbers are read
as Decimal, never float), device time in UTC.

No Django and no settings: the subscriber passes the device's time zone and sensor units in.
"""

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import NamedTuple
from zoneinfo import ZoneInfo

# The same bounds telemetry.ingest applies to the native format.
MIN_TS = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(days=1)
MAX_ENERGY_WH = 10**12
MAX_DEVICE_CHARS = 120
UNIT_WH = {"wh": Decimal(1), "kwh": Decimal(1000)}


class AdaptedReading(NamedTuple):
    """A meter reading, the fields of telemetry.ingest.ReadingIn an adapter can know.

    `energy_wh` is the device's running counter in Wh; None for a power-only message (a
    Shelly `em:N` status, an ESPHome power sensor) that feeds device health, not the ledger.
    `switch_state` is "on", "off" or "".
    """

    device: str
    ts: datetime  # UTC
    energy_wh: int | None
    power_w: float | None = None
    switch_state: str = ""


class AdaptedStatus(NamedTuple):
    """An online/offline (last-will) message: telemetry.ingest.StatusIn without received_at."""

    device: str
    status: str  # online / offline


class Refusal(NamedTuple):
    """A message on an adapter's topic that it cannot read, and why."""

    device: str
    reason: str


Adapted = AdaptedReading | AdaptedStatus | Refusal | None


class _Refused(ValueError):
    pass


# ---------------------------------------------------------------- shared helpers


def _json(payload: bytes):
    try:
        return json.loads(payload, parse_float=Decimal, parse_constant=_no_constant)
    except RecursionError:
        raise _Refused("payload is nested too deeply") from None
    except ValueError as exc:
        raise _Refused(str(exc) if isinstance(exc, _Refused) else "payload is not JSON") from None


def _no_constant(name: str):
    raise _Refused(f"payload holds {name}, not a number")


def _decimal(value, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise _Refused(f"{name} must be a number, got {value!r}"[:200])
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise _Refused(f"{name} must be a number, got {value!r}"[:200]) from None
    if not number.is_finite():
        raise _Refused(f"{name} must be a finite number")
    return number


def _energy_wh(value, name: str, unit: str) -> int:
    """A counter in `unit` as exact integer Wh (half-even past the Wh: 0.0045 kWh is 4 Wh)."""
    wh = (_decimal(value, name) * UNIT_WH[unit]).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    if wh < 0:
        raise _Refused(f"{name} must not be negative")
    if wh > MAX_ENERGY_WH:
        raise _Refused(f"{name} is too large (at most {MAX_ENERGY_WH} Wh)")
    return int(wh)


def _power(value, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, list):  # Tasmota multi-channel devices report one power per channel
        return float(sum(_decimal(item, name) for item in value))
    return float(_decimal(value, name))


def _checked_ts(moment: datetime, received_at: datetime) -> datetime:
    if moment < MIN_TS:
        raise _Refused(f"device time {moment.isoformat()} is before {MIN_TS:%Y-%m-%d}: the device clock is not set")
    if moment > received_at + MAX_FUTURE:
        raise _Refused(f"device time {moment.isoformat()} is more than a day after it was received")
    return moment.astimezone(UTC)


def _epoch(value, name: str, received_at: datetime) -> datetime:
    try:
        return _checked_ts(datetime.fromtimestamp(float(_decimal(value, name)), tz=UTC), received_at)
    except (OverflowError, OSError, ValueError) as exc:
        if isinstance(exc, _Refused):
            raise
        raise _Refused(f"{name} {value!r} is out of range") from None


def _device(name: str) -> str:
    if not name or len(name) > MAX_DEVICE_CHARS or "\x00" in name:
        raise _Refused(f"device name is empty or longer than {MAX_DEVICE_CHARS} characters")
    return name


def _online(payload: bytes, words: Mapping[str, str]) -> str:
    text = payload.decode("utf-8", "replace").strip().strip('"')
    status = words.get(text.lower())
    if status is None:
        raise _Refused(f"status payload {text[:40]!r} is not one of {', '.join(words)}")
    return status


def _adapt(device: str, read: Callable[[], AdaptedReading | AdaptedStatus]) -> Adapted:
    try:
        return read()
    except _Refused as exc:
        return Refusal(device, str(exc))


# ---------------------------------------------------------------- Tasmota


def tasmota_message(topic: str, payload: bytes, *, received_at: datetime, time_zone: str) -> Adapted:
    """Tasmota `tele/<topic>/SENSOR` (ENERGY.Total in kWh, Time without an offset, read in
    `time_zone`, the device's zone) and `tele/<topic>/LWT` (Online / Offline)."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != "tele" or parts[2] not in ("SENSOR", "LWT"):
        return None
    device = parts[1]
    if parts[2] == "LWT":
        return _adapt(
            device, lambda: AdaptedStatus(_device(device), _online(payload, {"online": "online", "offline": "offline"}))
        )
    return _adapt(device, lambda: _tasmota_sensor(_device(device), payload, received_at, time_zone))


def _tasmota_sensor(device: str, payload: bytes, received_at: datetime, time_zone: str) -> AdaptedReading:
    data = _json(payload)
    energy = data.get("ENERGY") if isinstance(data, dict) else None
    if not isinstance(energy, dict) or "Total" not in energy:
        raise _Refused("no ENERGY.Total in the SENSOR message (is the device an energy meter?)")
    return AdaptedReading(
        device,
        _tasmota_time(data.get("Time"), received_at, time_zone),
        _energy_wh(energy["Total"], "ENERGY.Total", "kwh"),
        _power(energy.get("Power"), "ENERGY.Power"),
    )


def _tasmota_time(value, received_at: datetime, time_zone: str) -> datetime:
    if value is None:
        return received_at.astimezone(UTC)
    if not isinstance(value, str):
        raise _Refused(f"Time must be text, got {value!r}"[:200])
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _Refused(f"Time {value[:40]!r} is not ISO 8601") from None
    if moment.tzinfo is None:  # Tasmota sends local wall time with no offset
        moment = moment.replace(tzinfo=ZoneInfo(time_zone))
    return _checked_ts(moment, received_at)


# ---------------------------------------------------------------- Shelly Gen2+

_SHELLY_COMPONENT = re.compile(r"^(switch|em|emdata|em1data):(\d+)$")


def shelly_message(topic: str, payload: bytes, *, received_at: datetime) -> Adapted:
    """Shelly Gen2+ `<id>/status/switch:N` (aenergy.total Wh at aenergy.minute_ts),
    `<id>/status/emdata:N` (Pro 3EM total_act Wh), `<id>/status/em1data:N` (total_act_energy),
    `<id>/status/em:N` (power only), the same inside `<id>/events/rpc` NotifyStatus, and
    `<id>/online` (true / false). The device is the Shelly id; channel N > 0 adds ":N"."""
    parts = topic.split("/")
    if len(parts) == 2 and parts[1] == "online":
        return _adapt(
            parts[0], lambda: AdaptedStatus(_device(parts[0]), _online(payload, {"true": "online", "false": "offline"}))
        )
    if len(parts) == 3 and parts[1] == "status" and (match := _SHELLY_COMPONENT.match(parts[2])):
        return _adapt(
            parts[0], lambda: _shelly_component(parts[0], match[1], int(match[2]), _json(payload), received_at)
        )
    if len(parts) == 3 and parts[1:] == ["events", "rpc"]:
        return _adapt(parts[0], lambda: _shelly_notify(parts[0], _json(payload), received_at))
    return None


def _shelly_notify(device: str, data, received_at: datetime) -> AdaptedReading:
    params = data.get("params") if isinstance(data, dict) and data.get("method") == "NotifyStatus" else None
    if not isinstance(params, dict):
        raise _Refused("an events/rpc message without NotifyStatus params")
    for key, status in params.items():
        if match := _SHELLY_COMPONENT.match(key):
            ts = _epoch(params["ts"], "params.ts", received_at) if "ts" in params else None
            return _shelly_component(device, match[1], int(match[2]), status, received_at, ts)
    raise _Refused("NotifyStatus names no switch, em, emdata or em1data component")


def _shelly_component(
    device: str, kind: str, channel: int, status, received_at: datetime, ts: datetime | None = None
) -> AdaptedReading:
    if not isinstance(status, dict):
        raise _Refused(f"{kind}:{channel} status must be a JSON object")
    name = _device(device if channel == 0 else f"{device}:{channel}")
    ts = ts or received_at.astimezone(UTC)
    if kind == "switch":
        return _shelly_switch(name, channel, status, received_at)
    if kind == "em":
        return AdaptedReading(name, ts, None, _power(status.get("total_act_power"), "total_act_power"))
    field = "total_act" if kind == "emdata" else "total_act_energy"
    if field not in status:
        raise _Refused(f"{kind}:{channel} has no {field}")
    return AdaptedReading(name, ts, _energy_wh(status[field], field, "wh"))


def _shelly_switch(name: str, channel: int, status: dict, received_at: datetime) -> AdaptedReading:
    energy = status.get("aenergy")
    if not isinstance(energy, dict) or "total" not in energy:
        raise _Refused(f"switch:{channel} has no aenergy.total (a switch without metering?)")
    ts = _epoch(energy["minute_ts"], "aenergy.minute_ts", received_at) if "minute_ts" in energy else received_at
    output = status.get("output")
    state = {True: "on", False: "off"}.get(output, "") if isinstance(output, bool) else ""
    return AdaptedReading(
        name,
        ts.astimezone(UTC),
        _energy_wh(energy["total"], "aenergy.total", "wh"),
        _power(status.get("apower"), "apower"),
        state,
    )


# ---------------------------------------------------------------- ESPHome


def esphome_message(topic: str, payload: bytes, *, received_at: datetime, units: Mapping[str, str]) -> Adapted:
    """ESPHome `<node>/sensor/<name>/state` (a bare number; `units` maps each sensor name to
    "Wh", "kWh" or "W", as set in the device's YAML) and `<node>/status` (online / offline)."""
    parts = topic.split("/")
    if len(parts) == 2 and parts[1] == "status":
        return _adapt(
            parts[0],
            lambda: AdaptedStatus(_device(parts[0]), _online(payload, {"online": "online", "offline": "offline"})),
        )
    if len(parts) == 4 and parts[1] == "sensor" and parts[3] == "state":
        return _adapt(parts[0], lambda: _esphome_state(parts[0], parts[2], payload, received_at, units))
    return None


def _esphome_state(
    node: str, sensor: str, payload: bytes, received_at: datetime, units: Mapping[str, str]
) -> AdaptedReading:
    unit = units.get(sensor, "").strip().lower()
    if unit not in ("wh", "kwh", "w"):
        raise _Refused(f"sensor {sensor!r} has no unit set (Wh, kWh or W); set it for this device")
    text = payload.decode("utf-8", "replace").strip()
    ts = received_at.astimezone(UTC)  # ESPHome states carry no time
    if unit == "w":
        return AdaptedReading(_device(node), ts, None, float(_decimal(text, sensor)))
    return AdaptedReading(_device(node), ts, _energy_wh(text, sensor, unit))


ADAPTERS = {"tasmota": tasmota_message, "shelly": shelly_message, "esphome": esphome_message}
