"""The MQTT edge: paho-mqtt 2 lives here and nowhere else. Plain values in and out, no ORM.

At-least-once with nothing lost: QoS 1, a stable client id and a persistent MQTT 5 session
(clean_start off, a session expiry), and manual acknowledgement: a message is acknowledged only
after the batch holding it was written, so a crash before the write makes the broker send it
again. Redeliveries are dropped downstream by the raw events' unique constraints.
"""

import logging
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

log = logging.getLogger(__name__)
KINDS = ("telemetry", "status", "heartbeat")


@dataclass(frozen=True)
class BrokerConfig:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    client_id: str = "wattledger-telemetry"
    session_expiry: int = 7 * 24 * 3600


def broker_config(url: str, *, client_id: str, ca_file: str = "", session_expiry: int = 7 * 24 * 3600) -> BrokerConfig:
    """mqtt://[user:pass@]host[:1883] or mqtts://host[:8883]."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        # The message ends up in logs and on the console: never with the password in it.
        shown = url.replace(f":{parts.password}@", ":***@") if parts.password else url
        raise ValueError(f"MQTT_URL must look like mqtt://host:1883 or mqtts://host:8883, got {shown!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    return BrokerConfig(
        host=parts.hostname, port=parts.port or (8883 if tls else 1883), tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ca_file=ca_file or None, client_id=client_id, session_expiry=session_expiry,
    )


def topic_filters(prefix: str, shared_group: str = "") -> list[str]:
    """`<prefix>/+/<kind>`, or `$share/<group>/...` so several subscribers split the stream."""
    filters = [f"{prefix.strip('/')}/+/{kind}" for kind in KINDS]
    return [f"$share/{shared_group}/{f}" for f in filters] if shared_group else filters


# What the network thread keeps of a message: (prepared, received_at, mid, qos, generation);
# generation is the connection it came on, since an ack is only valid on that connection. A
# plain tuple, cheaper than building a frozen dataclass for every message.
Received = tuple[object, datetime, int, int, int]
Prepare = Callable[[str, bytes, datetime], object]


def _as_received(topic: str, payload: bytes, received_at: datetime) -> tuple[str, bytes, datetime]:
    return topic, payload, received_at


class Subscriber:
    """Receives on paho's network thread, hands batches to `handle` on the caller's thread."""

    def __init__(self, config: BrokerConfig, filters: list[str], handle: Callable[[list], None],
                 *, prepare: Prepare = _as_received, batch_size: int = 2000, batch_seconds: float = 0.2) -> None:
        """`prepare(topic, payload, received_at)` runs on paho's network thread as each message
        arrives, so reading messages overlaps with the database work of the batch being stored
        (which releases the GIL); it must not raise or touch the database. `handle` gets a list
        of what it returned."""
        self.config, self.filters, self.handle, self.prepare = config, filters, handle, prepare
        self.batch_size, self.batch_seconds = batch_size, batch_seconds
        # Appends from paho's thread, pops from ours: deque operations are atomic, and `arrived`
        # wakes an idle taker without a lock round trip per message.
        self.inbox: deque[Received] = deque()
        self.arrived = threading.Event()
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.generation = 0
        self.client = self._client()

    def _client(self) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.config.client_id, protocol=mqtt.MQTTv5, manual_ack=True)
        if self.config.username:
            client.username_pw_set(self.config.username, self.config.password)
        if self.config.tls:
            try:
                client.tls_set(ca_certs=self.config.ca_file, cert_reqs=ssl.CERT_REQUIRED)
            except OSError as exc:  # a missing file, or one with no certificate in it
                raise ValueError(f"MQTT_CA_FILE {self.config.ca_file!r} cannot be used: {exc}") from None
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_queued_messages_set(0)
        client.on_connect, client.on_disconnect, client.on_message = self._on_connect, self._on_disconnect, self._on_message
        client.on_connect_fail = self._on_connect_fail
        return client

    def _on_connect_fail(self, client, userdata) -> None:
        # paho retries a failed connect (refused port, TLS handshake) silently and hands us no
        # error, but calls this inside its `except OSError`, so the exception being handled says why.
        log.warning("MQTT connection to %s:%s failed: %s; retrying with backoff", self.config.host, self.config.port, sys.exception())

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            # paho drops the connection and retries with backoff. Bad credentials show up here,
            # as a reason code (134, 135): the password itself is never logged.
            log.warning("MQTT broker refused the connection: %s (%d); retrying with backoff", reason_code, reason_code.value)
            return
        self.generation += 1
        # Subscribing here means a reconnect (even to a broker that lost our session) subscribes again.
        client.subscribe([(f, SubscribeOptions(qos=1)) for f in self.filters])
        log.info("MQTT connected to %s:%s (session present: %s)", self.config.host, self.config.port, flags.session_present)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        # paho calls this after a refused connect too, which _on_connect has already explained.
        # Only the network thread sets and clears `connected`, so reading it first is safe.
        was_connected = self.connected.is_set()
        self.connected.clear()
        if was_connected and not self.stopping.is_set():
            log.warning("MQTT disconnected (%s); reconnecting with backoff", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        received_at = datetime.now(timezone.utc)
        prepared = self.prepare(message.topic, message.payload, received_at)
        self.inbox.append((prepared, received_at, message.mid, message.qos, self.generation))
        if not self.arrived.is_set():
            self.arrived.set()

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.config.session_expiry
        self.client.connect_async(self.config.host, self.config.port, keepalive=30, clean_start=False, properties=props)
        self.client.loop_start()

    def _take_batch(self) -> list[Received]:
        """Up to batch_size messages, waiting for more until the oldest has waited batch_seconds
        (counted from its arrival: what came in while the last batch was stored goes at once)."""
        if not self.inbox and not self.arrived.wait(self.batch_seconds):
            return []
        self.arrived.clear()
        if not self.inbox:  # its message was taken with the last batch
            return []
        waited = (datetime.now(timezone.utc) - self.inbox[0][1]).total_seconds()
        deadline = time.monotonic() + self.batch_seconds - waited
        while len(self.inbox) < self.batch_size and not self.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(remaining, 0.01))
        return self._pop(self.batch_size)

    def _pop(self, count: int) -> list[Received]:
        popleft = self.inbox.popleft
        return [popleft() for _ in range(min(count, len(self.inbox)))]

    def _deliver(self, batch: list[Received]) -> None:
        """Hand the batch over until it is stored, then acknowledge it."""
        while True:
            try:
                self.handle([prepared for prepared, *_ in batch])
                break
            except Exception:
                log.exception("storing %d telemetry messages failed; retrying", len(batch))
                if self.stopping.wait(2):
                    return  # not acknowledged: the broker sends them again next time
        ack, generation = self.client.ack, self.generation
        for _, _, mid, qos, came_on in batch:
            if qos and came_on == generation:
                ack(mid, qos)

    def run(self) -> None:
        """Until stop(): batches of at most batch_size or batch_seconds; then flush and disconnect."""
        self.start()
        while not self.stopping.is_set():
            batch = self._take_batch()
            if batch:
                self._deliver(batch)
        # What arrived before the stop is stored; anything later stays unacknowledged for next time.
        left = len(self.inbox)
        while left > 0:
            batch = self._pop(min(left, self.batch_size))
            left -= len(batch) or left
            if batch:
                self._deliver(batch)
        self.client.disconnect()
        self.client.loop_stop()

    def stop(self) -> None:
        self.stopping.set()
