"""POST /api/power-analytics/telemetry with bad input: a 4xx naming the problem, never a 500,
nothing stored, before and after authentication."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from telemetry.models import CostVersion, Device, MalformedMessage, RawEvent
from tests.telemetry.corpus import BAD_PAYLOADS, BAD_READINGS

URL = "/api/power-analytics/telemetry"
ADMIN = {"HTTP_X_ADMIN_TOKEN": "test-admin-token"}


def post_raw(client, body: bytes | str, **headers):
    return client.post(URL, body, content_type="application/json", **headers)


@pytest.mark.parametrize(
    "body",
    [
        '{"device": ["x"], "energy_wh_total": 1}',
        '[{"device": ["x"], "energy_wh_total": 1}, {"device": "y", "energy_wh_total": 1}]',
        '{"device": {"name": "x"}, "energy_wh_total": 1}',
        "[" * 100_000,
        "{" * 100_000,
    ],
)
def test_anonymous_bodies_that_once_raised_a_500_get_401(client, db, body):
    response = post_raw(client, body)
    assert response.status_code == 401, response.content
    assert not RawEvent.objects.exists() and not Device.objects.exists()


def test_a_device_token_does_not_cover_a_list_holding_a_reading_without_a_device_name(client, db):
    token = Device.objects.create(name="esp-1").token_issue()
    body = [{"device": "esp-1", "energy_wh_total": 1}, {"device": ["esp-1"], "energy_wh_total": 2}]
    assert post_raw(client, json.dumps(body), HTTP_X_DEVICE_TOKEN=token).status_code == 401
    assert not RawEvent.objects.exists()


@pytest.mark.parametrize(
    ("device", "reason"),
    [
        (["x"], "readings[0].device: a device name"),
        ({"name": "x"}, "readings[0].device: a device name"),
        ("lab\x00-1", "readings[0]: device contains a NUL character"),
    ],
)
def test_device_names_that_are_not_text_get_422_with_the_admin_token(client, db, device, reason):
    response = post_raw(client, json.dumps({"device": device, "energy_wh_total": 1}), **ADMIN)
    assert response.status_code == 422 and reason in response.json()["error"]
    assert not Device.objects.exists()


def test_a_lone_surrogate_in_the_device_name_gets_422(client, db):
    response = post_raw(client, '{"device": "lab-\\udc80", "energy_wh_total": 1}', **ADMIN)
    assert response.status_code == 422
    assert response.json()["error"] == "readings[0]: device is not valid Unicode (a lone surrogate)"


def test_a_time_outside_the_plausible_window_gets_422_that_says_so(client, db):
    for ts, reason in [
        ("0001-01-01T00:00:00", "is before 2000-01-01"),
        ("1970-01-01T00:00:00+00:00", "is before 2000-01-01"),
        ("2000-01-01T00:00:00+05:00", "is before 2000-01-01"),
        ("2999-01-01T00:00:00Z", "more than a day after"),
    ]:
        response = post_raw(client, json.dumps({"device": "lab-1", "energy_wh_total": 1, "ts": ts}), **ADMIN)
        assert response.status_code == 422 and reason in response.json()["error"], (ts, response.content)
    ok = post_raw(client, json.dumps({"device": "lab-1", "energy_wh_total": 1, "ts": "2000-01-01T00:00:00Z"}), **ADMIN)
    assert ok.status_code == 200 and RawEvent.objects.get().ts == datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture
def stored(client, db):
    """A good reading already stored: a refused body must leave it as it was."""
    post_raw(client, json.dumps({"device": "good-1", "energy_wh_total": 100, "ts": "2026-03-01T06:00:00Z"}), **ADMIN)
    return list(RawEvent.objects.values_list("id", "energy_wh"))


@pytest.mark.parametrize(("fields", "reason"), BAD_READINGS)
def test_each_bad_reading_in_a_list_gets_422_naming_it_and_nothing_is_stored(client, stored, fields, reason):
    good = json.dumps({"device": "good-1", "energy_wh_total": 110, "ts": "2026-03-01T06:01:00Z"})
    bad = '{"device": "bad-1", ' + fields[1:]
    response = post_raw(client, f"[{good}, {bad}, {good}]", **ADMIN)
    assert response.status_code == 422, response.content
    assert response.json()["error"].startswith("readings[1]: ") and reason in response.json()["error"]
    assert list(RawEvent.objects.values_list("id", "energy_wh")) == stored
    assert not Device.objects.filter(name="bad-1").exists() and not MalformedMessage.objects.exists()


@pytest.mark.parametrize(("body", "reason"), BAD_PAYLOADS)
def test_each_bad_body_gets_400_naming_it(client, stored, body, reason):
    response = post_raw(client, body, **ADMIN)
    assert response.status_code == 400 and reason in response.json()["error"], response.content
    assert list(RawEvent.objects.values_list("id", "energy_wh")) == stored


def test_readings_the_database_refuses_get_422_with_its_reason_and_nothing_is_stored(client, stored, settings):
    # Two jumps of 10^12 Wh in a day at an absurd price cost more than the daily total's column holds
    # (counted as consumption only with the plausible power raised past them).
    settings.TELEMETRY_MAX_POWER_W = 10**18
    CostVersion.objects.create(cost_per_kwh=Decimal(999999), effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    body = [
        {"device": "huge", "energy_wh_total": wh, "boot_id": boot, "ts": f"2026-03-01T06:0{minute}:00Z"}
        for minute, (wh, boot) in enumerate([(0, "a"), (10**12, "a"), (0, "b"), (10**12, "b")])
    ]
    response = post_raw(client, json.dumps(body), **ADMIN)
    assert response.status_code == 422, response.content
    assert response.json()["error"].startswith("the database refused the readings: numeric field overflow")
    assert (
        list(RawEvent.objects.values_list("id", "energy_wh")) == stored
        and not Device.objects.filter(name="huge").exists()
    )
