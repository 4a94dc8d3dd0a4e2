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


T0 = datetime(2026, 3, 1, 5, 0, tzinfo=timezone.utc)


def at(minute: int) -> datetime:
    return AT.replace(minute=minute)


SCENARIOS = [
    # (stored status, messages as (kind, minute)) -> (status, status_at minute or None for T0)
    ("online", [("reading", 1)], ("online", None)),
    ("offline", [("reading", 1), ("reading", 2)], ("online", 1)),
    ("online", [("offline", 1)], ("offline", 1)),
    ("offline", [("offline", 1), ("reading", 2)], ("online", 2)),
    ("unknown", [("heartbeat", 1)], ("unknown", None)),
    ("online", [("reading", 1), ("offline", 2), ("reading", 3)], ("online", 3)),
    ("offline", [("online", 1), ("reading", 2)], ("online", 1)),
    ("unknown", [("reading", 1), ("offline", 2)], ("offline", 2)),
]


def test_device_state_rules_hold_in_the_single_update_and_device_by_device(db):
    """The batch's news merges into stored state in SQL (PostgreSQL) and in Python (SQLite):
    both give the same, expected state."""
    for number, (stored, sent, (status, status_minute)) in enumerate(SCENARIOS):
        names = [f"sql-{number}", f"py-{number}"]
        late_seen = at(30)  # a later time already stored must not move back
        for name in names:
            Device.objects.create(name=name, status=stored, status_at=T0, last_seen_at=late_seen, last_power_w=7)
        for name in names:
            items = []
            for kind, minute in sent:
                if kind == "reading":
                    items.append(ingest.ReadingIn(name, at(minute), at(minute), 10 * minute, power_w=None))
                else:
                    items.append(ingest.StatusIn(name, at(minute), None if kind == "heartbeat" else kind))
            news = ingest.devices_news(items, {name: Device.objects.get(name=name).pk})
            if name.startswith("sql"):
                ingest.devices_news_apply(news)
            else:
                [(pk, one)] = news.items()
                ingest._device_news_apply_one(pk, one)
        for device in Device.objects.filter(name__in=names):
            expected_at = T0 if status_minute is None else at(status_minute)
            assert (device.status, device.status_at) == (status, expected_at), (device.name, sent)
            assert device.last_seen_at == late_seen and device.last_power_w == 7
            readings = [m for kind, m in sent if kind == "reading"]
            assert device.last_reading_at == (at(readings[-1]) if readings else None)
