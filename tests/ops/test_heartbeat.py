"""The subscriber monitor knows whether the subscriber processes run and are connected: one
alone, or several in a shared MQTT group, each beating its own row."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ops.heartbeat import FORGET, STOPPED, SUBSCRIBER, heartbeat_beat, heartbeat_member_name, heartbeats_prune
from ops.models import Heartbeat
from telemetry.models import Device
from telemetry.monitors import subscriber as subscriber_observed
from tests.ops.conftest import state
from tests.telemetry.conftest import (  # noqa: F401 - fixtures
    SubscriberProcess,
    broker,
    prefix,
    subscriber_running,
    wait_until,
)


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


def member(name: str) -> str:
    return heartbeat_member_name(family=SUBSCRIBER, member=name)


@pytest.mark.django_db
def test_a_group_member_stopping_leaves_the_monitor_up_and_one_going_silent_makes_it_late(check, mqtt_on):
    Device.objects.create(name="esp-1", last_seen_at=timezone.now())
    heartbeat_beat(name=member("sub-a"), connected=True)
    heartbeat_beat(name=member("sub-b"), connected=True)
    heartbeat_beat(name=member("sub-b"), connected=False, detail=STOPPED)
    assert check("subscriber") == [] and state("subscriber", "mqtt") == "up"
    heartbeat_beat(name=member("sub-c"), connected=True, now=timezone.now() - timedelta(minutes=14))
    [late] = check("subscriber")
    assert late.state == "late" and late.evidence.startswith("1 of 3 subscribers connected (sub-a); sub-b: stopped")
    assert "sub-c: no heartbeat since" in late.evidence and late.evidence.endswith("threshold 10 min")


@pytest.mark.django_db
def test_rows_not_written_for_a_day_are_ignored_and_pruned(check, mqtt_on):
    Device.objects.create(name="esp-1", last_seen_at=timezone.now())
    long_ago = timezone.now() - FORGET - timedelta(minutes=1)
    heartbeat_beat(name=member("gone"), connected=True, now=long_ago)
    heartbeat_beat(name=SUBSCRIBER, connected=False, detail="disconnected: Unspecified error", now=long_ago)
    heartbeat_beat(name="another-process", connected=True, now=long_ago)
    heartbeat_beat(name=member("sub-a"), connected=True)
    assert check("subscriber") == [] and state("subscriber", "mqtt") == "up"
    assert heartbeats_prune(family=SUBSCRIBER) == 2
    assert set(Heartbeat.objects.values_list("name", flat=True)) == {member("sub-a"), "another-process"}


def test_two_subscribers_in_a_shared_group_one_stopping_stays_up_both_stopping_is_down(
    transactional_db, broker, prefix, tmp_path, check, mqtt_on
):
    Device.objects.create(name="esp-1", last_seen_at=timezone.now())
    members = [SubscriberProcess(broker.url, prefix, tmp_path / f"sub-{n}.log") for n in "ab"]
    for n, sub in zip("ab", members, strict=True):
        sub.env.update(MQTT_SHARED_GROUP="wl", MQTT_CLIENT_ID=f"{prefix}-{n}", TELEMETRY_WRITERS="0")
        sub.start()
    try:
        group = Heartbeat.objects.filter(name__startswith=f"{SUBSCRIBER}:{prefix}-")
        wait_until(lambda: group.filter(connected=True).count() == 2, 60, "two connected heartbeats")
        assert check("subscriber") == [] and state("subscriber", "mqtt") == "up"

        assert members[1].stop() == 0
        assert group.get(name=member(f"{prefix}-b")).detail == STOPPED
        assert check("subscriber") == [] and state("subscriber", "mqtt") == "up"
        seen = subscriber_observed(now=timezone.now(), watched=set())["mqtt"]
        assert seen.state == "up" and seen.evidence.startswith(
            f"1 of 2 subscribers connected ({prefix}-a); {prefix}-b: stopped "
        )

        assert members[0].stop() == 0
        [late] = check("subscriber")
        assert late.state == "late" and late.evidence.startswith("0 of 2 subscribers connected")
        [down] = check("subscriber", minutes=4)
        assert down.state == "down" and "not running (manage.py telemetry_subscribe)" in down.evidence
    finally:
        for sub in members:
            sub.stop()
