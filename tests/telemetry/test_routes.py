"""Routing messages to adapters by topic: patterns, the MQTT filters they need, what each becomes."""

from datetime import UTC, datetime

from telemetry.messages import MalformedIn, ReadingIn, StatusIn
from telemetry.routes import (
    DeviceProfile,
    Route,
    messages_route,
    routes_configured,
    subscription_filters,
    topic_matches,
    topic_route,
)

AT = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
ALL = [
    Route("autovolt", ("autovolt/+/telemetry", "autovolt/+/status", "autovolt/+/heartbeat")),
    Route("tasmota", ("tele/+/SENSOR", "tele/+/LWT")),
    Route("shelly", ("+/status/switch:+", "+/status/em:+", "+/status/emdata:+", "+/online")),
    Route("esphome", ("+/sensor/+/state", "+/status")),
]


def route(*messages, profiles=None):
    return [
        item
        for item, _ in messages_route(
            [(t, p, AT) for t, p in messages], routes=ALL, profiles=lambda names: profiles or {}
        )
    ]


def test_a_plus_inside_a_level_matches_within_that_level_only():
    assert topic_matches("+/status/switch:+", "shelly-1/status/switch:0")
    assert not topic_matches("+/status/switch:+", "shelly-1/status/sys")
    assert not topic_matches("+/status/switch:+", "shelly-1/status/switch:0/x")
    assert topic_matches("tele/+/SENSOR", "tele/plug/SENSOR") and not topic_matches("tele/+/SENSOR", "tele/a/b/SENSOR")
    assert topic_matches("a/#", "a/b/c") and not topic_matches("a.b/+", "axb/c")


def test_the_subscription_takes_whole_level_wildcards_once_each():
    assert subscription_filters(ALL) == [
        "autovolt/+/telemetry",
        "autovolt/+/status",
        "autovolt/+/heartbeat",
        "tele/+/SENSOR",
        "tele/+/LWT",
        "+/status/+",
        "+/online",
        "+/sensor/+/state",
        "+/status",
    ]


def test_the_default_settings_subscribe_our_own_format_only(settings):
    assert [r.adapter for r in routes_configured()] == ["autovolt"]
    settings.TELEMETRY_ADAPTERS = ["shelly", "tasmota"]
    assert [r.adapter for r in routes_configured()] == ["shelly", "tasmota"]
    assert routes_configured()[1].patterns == ("tele/+/SENSOR", "tele/+/LWT")


def test_each_topic_goes_to_its_adapter():
    assert topic_route("tele/plug/SENSOR", ALL) == ["tasmota"]
    assert topic_route("autovolt/m1/status", ALL) == ["autovolt"]
    assert topic_route("plug/status", ALL) == ["esphome"]
    assert topic_route("plug/status/emdata:0", ALL) == ["shelly"]
    assert topic_route("plug/status/sys", ALL) == []


def test_vendor_messages_become_readings_and_statuses_in_our_shapes():
    reading, offline, power = route(
        ("tele/plug/SENSOR", b'{"Time":"2026-07-01T10:00:00","ENERGY":{"Total":14.834,"Power":5}}'),
        ("plug/online", b"false"),
        ("plug/status/em:0", b'{"total_act_power": 12.5}'),
    )
    assert reading == ReadingIn(
        device="plug", ts=datetime(2026, 7, 1, 4, 30, tzinfo=UTC), received_at=AT, energy_wh=14834, power_w=5.0
    )  # 10:00 in TELEMETRY_TIME_ZONE (Kolkata)
    assert offline == StatusIn("plug", AT, "offline")
    assert power == StatusIn("plug", AT, None)  # power only: the device is alive


def test_a_tasmota_device_time_is_read_in_the_devices_own_zone():
    [reading] = route(
        ("tele/plug/SENSOR", b'{"Time":"2026-07-01T10:00:00","ENERGY":{"Total":1}}'),
        profiles={"plug": DeviceProfile("America/Chicago", "Wh")},
    )
    assert reading.ts == datetime(2026, 7, 1, 15, 0, tzinfo=UTC)


def test_only_the_devices_that_need_settings_are_looked_up_once_per_batch():
    asked = []
    messages_route(
        [("tele/a/SENSOR", b"{}", AT), ("autovolt/b/telemetry", b"{}", AT), ("c/online", b"true", AT)],
        routes=ALL,
        profiles=lambda names: asked.append(names) or {},
    )
    assert asked == [{"a", "b"}]


def test_a_topic_of_an_adapter_it_does_not_read_is_kept_as_malformed_saying_so():
    routes = [Route("tasmota", ("tele/+/STATE",))]
    [kept] = [
        item for item, _ in messages_route([("tele/plug/STATE", b"{}", AT)], routes=routes, profiles=lambda _: {})
    ]
    assert kept == MalformedIn("tele/plug/STATE", b"{}", AT, "no adapter reads this topic (tasmota tried)")


def test_a_shelly_component_we_do_not_read_is_skipped_but_a_topic_on_none_of_ours_is_kept():
    assert route(("plug/status/sys", b"{}")) == []
    [kept] = route(("other/m1/telemetry", b"{}"))
    assert kept.error == "topic is not autovolt/<device>/(telemetry|status|heartbeat)"
    [kept] = [item for item, _ in messages_route([("x/y", b"1", AT)], routes=ALL[1:2], profiles=lambda _: {})]
    assert kept.error == "the topic matches none of the TELEMETRY_ADAPTERS topics"


def test_an_unknown_adapter_or_esphome_unit_is_refused_naming_the_variable():
    from tests.test_settings import load_settings

    result = load_settings(TELEMETRY_ADAPTERS="tasmota,zigbee")
    assert (
        result.returncode != 0
        and "TELEMETRY_ADAPTERS takes autovolt, tasmota, shelly, esphome; got zigbee" in result.stderr
    )
    result = load_settings(TELEMETRY_ESPHOME_UNITS="energy=MWh")
    assert (
        result.returncode != 0
        and "TELEMETRY_ESPHOME_UNITS takes sensor=Wh, sensor=kWh or sensor=W; got energy=MWh" in result.stderr
    )


def test_a_devices_messages_share_one_writer_key_whatever_level_the_vendor_puts_it_at():
    from telemetry.routes import partition_key

    key = partition_key(ALL)
    assert key("autovolt/m1/telemetry") == key("autovolt/m1/status") == "autovolt/m1"
    assert key("tele/plug/SENSOR") == key("tele/plug/LWT") == "tele/plug"
    assert key("shelly-1/status/switch:0") == key("shelly-1/online") == "shelly-1"
    assert key("node/sensor/total_energy/state") == key("node/sensor/power/state") == key("node/status") == "node"
