"""Vendor adapters: the vendors' documented payloads and the real ones in shared/ (read in place)."""

from datetime import UTC, datetime
from pathlib import Path

from telemetry.adapters import (
    ADAPTERS,
    AdaptedReading,
    AdaptedStatus,
    Refusal,
    esphome_message,
    shelly_message,
    tasmota_message,
)

REAL = Path(__file__).resolve().parents[3] / "shared" / "formats" / "samples" / "real" / "telemetry"
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def real(name: str) -> bytes:
    return (REAL / name).read_bytes()


def tasmota(topic: str, payload: bytes, zone: str = "Europe/Berlin"):
    return tasmota_message(topic, payload, received_at=NOW, time_zone=zone)


def test_tasmota_total_in_kwh_becomes_exact_wh_and_zoneless_time_is_read_in_the_devices_zone():
    result = tasmota("tele/tasmota_891E97/SENSOR", real("tasmota_sensor_2.json"), zone="Europe/Berlin")
    assert result == AdaptedReading("tasmota_891E97", datetime(2020, 3, 11, 16, 49, 33, tzinfo=UTC), 14834, 0.0)
    chicago = tasmota("tele/plug/SENSOR", real("tasmota_sensor_2.json"), zone="America/Chicago")
    assert chicago.ts == datetime(2020, 3, 11, 22, 49, 33, tzinfo=UTC)


def test_tasmota_small_total_and_power_from_the_other_real_payload():
    result = tasmota("tele/plug/SENSOR", real("tasmota_sensor.json"))
    assert (result.energy_wh, result.power_w) == (4, 34.0)


def test_tasmota_lwt_online_and_offline_are_statuses():
    assert tasmota("tele/plug/LWT", b"Online") == AdaptedStatus("plug", "online")
    assert tasmota("tele/plug/LWT", b"Offline") == AdaptedStatus("plug", "offline")


def test_tasmota_refuses_a_sensor_message_without_energy_and_a_negative_total_with_reasons():
    assert tasmota("tele/th/SENSOR", b'{"Time":"2026-07-01T10:00:00","AM2301":{"Temperature":21}}') == Refusal(
        "th", "no ENERGY.Total in the SENSOR message (is the device an energy meter?)"
    )
    assert tasmota("tele/p/SENSOR", b'{"ENERGY":{"Total":-1}}').reason == "ENERGY.Total must not be negative"
    assert tasmota("tele/p/SENSOR", b'{"ENERGY":{"Total":NaN}}').reason == "payload holds NaN, not a number"
    assert tasmota("tele/p/SENSOR", b"not json").reason == "payload is not JSON"


def test_tasmota_ignores_topics_it_does_not_read():
    assert tasmota("tele/plug/STATE", b"{}") is None and tasmota("stat/plug/POWER", b"ON") is None


def test_shelly_switch_status_gives_wh_at_the_minute_ts_with_power_and_output():
    result = shelly_message("shelly1pm-abc/status/switch:0", real("shelly_gen2_switch_status.json"), received_at=NOW)
    assert result == AdaptedReading("shelly1pm-abc", datetime.fromtimestamp(1782936360, tz=UTC), 913, 25.7, "on")


def test_shelly_second_switch_channel_is_its_own_device():
    result = shelly_message("shelly2pm-x/status/switch:1", real("shelly_gen2_switch_status.json"), received_at=NOW)
    assert result.device == "shelly2pm-x:1"


def test_shelly_pro_3em_emdata_status_and_notify_status_give_total_act_in_wh():
    status = b'{"id":0,"a_total_act_energy":0.06,"total_act":26289.57,"total_act_ret":131881.86}'
    assert shelly_message("pro3em/status/emdata:0", status, received_at=NOW) == AdaptedReading("pro3em", NOW, 26290)
    notify = shelly_message("pro3em/events/rpc", real("shelly_pro3em_notifystatus_emdata.json"), received_at=NOW)
    assert notify == AdaptedReading("pro3em", datetime.fromtimestamp(1757060280.21, tz=UTC), 26290)
    em1 = shelly_message("proem/events/rpc", real("shelly_pro3em_notifystatus_em1data.json"), received_at=NOW)
    assert em1.device == "proem:1" and em1.energy_wh == 0


def test_shelly_em_status_is_power_only():
    result = shelly_message("pro3em/status/em:0", b'{"id":0,"total_act_power":1234.5}', received_at=NOW)
    assert result == AdaptedReading("pro3em", NOW, None, 1234.5)


def test_shelly_online_topic_and_refusals():
    assert shelly_message("shelly1/online", b"true", received_at=NOW) == AdaptedStatus("shelly1", "online")
    assert shelly_message("shelly1/online", b"false", received_at=NOW) == AdaptedStatus("shelly1", "offline")
    assert shelly_message("shelly1/status/switch:0", b'{"id":0,"output":true}', received_at=NOW).reason == (
        "switch:0 has no aenergy.total (a switch without metering?)"
    )
    old = b'{"aenergy":{"total":1,"minute_ts":100}}'
    assert "the device clock is not set" in shelly_message("s/status/switch:0", old, received_at=NOW).reason
    assert shelly_message("s/status/sys", b"{}", received_at=NOW) is None


def test_esphome_bare_number_uses_the_sensor_unit_setting():
    units = {"athom_smart_plug_v2_total_energy": "kWh", "energy_wh": "Wh", "power": "W"}
    result = esphome_message(
        "plug/sensor/athom_smart_plug_v2_total_energy/state",
        real("esphome_total_energy_state.txt"),
        received_at=NOW,
        units=units,
    )
    assert result == AdaptedReading("plug", NOW, 1234)
    assert esphome_message("plug/sensor/energy_wh/state", b"1234", received_at=NOW, units=units).energy_wh == 1234
    assert esphome_message("plug/sensor/power/state", b"56.5", received_at=NOW, units=units).power_w == 56.5


def test_esphome_sensor_without_a_unit_is_refused_saying_what_to_set():
    result = esphome_message("plug/sensor/mystery/state", b"1", received_at=NOW, units={})
    assert result == Refusal("plug", "sensor 'mystery' has no unit set (Wh, kWh or W); set it for this device")


def test_esphome_status_topic_and_the_adapter_table():
    assert esphome_message("plug/status", b"offline", received_at=NOW, units={}) == AdaptedStatus("plug", "offline")
    assert esphome_message("plug/status", b"rebooting", received_at=NOW, units={}).reason.startswith(
        "status payload 'rebooting'"
    )
    assert set(ADAPTERS) == {"tasmota", "shelly", "esphome"}
