"""Reading messages: what the subscriber's network thread makes of each one, and a batch with
bad messages in it."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import OperationalError
from django.db.models import Sum

from telemetry import ingest, messages
from telemetry.models import (
    CostVersion,
    Device,
    LedgerEntry,
    MalformedMessage,
    RawEvent,
)

AT = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


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
        "energy_wh_total is too large (at most 1000000000000 Wh)",
        "seq is out of range",
    ]
    assert LedgerEntry.objects.current().get().delta_wh == 20


def test_prepare_never_raises_and_keeps_what_it_could_not_foresee(db, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(messages, "message_parse", broken)
    prepared = messages.message_prepare(*message("m1", energy_wh_total=1))
    assert isinstance(prepared, messages.MalformedIn) and prepared.error == "unreadable (RuntimeError)"
    ingest.prepared_record([prepared])
    assert MalformedMessage.objects.get().error == "unreadable (RuntimeError)" and not RawEvent.objects.exists()


def test_prepared_batch_keeps_message_order_for_device_state(db):
    items = [
        messages.message_prepare(f"autovolt/m2/{kind}", payload, AT)
        for kind, payload in [
            ("telemetry", b'{"energy_wh_total": 5, "power_w": 40}'),
            ("status", b"offline"),
            ("heartbeat", b"{}"),
        ]
    ]
    assert [type(i).__name__ for i in items] == ["ReadingIn", "StatusIn", "StatusIn"]
    ingest.prepared_record(items)
    device = Device.objects.get(name="m2")
    assert (device.status, device.last_power_w, device.last_heartbeat_at) == ("offline", 40, AT)


T0 = datetime(2026, 3, 1, 5, 0, tzinfo=UTC)


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
                    items.append(messages.ReadingIn(name, at(minute), at(minute), 10 * minute, power_w=None))
                else:
                    items.append(messages.StatusIn(name, at(minute), None if kind == "heartbeat" else kind))
            news = ingest.devices_news(items, {name: Device.objects.get(name=name).pk})
            if name.startswith("sql"):
                ingest.devices_news_apply(news)
            else:
                [(pk, one)] = news.items()
                ingest.device_news_apply_one(pk, one)
        for device in Device.objects.filter(name__in=names):
            expected_at = T0 if status_minute is None else at(status_minute)
            assert (device.status, device.status_at) == (status, expected_at), (device.name, sent)
            assert device.last_seen_at == late_seen and device.last_power_w == 7
            readings = [m for kind, m in sent if kind == "reading"]
            assert device.last_reading_at == (at(readings[-1]) if readings else None)


def reading_message(device: str, minute: int, wh: int, **fields) -> tuple[str, bytes, datetime]:
    return message(device, energy_wh_total=wh, ts=(AT + timedelta(minutes=minute)).isoformat(), **fields)


def test_a_batch_the_database_refuses_is_stored_one_by_one_and_the_refused_message_kept_with_its_reason(db, settings):
    # At an absurd price two counter jumps of 10^12 Wh in one day cost 2 x 10^15, past the daily
    # total's numeric(24, 9): the batch insert fails in PostgreSQL, after every check at reading.
    # The jumps must count as consumption for that, so the plausible power is raised past them.
    settings.TELEMETRY_MAX_POWER_W = 10**18
    CostVersion.objects.create(cost_per_kwh=Decimal(999999), effective_from=AT - timedelta(days=30))
    batch = [
        reading_message("good", 0, 100),
        reading_message("huge", 0, 0, boot_id="a"),
        reading_message("huge", 1, 10**12, boot_id="a"),
        reading_message("good", 1, 110),
        reading_message("huge", 2, 0, boot_id="b"),
        reading_message("huge", 3, 10**12, boot_id="b"),
        reading_message("good", 2, 125),
    ]
    result = ingest.messages_record(batch)
    assert (result.stored, result.malformed) == (6, 1)
    kept = MalformedMessage.objects.get()
    assert kept.error.startswith("not stored: numeric field overflow") and json.loads(kept.payload)["boot_id"] == "b"
    assert kept.topic == "autovolt/huge/telemetry"
    assert sum(e.delta_wh for e in LedgerEntry.objects.current().filter(device__name="good")) == 25
    assert RawEvent.objects.filter(device__name="huge").count() == 3


def test_text_the_database_cannot_hold_is_kept_as_malformed_when_it_slips_past_reading(db, monkeypatch):
    monkeypatch.setattr(messages, "text_field", lambda value, name, limit: str(value or ""))
    batch = [message("m1", energy_wh_total=1, boot_id="a\x00b"), message("m1", energy_wh_total=2, boot_id="a")]
    result = ingest.messages_record(batch)
    assert (result.stored, result.malformed) == (1, 1)
    assert MalformedMessage.objects.get().error == "not stored: PostgreSQL text fields cannot contain NUL (0x00) bytes"
    assert RawEvent.objects.get().boot_id == "a"


def test_a_database_fault_is_raised_for_the_batch_to_be_retried_and_nothing_is_kept(db, monkeypatch):
    def down(items, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(ingest, "items_record", down)
    with pytest.raises(OperationalError):
        ingest.messages_record([message("m1", energy_wh_total=1), message("m1", energy_wh_total=2, boot_id="\x00")])
    assert not MalformedMessage.objects.exists()


def test_a_malformed_message_with_nul_bytes_and_bad_utf8_is_kept_readably(db):
    ingest.messages_record([("autovolt/m1/status", b"\x00onl\xffine", AT), message("m1", energy_wh_total=3)])
    kept = MalformedMessage.objects.get()
    assert (kept.payload, kept.error) == ("\ufffdonl\ufffdine", "status must be online or offline")
    assert RawEvent.objects.get().energy_wh == 3


def test_refused_messages_in_a_large_batch_are_isolated_in_few_attempts_keeping_message_order(db, monkeypatch):
    monkeypatch.setattr(messages, "text_field", lambda value, name, limit: str(value or ""))
    attempts = []
    record = ingest.items_record
    monkeypatch.setattr(ingest, "items_record", lambda items, **kw: attempts.append(len(items)) or record(items, **kw))
    batch = [reading_message("m1", i, 10 * i, power_w=i, boot_id="\x00" if i in (5, 40) else "") for i in range(64)]
    result = ingest.messages_record(batch)
    assert (result.stored, result.malformed) == (62, 2)
    assert len(attempts) < 30 and attempts[0] == 64
    assert [json.loads(m.payload)["power_w"] for m in MalformedMessage.objects.order_by("id")] == [5, 40]
    assert LedgerEntry.objects.current().aggregate(s=Sum("delta_wh"))["s"] == 630
    assert Device.objects.get(name="m1").last_power_w == 63  # the last message's word still wins
