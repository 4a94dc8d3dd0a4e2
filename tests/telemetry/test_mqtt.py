"""The subscriber against a real Mosquitto: mosquitto_pub and paho publishers, broker restarts,
a subscriber that was down, SIGTERM."""

import json
import time

import paho.mqtt.client as mqtt
import pytest
from django.db.models import Sum
from paho.mqtt.enums import CallbackAPIVersion

from telemetry.models import Device, LedgerEntry, MalformedMessage, RawEvent
from tests.telemetry.conftest import connected, wait_until


def paho_publisher(broker, client_id: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.reconnect_delay_set(min_delay=0.2, max_delay=1)
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


def test_mosquitto_pub_messages_are_stored_and_bad_ones_kept(subscriber, broker, prefix):
    connected(subscriber)
    broker.pub(f"{prefix}/esp-1/status", "online")
    broker.pub(
        f"{prefix}/esp-1/telemetry", json.dumps({"energy_wh_total": 1000, "ts": "2026-03-01T06:00:00Z", "power_w": 120})
    )
    broker.pub(f"{prefix}/esp-1/telemetry", json.dumps({"energy_wh_total": 1012, "ts": 1772344860}))
    broker.pub(f"{prefix}/esp-1/heartbeat", "{}")
    broker.pub(f"{prefix}/esp-1/telemetry", "not json")
    broker.pub(f"{prefix}/esp-1/telemetry", json.dumps({"power_w": 5}))
    wait_until(lambda: MalformedMessage.objects.count() == 2, what="two malformed messages")
    wait_until(lambda: Device.objects.filter(name="esp-1", last_heartbeat_at__isnull=False).exists(), what="heartbeat")
    device = Device.objects.get(name="esp-1")
    assert device.status == "online" and device.location is None  # registered, unassigned
    assert RawEvent.objects.count() == 2
    assert LedgerEntry.objects.current().get().delta_wh == 12
    assert {m.error for m in MalformedMessage.objects.all()} == {
        "telemetry payload is not JSON",
        "energy_wh_total is required",
    }
    broker.pub(f"{prefix}/esp-1/status", '{"status": "offline"}')
    wait_until(lambda: Device.objects.get(name="esp-1").status == "offline", what="last will")


@pytest.mark.parametrize("mqtt_protocol", ["3.1.1", "5"])
def test_broker_restart_mid_stream_loses_nothing_and_counts_nothing_twice(subscriber, broker, prefix):
    connected(subscriber)
    publisher = paho_publisher(broker, f"{prefix}-pub")
    total = 300
    for seq in range(total):
        payload = json.dumps({"energy_wh_total": 10 * seq, "ts": 1772344800 + seq * 10, "seq": seq, "boot_id": "b1"})
        publisher.publish(f"{prefix}/esp-r/telemetry", payload, qos=1)
        if seq == 150:
            broker.stop()
            time.sleep(1)
            broker.start()
        time.sleep(0.005)
    wait_until(lambda: RawEvent.objects.count() == total, 40, f"{total} readings")
    publisher.loop_stop()
    time.sleep(1)  # redeliveries after the restart, if any, arrive and are dropped
    assert RawEvent.objects.count() == total
    assert LedgerEntry.objects.current().aggregate(s=Sum("delta_wh"))["s"] == 10 * (total - 1)
    assert LedgerEntry.objects.current().count() == total - 1


@pytest.mark.parametrize(("mqtt_protocol", "writers"), [("3.1.1", "2"), ("5", "1"), ("3.1.1", "0")])
def test_backlog_published_while_the_subscriber_was_down_arrives(subscriber, broker, prefix, mqtt_protocol, writers):
    connected(subscriber)
    said = {"0": "no writer processes", "1": "1 writer process", "2": "2 writer processes"}[writers]
    assert f"(MQTT {mqtt_protocol}, persistent session, {said})" in subscriber.log_path.read_text()
    broker.pub(f"{prefix}/esp-b/telemetry", json.dumps({"energy_wh_total": 0, "ts": 1772344800, "seq": 0}))
    wait_until(lambda: RawEvent.objects.count() == 1, what="first reading")
    assert subscriber.stop() == 0  # SIGTERM: clean exit
    assert "buffered readings stored" in subscriber.log_path.read_text()
    for seq in range(1, 21):
        broker.pub(
            f"{prefix}/esp-b/telemetry",
            json.dumps({"energy_wh_total": seq * 5, "ts": 1772344800 + seq * 60, "seq": seq}),
        )
    subscriber.start()
    wait_until(lambda: RawEvent.objects.count() == 21, 30, "the backlog")
    assert LedgerEntry.objects.current().aggregate(s=Sum("delta_wh"))["s"] == 100


def test_broker_url_with_credentials_and_tls_and_shared_group_filters():
    from telemetry.mqtt import broker_config, topic_filters

    config = broker_config("mqtts://meter%40site:p%3Ass@broker.example:8884", client_id="wl-1")
    assert (config.host, config.port, config.tls, config.username, config.password) == (
        "broker.example",
        8884,
        True,
        "meter@site",
        "p:ss",
    )
    assert broker_config("mqtt://10.0.0.5", client_id="x").port == 1883
    assert topic_filters("autovolt", "ingest") == [
        "$share/ingest/autovolt/+/telemetry",
        "$share/ingest/autovolt/+/status",
        "$share/ingest/autovolt/+/heartbeat",
    ]


def test_a_malformed_broker_url_is_refused_without_its_password():
    from telemetry.mqtt import broker_config

    with pytest.raises(ValueError, match="http://meter:\\*\\*\\*@broker.example") as refused:
        broker_config("http://meter:hunter2@broker.example", client_id="wl-1")
    assert "hunter2" not in str(refused.value)


def test_two_subscribers_in_a_shared_group_store_each_reading_once(subscriber, broker, prefix, tmp_path):
    from tests.telemetry.conftest import SubscriberProcess

    subscriber.stop()
    subs = []
    for n in range(2):
        sub = SubscriberProcess(broker.url, prefix, tmp_path / f"shared-{n}.log")
        sub.env.update(MQTT_SHARED_GROUP="wl", MQTT_CLIENT_ID=f"{prefix}-shared-{n}")
        sub.start()
        subs.append(sub)
    try:
        for sub in subs:
            connected(sub)
        publisher = paho_publisher(broker, f"{prefix}-pub")
        for seq in range(200):
            payload = json.dumps({"energy_wh_total": seq * 2, "ts": 1772344800 + seq * 10, "seq": seq})
            publisher.publish(f"{prefix}/esp-{seq % 4}/telemetry", payload, qos=1)
        wait_until(lambda: RawEvent.objects.count() == 200, 30, "200 readings")
        publisher.loop_stop()
        assert Device.objects.count() == 4 and sum(d.duplicates for d in Device.objects.all()) == 0
        assert LedgerEntry.objects.current().count() == 196
    finally:
        for sub in subs:
            assert sub.stop() == 0


def writer_pids(subscriber) -> list[int]:
    """The subscriber's writer processes (multiprocessing also starts a resource tracker)."""
    import os

    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            cmdline = open(f"/proc/{pid}/cmdline").read()
        except OSError:
            continue
        if int(stat[1]) == subscriber.proc.pid and "spawn_main" in cmdline:
            found.append(int(pid))
    return found


def test_a_writer_process_that_dies_is_replaced_and_nothing_is_lost(subscriber, broker, prefix):
    import os
    import signal

    connected(subscriber)
    writers = wait_until(lambda: writer_pids(subscriber), what="the writer processes")
    assert len(writers) == 2
    os.kill(writers[0], signal.SIGKILL)
    for seq in range(10):
        for device in ("w1", "w2", "w3", "w4"):
            broker.pub(
                f"{prefix}/{device}/telemetry",
                json.dumps({"energy_wh_total": seq * 7, "ts": 1772344800 + seq * 60, "seq": seq}),
            )
    wait_until(lambda: RawEvent.objects.count() == 40, 40, "every reading after the writer died")
    assert LedgerEntry.objects.current().count() == 36
    log = subscriber.log_path.read_text()
    assert "storing" in log and "retrying" in log  # the part the dead writer could not take was retried
    assert len(writer_pids(subscriber)) == 2 and writers[0] not in writer_pids(subscriber)
    assert subscriber.stop() == 0 and not writer_pids(subscriber)
