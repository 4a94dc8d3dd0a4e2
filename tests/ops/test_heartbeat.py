"""The subscriber monitor knows whether the subscriber process runs and is connected."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ops.heartbeat import SUBSCRIBER, heartbeat_beat
from ops.models import Heartbeat
from telemetry.models import Device
from tests.ops.conftest import state
from tests.telemetry.conftest import broker, prefix, subscriber_running, wait_until  # noqa: F401 - fixtures


@pytest.fixture
def mqtt_on(settings):
    settings.MQTT_URL = "mqtt://127.0.0.1:1883"


@pytest.mark.django_db
def test_a_connected_subscriber_is_up_and_one_that_stopped_beating_is_down(check, mqtt_on):
    Device.objects.create(name="esp-1", last_seen_at=timezone.now())
    heartbeat_beat(name=SUBSCRIBER, connected=True, detail="connected to 127.0.0.1:1883")
    assert check("subscriber") == [] and state("subscriber", "mqtt") == "up"
    [down] = check("subscriber", minutes=4)
    assert down.state == "down" and "no heartbeat since" in down.evidence and "not running" in down.evidence


@pytest.mark.django_db
def test_a_disconnected_subscriber_is_late_then_down_with_the_reason(check, mqtt_on):
    Device.objects.create(name="esp-1", last_seen_at=timezone.now())
    heartbeat_beat(name=SUBSCRIBER, connected=True)
    heartbeat_beat(name=SUBSCRIBER, connected=False, detail="disconnected: Unspecified error")
    [late] = check("subscriber", minutes=1)
    assert (
        late.state == "late"
        and "disconnected from the broker since" in late.evidence
        and "Unspecified error" in late.evidence
    )
    heartbeat_beat(name=SUBSCRIBER, connected=False, now=timezone.now() + timedelta(minutes=11))
    assert check("subscriber", minutes=11)[0].state == "down"


@pytest.mark.django_db
def test_a_connected_subscriber_hearing_nothing_is_late_not_down(check, mqtt_on):
    Device.objects.create(name="esp-1", last_seen_at=timezone.now() - timedelta(hours=3))
    heartbeat_beat(name=SUBSCRIBER, connected=True)
    [late] = check("subscriber")
    assert late.state == "late" and late.evidence.startswith("connected since")


@pytest.mark.django_db
def test_connected_changes_move_since_but_a_beat_does_not():
    start = timezone.now()
    heartbeat_beat(name=SUBSCRIBER, connected=True, now=start)
    heartbeat_beat(name=SUBSCRIBER, connected=True, now=start + timedelta(minutes=1))
    beat = Heartbeat.objects.get()
    assert beat.since == start and beat.at == start + timedelta(minutes=1)
    heartbeat_beat(name=SUBSCRIBER, connected=False, now=start + timedelta(minutes=2))
    assert Heartbeat.objects.get().since == start + timedelta(minutes=2)


def test_the_real_subscriber_beats_on_connect_and_on_stop(transactional_db, broker, prefix, tmp_path):
    # Generous waits: a process start on a busy two-core machine takes seconds.
    with subscriber_running(broker.url, prefix, tmp_path / "subscriber.log", TELEMETRY_WRITERS="0"):
        beat = wait_until(
            lambda: Heartbeat.objects.filter(name=SUBSCRIBER, connected=True).first(), 60, "a connected heartbeat"
        )
        assert f"connected to 127.0.0.1:{broker.port}" in beat.detail
        broker.stop()
        wait_until(
            lambda: Heartbeat.objects.filter(name=SUBSCRIBER, connected=False).exists(), 60, "a disconnected heartbeat"
        )
        assert "disconnected" in Heartbeat.objects.get(name=SUBSCRIBER).detail
        broker.start()
        wait_until(
            lambda: Heartbeat.objects.filter(name=SUBSCRIBER, connected=True).exists(), 60, "a reconnected heartbeat"
        )
    assert Heartbeat.objects.get(name=SUBSCRIBER).detail == "stopped"
