"""Reading one message without a database: topic and payload to a reading, a status or a
refusal naming the problem (telemetry/messages.py)."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from telemetry import messages
from telemetry.messages import MalformedIn, MessageError, ReadingIn, StatusIn, message_parse, message_prepare

AT = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _prefix(settings):
    settings.MQTT_TOPIC_PREFIX = "autovolt"
    settings.TELEMETRY_TIME_ZONE = "Asia/Kolkata"


def parse(topic: str, payload: bytes | dict) -> ReadingIn | StatusIn:
    body = json.dumps(payload).encode() if isinstance(payload, dict) else payload
    return message_parse(topic=topic, payload=body, received_at=AT)


def test_a_telemetry_message_becomes_a_reading_with_every_field():
    reading = parse(
        "autovolt/lab-1/telemetry",
        {
            "energy_wh_total": 1235.0,
            "power_w": 40,
            "ts": "2026-03-01T05:59:00Z",
            "seq": 7,
            "boot_id": "b1",
            "switch_state": "on",
        },
    )
    assert reading == ReadingIn(
        device="lab-1",
        ts=AT - timedelta(minutes=1),
        received_at=AT,
        energy_wh=1235,
        power_w=40.0,
        switch_state="on",
        seq=7,
        boot_id="b1",
    )


def test_a_naive_time_is_read_in_the_telemetry_time_zone_and_epoch_milliseconds_as_seconds():
    local = parse("autovolt/m1/telemetry", {"energy_wh_total": 1, "ts": "2026-03-01T11:30:00"})
    assert local.ts == AT  # 11:30 in Kolkata (+05:30)
    assert parse("autovolt/m1/telemetry", {"energy_wh_total": 1, "ts": AT.timestamp() * 1000}).ts == AT


def test_status_and_heartbeat_messages_become_statuses():
    assert parse("autovolt/m1/status", b" Offline ") == StatusIn("m1", AT, "offline")
    assert parse("autovolt/m1/status", {"status": "online"}) == StatusIn("m1", AT, "online")
    assert parse("autovolt/m1/heartbeat", b"{}") == StatusIn("m1", AT, None)


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("other/m1/telemetry", {"energy_wh_total": 1}, "topic is not autovolt/<device>/(telemetry|status|heartbeat)"),
        ("autovolt/m1/telemetry", b"{not json", "telemetry payload is not JSON"),
        ("autovolt/m1/telemetry", b"[" * 100_000, "telemetry payload is nested too deeply"),
        ("autovolt/m1/telemetry", {"power_w": 3}, "energy_wh_total is required"),
        ("autovolt/m1/telemetry", {"energy_wh_total": -1}, "energy_wh_total must not be negative"),
        (
            "autovolt/m1/telemetry",
            {"energy_wh_total": 10**13},
            "energy_wh_total is too large (at most 1000000000000 Wh)",
        ),
        ("autovolt/m1/telemetry", {"energy_wh_total": True}, "energy_wh_total must be a number, got True"),
        ("autovolt/m1/telemetry", {"energy_wh_total": 1, "seq": 2**70}, "seq is out of range"),
        ("autovolt/m1/telemetry", {"energy_wh_total": 1, "boot_id": "a\x00b"}, "boot_id contains a NUL character"),
        (
            "autovolt/m1/telemetry",
            {"energy_wh_total": 1, "ts": 0},
            "ts 1970-01-01T00:00:00+00:00 is before 2000-01-01: the device clock is not set",
        ),
        (
            "autovolt/m1/telemetry",
            {"energy_wh_total": 1, "ts": "2026-03-03T06:00:00Z"},
            "ts 2026-03-03T06:00:00+00:00 is more than a day after it was received",
        ),
        ("autovolt/m1/status", b"sleeping", "status must be online or offline"),
        (f"autovolt/{'d' * 121}/telemetry", {"energy_wh_total": 1}, "device name longer than 120 characters"),
    ],
)
def test_a_message_that_cannot_be_read_is_refused_naming_the_problem(topic, payload, reason):
    with pytest.raises(MessageError) as refused:
        parse(topic, payload)
    assert str(refused.value) == reason


def test_prepare_keeps_a_refused_message_as_malformed_with_its_reason_and_never_raises(monkeypatch):
    kept = message_prepare("autovolt/m1/telemetry", b"{}", AT)
    assert kept == MalformedIn("autovolt/m1/telemetry", b"{}", AT, "energy_wh_total is required")

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(messages, "message_parse", broken)
    assert message_prepare("autovolt/m1/telemetry", b"{}", AT).error == "unreadable (RuntimeError)"
