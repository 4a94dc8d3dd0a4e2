"""Two subscribers in one MQTT_SHARED_GROUP, each with its writer processes, on a real Mosquitto:
the broker hands each message to one of them, so one device's readings arrive split across two
processes and commit in either order. The ledger and the daily totals must come out exactly as
one subscriber makes them from the same stream."""

import json
import random
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from telemetry.models import DailyTotal, LedgerEntry, RawEvent
from tests.telemetry.conftest import SubscriberProcess, connected, wait_until

DEVICES = 30
READINGS = 40
# 23:00 in Asia/Kolkata (the subscribers' TELEMETRY_TIME_ZONE): each device's readings cross a
# local midnight, so every device has two daily totals that the ledger entries must split right.
START = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)


def stream(run: str) -> list[tuple[str, dict]]:
    """(device, payload) for every reading, devices interleaved as they would arrive. Each device
    has a 20-minute gap, a reboot (new boot_id, counter from zero) and one retransmission."""
    rng = random.Random(12)
    per_device = []
    for n in range(DEVICES):
        device, counter, boot, seq, minute, readings = f"{run}-dev{n:02d}", rng.randrange(10_000), "b1", 0, 0, []
        for i in range(READINGS):
            minute += 20 if i == 15 else 2
            if i == 25:
                counter, boot, seq = 0, "b2", 0
            counter += rng.randrange(0, 60)
            seq += 1
            ts = int((START + timedelta(minutes=minute)).timestamp())
            readings.append((device, {"energy_wh_total": counter, "ts": ts, "seq": seq, "boot_id": boot}))
        readings.insert(30, readings[28])  # a QoS 1 retransmission: the same reading twice
        per_device.append(readings)
    return [reading for group in zip(*per_device, strict=True) for reading in group]


def publish(broker, prefix: str, readings: list[tuple[str, dict]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{prefix}-pub", clean_session=True)
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        infos = [
            client.publish(f"{prefix}/{device}/telemetry", json.dumps(payload), qos=1) for device, payload in readings
        ]
        for info in infos:
            info.wait_for_publish(30)
    finally:
        client.disconnect()
        client.loop_stop()


def settled(run: str) -> bool:
    """Every distinct reading of the run stored, and every stored reading derived into the ledger."""
    events = RawEvent.objects.filter(device__name__startswith=f"{run}-")
    return events.count() == DEVICES * READINGS and not events.filter(processed=False).exists()


def outcome(run: str) -> dict:
    """The run's ledger and daily totals, keyed by the device's number (the run's prefix removed)."""
    number = lambda name: name.split("-dev")[1]  # noqa: E731
    ledger = LedgerEntry.objects.current().filter(device__name__startswith=f"{run}-").order_by("device__name", "end_ts")
    totals = DailyTotal.objects.filter(device__name__startswith=f"{run}-").order_by("device__name", "day")
    return {
        "ledger": [
            (number(e.device.name), e.start_ts, e.end_ts, e.start_wh, e.end_wh, e.delta_wh, e.kind, e.confidence)
            for e in ledger.select_related("device")
        ],
        "totals": [(number(t.device.name), t.day, t.wh, t.cost) for t in totals.select_related("device")],
    }


def test_two_subscribers_in_a_shared_group_make_the_same_ledger_and_totals_as_one(subscriber, broker, prefix, tmp_path):
    connected(subscriber)
    publish(broker, prefix, stream("one"))
    wait_until(lambda: settled("one"), 60, "the single subscriber's readings")
    assert subscriber.stop() == 0

    shared = [SubscriberProcess(broker.url, prefix, tmp_path / f"shared-{n}.log") for n in range(2)]
    for n, sub in enumerate(shared):
        sub.env.update(MQTT_SHARED_GROUP="wl", MQTT_CLIENT_ID=f"{prefix}-shared-{n}", TELEMETRY_WRITERS="2")
        sub.start()
    try:
        for sub in shared:
            connected(sub)
        publish(broker, prefix, stream("two"))
        wait_until(lambda: settled("two"), 60, "the shared group's readings")
        time.sleep(0.5)  # a late duplicate would land now and count twice
    finally:
        stopped = [sub.stop() for sub in shared]
    assert stopped == [0, 0]

    one, two = outcome("one"), outcome("two")
    assert len(one["ledger"]) == DEVICES * (READINGS - 1) and len(one["totals"]) == DEVICES * 2
    assert {entry[6] for entry in one["ledger"]} >= {"normal", "gap", "reset"}
    assert two["ledger"] == one["ledger"]
    assert two["totals"] == one["totals"]
    assert sum(t[2] for t in two["totals"]) == sum(e[5] for e in one["ledger"]) > 0
