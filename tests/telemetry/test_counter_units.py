"""The native format's counter: exact Wh, energy_kwh_total beside energy_wh_total, and each device's zone."""

import json
from datetime import UTC, datetime

import pytest

from telemetry import ingest
from telemetry.messages import MessageError, energy_total_wh, message_parse
from telemetry.models import Device, MalformedMessage, RawEvent

AT = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def parse(fields: dict, **device):
    return message_parse(topic="autovolt/m1/telemetry", payload=json.dumps(fields).encode(), received_at=AT, **device)


def test_energy_kwh_total_becomes_exact_wh():
    assert parse({"energy_kwh_total": 14.834}).energy_wh == 14834
    assert parse({"energy_kwh_total": 0.001}).energy_wh == 1
    assert parse({"energy_kwh_total": 123456789.123}).energy_wh == 123456789123
    assert parse({"energy_kwh_total": 2}).energy_wh == 2000


def test_a_kwh_total_with_a_fraction_of_a_wh_is_refused_not_rounded():
    with pytest.raises(MessageError, match=r"energy_kwh_total 14.8345 kWh is not a whole number of Wh"):
        parse({"energy_kwh_total": 14.8345})


def test_a_fractional_energy_wh_total_is_refused_naming_energy_kwh_total():
    # Tasmota's Total of 14.834 kWh sent as Wh used to become 15 Wh without a word.
    with pytest.raises(MessageError) as refused:
        parse({"energy_wh_total": 14.834})
    assert "energy_wh_total must be whole Wh, got 14.834: a kWh counter goes in energy_kwh_total" in str(refused.value)
    assert parse({"energy_wh_total": 15.0}).energy_wh == 15


def test_a_device_with_a_kwh_counter_has_its_energy_wh_total_read_as_kwh():
    assert parse({"energy_wh_total": 14.834}, counter_unit="kWh").energy_wh == 14834
    assert parse({"energy_kwh_total": 1.5}, counter_unit="kWh").energy_wh == 1500


def test_both_counters_or_a_negative_kwh_total_are_refused():
    with pytest.raises(MessageError, match="send energy_wh_total or energy_kwh_total, not both"):
        energy_total_wh({"energy_wh_total": 1, "energy_kwh_total": 0.001})
    with pytest.raises(MessageError, match="energy_kwh_total must not be negative"):
        energy_total_wh({"energy_kwh_total": -0.001})
    with pytest.raises(MessageError, match=r"energy_kwh_total is too large"):
        energy_total_wh({"energy_kwh_total": 10**10})


def test_a_zoneless_time_is_read_in_the_devices_zone_else_the_default():
    assert parse({"energy_wh_total": 1, "ts": "2026-03-01T00:00:00"}, time_zone="America/Chicago").ts == AT
    assert parse({"energy_wh_total": 1, "ts": "2026-03-01T11:30:00"}).ts == AT  # TELEMETRY_TIME_ZONE, Kolkata
    assert parse({"energy_wh_total": 1, "ts": "2026-03-01T06:00:00Z"}, time_zone="America/Chicago").ts == AT


def test_ingest_reads_each_device_with_its_own_zone_and_unit_and_keeps_refusals(db):
    Device.objects.create(name="chi", time_zone="America/Chicago", counter_unit="kWh")
    batch = [
        ("autovolt/chi/telemetry", json.dumps({"energy_wh_total": 1.25, "ts": "2026-03-01T00:00:00"}).encode(), AT),
        ("autovolt/kol/telemetry", json.dumps({"energy_wh_total": 1250, "ts": "2026-03-01T11:30:00"}).encode(), AT),
        ("autovolt/kol/telemetry", json.dumps({"energy_wh_total": 1250.5, "ts": "2026-03-01T11:31:00"}).encode(), AT),
    ]
    result = ingest.messages_record(batch)
    assert (result.stored, result.malformed) == (2, 1)
    assert set(RawEvent.objects.values_list("device__name", "energy_wh", "ts")) == {
        ("chi", 1250, AT),
        ("kol", 1250, AT),
    }
    assert MalformedMessage.objects.get().error.startswith("energy_wh_total must be whole Wh, got 1250.5")
