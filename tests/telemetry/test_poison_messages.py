"""Bad messages through the real subscriber on a real Mosquitto, published in one batch with
good ones: each bad one is kept as a malformed record with its reason and nothing else comes of
it; the good ones around it reach the ledger; nothing is retried for ever."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import paho.mqtt.client as mqtt
import pytest
from django.db.models import Sum
from paho.mqtt.enums import CallbackAPIVersion

from telemetry.models import (
    CostVersion,
    Device,
    LedgerEntry,
    MalformedMessage,
    RawEvent,
)
from tests.telemetry.conftest import connected, subscriber_running, wait_until
from tests.telemetry.corpus import BAD_PAYLOADS, BAD_READINGS


@pytest.fixture
def slow_subscriber(transactional_db, broker, prefix, tmp_path):
    """A subscriber whose batches wait 1.5 s: what a test publishes at once lands in one batch. The
    plausible power is raised so that counter jumps of 10^12 Wh a minute count (and overflow)."""
    with subscriber_running(
        broker.url, prefix, tmp_path / "subscriber.log", TELEMETRY_BATCH_MS="1500", TELEMETRY_MAX_POWER_W=str(10**18)
    ) as sub:
        connected(sub)
        yield sub


def publish_all(broker, prefix: str, messages: list[tuple[str, bytes]]) -> None:
    """QoS 1 from one paho client, in order, waiting until the broker has taken each."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{prefix}-pub")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        for info in [client.publish(f"{prefix}/{topic}", payload, qos=1) for topic, payload in messages]:
            info.wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def good(minute: int) -> tuple[str, bytes]:
    return "good-1/telemetry", json.dumps(
        {"energy_wh_total": 100 + 10 * minute, "ts": 1772344800 + 60 * minute}
    ).encode()


def test_each_bad_message_is_kept_with_its_reason_and_the_good_ones_around_it_are_stored(
    slow_subscriber, broker, prefix
):
    bad = [(f"bad-{n}/telemetry", fields.encode(), reason) for n, (fields, reason) in enumerate(BAD_READINGS)]
    bad += [(f"bad-p{n}/telemetry", payload, reason) for n, (payload, reason) in enumerate(BAD_PAYLOADS)]
    bad.append(("bad-s/status", b"\x00online", "status must be online or offline"))
    messages = [good(0)]
    for minute, (topic, payload, _) in enumerate(bad, start=1):
        messages += [(topic, payload), good(minute)]
    publish_all(broker, prefix, messages)
    wait_until(
        lambda: MalformedMessage.objects.count() == len(bad) and RawEvent.objects.count() == len(bad) + 1,
        30,
        "the batch stored",
    )
    kept = {m.topic: m.error for m in MalformedMessage.objects.all()}
    for topic, _, reason in bad:
        assert reason in kept[f"{prefix}/{topic}"], (topic, kept[f"{prefix}/{topic}"])
    assert list(Device.objects.values_list("name", flat=True)) == ["good-1"]  # nothing came of a bad message
    assert LedgerEntry.objects.current().aggregate(s=Sum("delta_wh"))["s"] == 10 * len(bad)
    assert "retrying" not in slow_subscriber.log_path.read_text()


def test_a_message_the_database_refuses_is_kept_with_its_reason_and_never_sent_again(slow_subscriber, broker, prefix):
    # At an absurd price, two counter jumps of 10^12 Wh in a day cost more than the daily total's
    # numeric(24, 9) holds: every check at reading passes and the batch insert fails. This wedged
    # the subscriber: it retried the batch every 2 s for ever and stored nothing else.
    CostVersion.objects.create(cost_per_kwh=Decimal(999999), effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    huge = [
        json.dumps({"energy_wh_total": wh, "boot_id": boot, "ts": 1772344800 + 60 * minute}).encode()
        for minute, (wh, boot) in enumerate([(0, "a"), (10**12, "a"), (0, "b"), (10**12, "b")])
    ]
    messages = [good(0), *[("huge/telemetry", payload) for payload in huge], good(1), good(2)]
    publish_all(broker, prefix, messages)
    wait_until(lambda: MalformedMessage.objects.exists() and RawEvent.objects.count() == 6, 30, "the batch stored")
    kept = MalformedMessage.objects.get()
    assert kept.topic == f"{prefix}/huge/telemetry" and kept.error.startswith("not stored: numeric field overflow")
    assert json.loads(kept.payload) == json.loads(huge[3])
    assert LedgerEntry.objects.current().filter(device__name="good-1").aggregate(s=Sum("delta_wh"))["s"] == 20
    # Acknowledged once kept: after a restart the broker has nothing of it to send again.
    assert slow_subscriber.stop() == 0
    slow_subscriber.start()
    connected(slow_subscriber)
    publish_all(broker, prefix, [good(3)])
    wait_until(lambda: RawEvent.objects.count() == 7, 30, "the reading after the restart")
    assert MalformedMessage.objects.count() == 1
    assert "isolating the ones at fault" in slow_subscriber.log_path.read_text()
