"""Reading messages: what the subscriber's network thread makes of each one, and a batch with
bad messages in it."""

import json
from datetime import datetime, timezone

from telemetry import ingest
from telemetry.models import Device, LedgerEntry, MalformedMessage, RawEvent

AT = datetime(2026, 3, 1, 6, 0, tzinfo=timezone.utc)


def message(device: str, **fields) -> tuple[str, bytes, datetime]:
    return f"autovolt/{device}/telemetry", json.dumps(fields).encode(), AT


def test_out_of_range_numbers_are_malformed_and_the_rest_of_the_batch_is_stored(db):
    # In the batch insert a counter past bigint would fail every message of the batch, and the
    # subscriber would retry that batch for ever.
    batch = [
        message("m1", energy_wh_total=100, ts=1772344800, seq=1),
        message("m1", energy_wh_total=1e30, ts=1772344860, seq=2),
        message("m1", energy_wh_total=110, ts=1772344920, seq=2**70),
        message("m1", energy_wh_total=120, ts=1772344980, seq=3),
    ]
    result = ingest.messages_record(batch)
    assert (result.stored, result.malformed) == (2, 2)
    assert sorted(MalformedMessage.objects.values_list("error", flat=True)) == [
        "energy_wh_total is too large", "seq is out of range"]
    assert LedgerEntry.objects.current().get().delta_wh == 20


def test_prepare_never_raises_and_keeps_what_it_could_not_foresee(db, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(ingest, "message_parse", broken)
    prepared = ingest.message_prepare(*message("m1", energy_wh_total=1))
    assert isinstance(prepared, ingest.MalformedIn) and prepared.error == "unreadable (RuntimeError)"
    ingest.prepared_record([prepared])
    assert MalformedMessage.objects.get().error == "unreadable (RuntimeError)" and not RawEvent.objects.exists()


def test_prepared_batch_keeps_message_order_for_device_state(db):
    items = [ingest.message_prepare(f"autovolt/m2/{kind}", payload, AT) for kind, payload in
             [("telemetry", b'{"energy_wh_total": 5, "power_w": 40}'), ("status", b"offline"), ("heartbeat", b"{}")]]
    assert [type(i).__name__ for i in items] == ["ReadingIn", "StatusIn", "StatusIn"]
    ingest.prepared_record(items)
    device = Device.objects.get(name="m2")
    assert (device.status, device.last_power_w, device.last_heartbeat_at) == ("offline", 40, AT)
