"""Off-the-shelf meters through a real Mosquitto and the subscriber process, with the vendors'
real payloads (read in place from shared/, like tests/telemetry/test_adapters.py)."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from telemetry.models import Device, LedgerEntry, MalformedMessage, RawEvent
from tests.telemetry.conftest import connected, subscriber_running, wait_until

REAL = Path(__file__).resolve().parents[3] / "shared" / "formats" / "samples" / "real" / "telemetry"
ESPHOME_SENSOR = "athom_smart_plug_v2_total_energy"


def real(name: str) -> bytes:
    return (REAL / name).read_bytes()


@pytest.fixture
def vendors(transactional_db, broker, prefix, tmp_path):
    """The subscriber reading all four formats on the vendors' default topics, at the default
    plausible power (25 kW). Readings are published back to back: those without a device time
    are stamped on arrival as little as 30 microseconds apart (16 Wh in 32 us would be 1.8 GW),
    and count as consumption because the power rule judges device times only
    (tests/telemetry/test_ledger_glitch.py). The device-timed samples are minutes apart."""
    with subscriber_running(
        broker.url,
        prefix,
        tmp_path / "subscriber.log",
        TELEMETRY_ADAPTERS="autovolt,tasmota,shelly,esphome",
        TELEMETRY_ESPHOME_UNITS=f"{ESPHOME_SENSOR}=kWh,power=W",
    ) as sub:
        connected(sub)
        yield sub


def entries(device: str) -> list[tuple[int, str]]:
    return list(LedgerEntry.objects.current().filter(device__name=device).values_list("delta_wh", "kind"))


def test_tasmota_readings_land_in_the_ledger_in_exact_wh_at_the_devices_zone_and_lwt_offline_shows(vendors, broker):
    Device.objects.create(name="tasmota_891E97", time_zone="Europe/Berlin")
    first = json.loads(real("tasmota_sensor.json"))  # Total 0.004 kWh at 16:45:07, no offset
    later = {**first, "Time": "2023-02-27T16:50:07", "ENERGY": {**first["ENERGY"], "Total": 0.021}}
    broker.pub("tele/tasmota_891E97/LWT", "Online")
    broker.pub("tele/tasmota_891E97/SENSOR", real("tasmota_sensor.json").decode())
    broker.pub("tele/tasmota_891E97/SENSOR", json.dumps(later))
    wait_until(lambda: entries("tasmota_891E97"), seconds=40, what="the Tasmota ledger entry")
    assert entries("tasmota_891E97") == [(17, "normal")]
    first_event = RawEvent.objects.filter(device__name="tasmota_891E97").order_by("ts").first()
    assert (first_event.energy_wh, first_event.ts, first_event.power_w) == (
        4,
        datetime(2023, 2, 27, 15, 45, 7, tzinfo=UTC),
        34.0,
    )
    assert Device.objects.get(name="tasmota_891E97").status == "online"
    broker.pub("tele/tasmota_891E97/LWT", "Offline")
    wait_until(lambda: Device.objects.get(name="tasmota_891E97").status == "offline", what="the last will")


def test_shelly_switch_and_pro_3em_readings_land_in_the_ledger_and_online_false_shows_offline(vendors, broker):
    switch = json.loads(real("shelly_gen2_switch_status.json"))  # aenergy.total 913.252 Wh
    later = {
        **switch,
        "aenergy": {**switch["aenergy"], "total": 1013.4, "minute_ts": switch["aenergy"]["minute_ts"] + 60},
    }
    broker.pub("shelly1pm-abc/status/switch:0", real("shelly_gen2_switch_status.json").decode())
    broker.pub("shelly1pm-abc/status/switch:0", json.dumps(later))
    emdata = json.loads(real("shelly_pro3em_notifystatus_emdata.json"))["params"]["emdata:0"]  # total_act 26289.57 Wh
    broker.pub("shellypro3em-1234567890ab/status/emdata:0", json.dumps(emdata))
    broker.pub("shellypro3em-1234567890ab/status/sys", '{"uptime": 100}')  # not ours: skipped
    broker.pub("shellypro3em-1234567890ab/status/emdata:0", json.dumps({**emdata, "total_act": 26389.57}))
    wait_until(
        lambda: entries("shelly1pm-abc") and entries("shellypro3em-1234567890ab"),
        seconds=40,
        what="both Shelly ledger entries",
    )
    assert entries("shelly1pm-abc") == [(100, "normal")]
    assert entries("shellypro3em-1234567890ab") == [(100, "normal")]
    switch_event = RawEvent.objects.filter(device__name="shelly1pm-abc").order_by("ts").first()
    assert (switch_event.energy_wh, switch_event.ts, switch_event.switch_state) == (
        913,
        datetime.fromtimestamp(1782936360, tz=UTC),
        "on",
    )
    broker.pub("shelly1pm-abc/online", "false")
    wait_until(lambda: Device.objects.get(name="shelly1pm-abc").status == "offline", what="online false")
    assert not MalformedMessage.objects.exists()


def test_esphome_bare_numbers_land_in_the_ledger_in_the_sensors_unit_and_status_offline_shows(vendors, broker):
    topic = f"athom-plug/sensor/{ESPHOME_SENSOR}/state"
    broker.pub("athom-plug/status", "online")
    broker.pub(topic, real("esphome_total_energy_state.txt").decode())  # 1.234 kWh
    broker.pub(topic, "1.250")
    wait_until(lambda: entries("athom-plug"), seconds=40, what="the ESPHome ledger entry")
    assert entries("athom-plug") == [(16, "normal")]
    assert sorted(RawEvent.objects.filter(device__name="athom-plug").values_list("energy_wh", flat=True)) == [
        1234,
        1250,
    ]
    before = Device.objects.get(name="athom-plug").last_seen_at
    broker.pub("athom-plug/sensor/power/state", "57.5")  # power only: the device is alive, no reading
    wait_until(lambda: Device.objects.get(name="athom-plug").last_seen_at > before, what="the power message")
    broker.pub("athom-plug/status", "offline")
    wait_until(lambda: Device.objects.get(name="athom-plug").status == "offline", what="status offline")
    assert RawEvent.objects.filter(device__name="athom-plug").count() == 2


def test_unreadable_messages_on_vendor_topics_are_kept_as_malformed_with_the_reason(vendors, broker):
    broker.pub("tele/thermo/SENSOR", '{"Time":"2026-07-01T10:00:00","AM2301":{"Temperature":21}}')
    broker.pub("shelly1pm-x/status/switch:0", "not json")
    broker.pub("node-1/sensor/temperature/state", "21.5")
    broker.pub("tele/plug/LWT", "Maybe")
    wait_until(lambda: MalformedMessage.objects.count() == 4, seconds=40, what="four malformed messages")
    kept = dict(MalformedMessage.objects.values_list("topic", "error"))
    assert kept == {
        "tele/thermo/SENSOR": "no ENERGY.Total in the SENSOR message (is the device an energy meter?)",
        "shelly1pm-x/status/switch:0": "payload is not JSON",
        "node-1/sensor/temperature/state": "sensor 'temperature' has no unit set (Wh, kWh or W); set it for this device",
        "tele/plug/LWT": "status payload 'Maybe' is not one of online, offline",
    }
    assert not RawEvent.objects.exists() and not Device.objects.exists()


def test_our_own_format_still_arrives_beside_the_vendors(vendors, broker, prefix):
    now = datetime.now(UTC).replace(microsecond=0)
    broker.pub(
        f"{prefix}/own-1/telemetry",
        json.dumps({"energy_kwh_total": 1.5, "ts": (now - timedelta(minutes=2)).isoformat()}),
    )
    broker.pub(f"{prefix}/own-1/telemetry", json.dumps({"energy_wh_total": 1512, "ts": now.isoformat()}))
    wait_until(lambda: entries("own-1"), seconds=40, what="the native ledger entry")
    assert entries("own-1") == [(12, "normal")]
