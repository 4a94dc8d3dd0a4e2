"""Which adapter reads a message: its topic against each enabled adapter's topic patterns.

The one subscriber takes every enabled format (TELEMETRY_ADAPTERS): our own (`autovolt`, under
MQTT_TOPIC_PREFIX) and the off-the-shelf firmware read by telemetry/adapters.py. A message goes
to the adapters whose patterns match its topic; what the first of them makes of it becomes a
reading, a status or a malformed message with the reason. Pure, like telemetry/messages.py: the
caller passes each device's settings (time zone, counter unit) in.

A pattern is an MQTT topic filter whose `+` may also stand inside a level, as the vendors write
their topics (`+/status/switch:+`). MQTT wildcards only take whole levels, so such a level is
subscribed as `+`; a message that arrives through it but matches none of our patterns (Shelly
also publishes `<id>/status/sys`, `/wifi`, ... there, every minute) is none of ours and skipped.
A message that matches a pattern and that no adapter can read is always kept as malformed.
"""

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import cache
from typing import NamedTuple

from django.conf import settings

from telemetry import adapters, messages
from telemetry.messages import MalformedIn, ReadingIn, StatusIn

log = logging.getLogger(__name__)
Prepared = ReadingIn | StatusIn | MalformedIn


class DeviceProfile(NamedTuple):
    """How one device's messages are read (Device.time_zone, Device.counter_unit)."""

    time_zone: str = ""
    counter_unit: str = "Wh"


class Route(NamedTuple):
    adapter: str
    patterns: tuple[str, ...]


def routes_configured() -> list[Route]:
    """The enabled adapters with their topic patterns, in TELEMETRY_ADAPTERS order."""
    topics = {
        "autovolt": [f"{settings.MQTT_TOPIC_PREFIX.strip('/')}/+/{kind}" for kind in messages.KINDS],
        "tasmota": settings.TELEMETRY_TASMOTA_TOPICS,
        "shelly": settings.TELEMETRY_SHELLY_TOPICS,
        "esphome": settings.TELEMETRY_ESPHOME_TOPICS,
    }
    return [Route(name, tuple(topics[name])) for name in settings.TELEMETRY_ADAPTERS]


def subscription_filters(routes: Iterable[Route]) -> list[str]:
    """The MQTT filters covering every pattern, once each, in order."""
    found: dict[str, None] = {}
    for route in routes:
        for pattern in route.patterns:
            found["/".join("+" if "+" in level else level for level in pattern.split("/"))] = None
    return list(found)


@cache
def _pattern_regex(pattern: str) -> re.Pattern:
    levels = []
    for level in pattern.split("/"):
        if level == "#":
            levels.append(".*")
            break
        levels.append("[^/]*".join(re.escape(part) for part in level.split("+")))
    return re.compile("/".join(levels) + r"\Z")


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT matching, with `+` inside a level matching any text within that level."""
    return _pattern_regex(pattern).match(topic) is not None


def topic_route(topic: str, routes: Iterable[Route]) -> list[str]:
    """The adapters whose patterns match the topic, in order (empty: none of ours)."""
    return [route.adapter for route in routes if any(topic_matches(p, topic) for p in route.patterns)]


def profile_key(adapter: str, topic: str) -> str:
    """The device name whose settings a message needs (Tasmota and ours: the second level)."""
    parts = topic.split("/")
    return parts[1] if adapter in ("autovolt", "tasmota") and len(parts) > 1 else ""


def message_route(
    topic: str,
    payload: bytes,
    received_at: datetime,
    *,
    adapters_in_order: list[str],
    profiles: Mapping[str, DeviceProfile],
) -> Prepared:
    """A message on one of our topics, read by the first adapter that knows its topic."""
    for name in adapters_in_order:
        profile = profiles.get(profile_key(name, topic)) or DeviceProfile()
        if name == "autovolt":
            return messages.message_prepare(
                topic, payload, received_at, time_zone=profile.time_zone, counter_unit=profile.counter_unit
            )
        adapted = _adapt(name, topic, payload, received_at, profile)
        if adapted is not None:
            return _prepared(adapted, topic, payload, received_at)
    return MalformedIn(
        topic, payload, received_at, f"no adapter reads this topic ({', '.join(adapters_in_order)} tried)"
    )


def _adapt(name: str, topic: str, payload: bytes, received_at: datetime, profile: DeviceProfile) -> adapters.Adapted:
    read: Callable = adapters.ADAPTERS[name]
    try:
        if name == "tasmota":
            return read(
                topic, payload, received_at=received_at, time_zone=profile.time_zone or settings.TELEMETRY_TIME_ZONE
            )
        if name == "esphome":
            return read(topic, payload, received_at=received_at, units=settings.TELEMETRY_ESPHOME_UNITS)
        return read(topic, payload, received_at=received_at)
    except Exception as exc:  # a case the adapter did not foresee: kept as malformed, never fatal
        log.exception("telemetry message on %s could not be read by the %s adapter", topic[:255], name)
        return adapters.Refusal("", f"unreadable by the {name} adapter ({type(exc).__name__})")


def _prepared(adapted: adapters.Adapted, topic: str, payload: bytes, received_at: datetime) -> Prepared:
    if isinstance(adapted, adapters.Refusal):
        return MalformedIn(topic, payload, received_at, adapted.reason)
    if isinstance(adapted, adapters.AdaptedStatus):
        return StatusIn(adapted.device, received_at, adapted.status)
    if adapted.energy_wh is None:
        # Power-only (a Shelly em:N, an ESPHome power sensor): the device is alive, no counter to store.
        return StatusIn(adapted.device, received_at, None)
    return ReadingIn(
        device=adapted.device,
        ts=adapted.ts,
        received_at=received_at,
        energy_wh=adapted.energy_wh,
        power_w=adapted.power_w,
        switch_state=adapted.switch_state,
    )


def messages_route(
    batch: list[tuple[str, bytes, datetime]],
    *,
    routes: list[Route],
    profiles: Callable[[set[str]], Mapping[str, DeviceProfile]],
) -> list[tuple[Prepared, tuple[str, bytes, datetime]]]:
    """Each message of ours with what it reads as, in order; `profiles` looks the batch's devices
    up once (names -> settings). Messages on none of our topics are left out (see the module doc)."""
    routed = [(message, topic_route(message[0], routes)) for message in batch]
    broadened = [_pattern_regex(f) for f in subscription_filters(routes)]
    routed = [(message, names) for message, names in routed if names or not any(f.match(message[0]) for f in broadened)]
    wanted = {profile_key(name, message[0]) for message, names in routed for name in names} - {""}
    found = profiles(wanted) if wanted else {}
    return [
        (
            message_route(*message, adapters_in_order=names, profiles=found) if names else _off_topic(message, routes),
            message,
        )
        for message, names in routed
    ]


def _off_topic(message: tuple[str, bytes, datetime], routes: list[Route]) -> MalformedIn:
    """A message on no topic of ours at all (handed in directly, not subscribed): kept with why."""
    if any(route.adapter == "autovolt" for route in routes):
        prepared = messages.message_prepare(*message)  # says which topics our own format takes
        if isinstance(prepared, MalformedIn):
            return prepared
    return MalformedIn(*message, "the topic matches none of the TELEMETRY_ADAPTERS topics")


def partition_key(routes: Iterable[Route]) -> Callable[[str], str]:
    """Topic -> the device it is about, cheaply (the subscriber's network thread calls it for every
    message), so that a device's readings and statuses go to the same writer, in order: the second
    level under a fixed first level (`<prefix>/<device>/...`, `tele/<topic>/...`), else the first
    (`<shelly id>/...`, `<esphome node>/...`)."""
    fixed = {p.split("/")[0] for route in routes for p in route.patterns if "+" not in p.split("/")[0]}

    def key(topic: str) -> str:
        first, _, rest = topic.partition("/")
        return f"{first}/{rest.partition('/')[0]}" if first in fixed else first

    return key
