"""The MQTT edge: paho-mqtt 2 lives here and nowhere else. Plain values in and out, no ORM.

At-least-once with nothing lost: QoS 1, a stable client id and a persistent session, and manual
acknowledgement: a message is acknowledged only after the batch holding it was written, so a
crash before the write makes the broker send it again. Redeliveries are dropped downstream by
the raw events' unique constraints.

MQTT 3.1.1 by default (clean session off; the broker keeps the session until its own
`persistent_client_expiration`), or MQTT 5 (clean start off, the session expiry asked by us).
paho reads MQTT 5 properties on every PUBLISH even when there are none: measured here, 90 to
105 us of CPU a message against 35 to 55 us with 3.1.1, in the process that receives the whole
stream. That is the default's reason.
"""

import logging
import multiprocessing
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ops.heartbeat import STOPPED, SUBSCRIBER, heartbeat_beat, heartbeat_beat_due

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
    protocol: str = "3.1.1"


PROTOCOLS = {"3.1.1": mqtt.MQTTv311, "5": mqtt.MQTTv5}


def broker_config(
    url: str, *, client_id: str, ca_file: str = "", session_expiry: int = 7 * 24 * 3600, protocol: str = "3.1.1"
) -> BrokerConfig:
    """mqtt://[user:pass@]host[:1883] or mqtts://host[:8883]."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"MQTT_PROTOCOL must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        # The message ends up in logs and on the console: never with the password in it.
        shown = url.replace(f":{parts.password}@", ":***@") if parts.password else url
        raise ValueError(f"MQTT_URL must look like mqtt://host:1883 or mqtts://host:8883, got {shown!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    return BrokerConfig(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ca_file=ca_file or None,
        client_id=client_id,
        session_expiry=session_expiry,
        protocol=protocol,
    )


def topic_filters(prefix: str, shared_group: str = "") -> list[str]:
    """`<prefix>/+/<kind>`, or `$share/<group>/...` so several subscribers split the stream."""
    filters = [f"{prefix.strip('/')}/+/{kind}" for kind in KINDS]
    return [f"$share/{shared_group}/{f}" for f in filters] if shared_group else filters


def filters_shared(filters: list[str], shared_group: str = "") -> list[str]:
    """Any filters (every enabled adapter's: telemetry/routes.py), as `$share/<group>/...` when a group is set."""
    return [f"$share/{shared_group}/{f}" for f in filters] if shared_group else list(filters)


# What the network thread keeps of a message: (topic, payload, received_at, mid, qos, generation,
# part); generation is the connection it came on, since an ack is only valid on that connection;
# part is the writer that stores it. A plain tuple, cheaper than a dataclass for every message.
Received = tuple[str, bytes, datetime, int, int, int, int]
Message = tuple[str, bytes, datetime]


def device_key(topic: str) -> str:
    """`<prefix>/<device>`: a device's telemetry, status and heartbeat go to the same writer."""
    return topic.rpartition("/")[0]


class Subscriber:
    """Receives on paho's network thread; batches go to `handle` and are acknowledged once stored.

    paho reads every message in Python, and in one process that competes for the interpreter
    lock with the code that stores batches: measured here, paho's thread held the lock half of
    the time at 4,500 messages a second and the storing thread waited on it. So with `writers`
    >= 1, `handle` runs in that many writer processes (spawned; `initializer` runs first in
    each, `handle` and it must be importable functions) and each batch is split between them by
    device, a device's messages staying together and in order; the parts are stored at once and
    acknowledged when all are stored. writers = 0 stores on the caller's thread.
    """

    def __init__(
        self,
        config: BrokerConfig,
        filters: list[str],
        handle: Callable[[list[Message]], object],
        *,
        writers: int = 0,
        initializer: Callable[[], None] | None = None,
        batch_size: int = 2000,
        batch_seconds: float = 0.2,
        key: Callable[[str], str] = device_key,
        beat_name: str = SUBSCRIBER,
    ) -> None:
        self.config, self.filters, self.handle = config, filters, handle
        # Its heartbeat row: its own in a shared group (ops.heartbeat.heartbeat_member_name).
        self.beat_name = beat_name
        # Topic -> device: which writer a message goes to (vendors put the device at other levels).
        self.key = key
        self.writers, self.initializer = writers, initializer
        self.pool: ProcessPoolExecutor | None = None
        # Called in this process with each stored part (the bench times them here).
        self.on_stored: Callable[[list[Message]], None] | None = None
        self.batch_size, self.batch_seconds = batch_size, batch_seconds
        # Appends from paho's thread, pops from ours: deque operations are atomic, and `arrived`
        # wakes an idle taker without a lock round trip per message.
        self.inbox: deque[Received] = deque()
        self.arrived = threading.Event()
        self.stopping = threading.Event()
        self.connected = threading.Event()
        # Held while `connected` is read or changed and its heartbeat written: the main loop's
        # periodic beat could otherwise read "disconnected", lose the CPU while paho's thread
        # connects and beats "connected", then write its stale "disconnected" over it, which stays
        # until the next periodic beat a minute later.
        self.beat_lock = threading.Lock()
        self.generation = 0
        self.client = self._client()

    def _client(self) -> mqtt.Client:
        protocol = PROTOCOLS[self.config.protocol]
        # clean_session is the 3.1.1 form of a persistent session (MQTT 5 takes clean_start in connect).
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.config.client_id,
            protocol=protocol,
            manual_ack=True,
            clean_session=False if protocol == mqtt.MQTTv311 else None,
        )
        if self.config.username:
            client.username_pw_set(self.config.username, self.config.password)
        if self.config.tls:
            try:
                client.tls_set(ca_certs=self.config.ca_file, cert_reqs=ssl.CERT_REQUIRED)
            except OSError as exc:  # a missing file, or one with no certificate in it
                raise ValueError(f"MQTT_CA_FILE {self.config.ca_file!r} cannot be used: {exc}") from None
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_queued_messages_set(0)
        client.on_connect, client.on_disconnect, client.on_message = (
            self._on_connect,
            self._on_disconnect,
            self._on_message,
        )
        client.on_connect_fail = self._on_connect_fail
        client.on_subscribe = self._on_subscribe
        return client

    def _on_connect_fail(self, client, userdata) -> None:
        # paho retries a failed connect (refused port, TLS handshake) silently and hands us no
        # error, but calls this inside its `except OSError`, so the exception being handled says why.
        log.warning(
            "MQTT connection to %s:%s failed: %s; retrying with backoff",
            self.config.host,
            self.config.port,
            sys.exception(),
        )

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            # paho drops the connection and retries with backoff. Bad credentials show up here,
            # as a reason code (134, 135): the password itself is never logged.
            log.warning(
                "MQTT broker refused the connection: %s (%d); retrying with backoff", reason_code, reason_code.value
            )
            return
        self.generation += 1
        # Subscribing here means a reconnect (even to a broker that lost our session) subscribes again.
        client.subscribe([(f, 1) for f in self.filters])
        log.info(
            "MQTT connected to %s:%s (session present: %s)", self.config.host, self.config.port, flags.session_present
        )
        with self.beat_lock:
            self.connected.set()
            heartbeat_beat(
                name=self.beat_name, connected=True, detail=f"connected to {self.config.host}:{self.config.port}"
            )

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        # A first session is sent nothing before the broker's SUBACK: this line says from when.
        log.info("MQTT subscribed to %d topic filters (%s)", len(reason_codes), ", ".join(map(str, reason_codes)))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        # paho calls this after a refused connect too, which _on_connect has already explained.
        # Only the network thread sets and clears `connected`, so reading it first is safe.
        with self.beat_lock:
            was_connected = self.connected.is_set()
            self.connected.clear()
            if was_connected and not self.stopping.is_set():
                log.warning("MQTT disconnected (%s); reconnecting with backoff", reason_code)
            heartbeat_beat(
                name=self.beat_name,
                connected=False,
                detail=STOPPED if self.stopping.is_set() else f"disconnected: {reason_code}",
            )

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        topic = message.topic
        part = hash(self.key(topic)) % self.writers if self.writers > 1 else 0
        self.inbox.append((topic, message.payload, datetime.now(UTC), message.mid, message.qos, self.generation, part))
        if not self.arrived.is_set():
            self.arrived.set()

    def start(self) -> None:
        if self.config.protocol == "5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.config.session_expiry
            self.client.connect_async(
                self.config.host, self.config.port, keepalive=30, clean_start=False, properties=props
            )
        else:
            self.client.connect_async(self.config.host, self.config.port, keepalive=30)
        self.client.loop_start()

    def _take_batch(self) -> list[Received]:
        """Up to batch_size messages, waiting for more until the oldest has waited batch_seconds
        (counted from its arrival: what came in while the last batch was stored goes at once)."""
        if not self.inbox and not self.arrived.wait(self.batch_seconds):
            return []
        self.arrived.clear()
        if not self.inbox:  # its message was taken with the last batch
            return []
        waited = (datetime.now(UTC) - self.inbox[0][2]).total_seconds()
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
        """Hand the batch over (in parts, one per writer) until it is stored, then acknowledge it."""
        if self.writers > 1:
            split: list[list[Received]] = [[] for _ in range(self.writers)]
            for received in batch:
                split[received[6]].append(received)
            parts = [part for part in split if part]
        else:
            parts = [batch]
        pending = [(part, self._submit(part)) for part in parts]
        ack, generation = self.client.ack, self.generation
        for part, future in pending:
            if not self._stored(part, future):
                continue  # not acknowledged: the broker sends them again next time
            for _, _, _, mid, qos, came_on, _ in part:
                if qos and came_on == generation:
                    ack(mid, qos)
            if self.on_stored is not None:
                self.on_stored([received[:3] for received in part])

    def _submit(self, part: list[Received]) -> Future:
        messages = [received[:3] for received in part]
        if self.pool is None:
            future: Future = Future()
            try:
                future.set_result(self.handle(messages))
            except Exception as exc:
                future.set_exception(exc)
            return future
        try:
            return self.pool.submit(self.handle, messages)
        except BrokenProcessPool as exc:  # a writer died since the last batch: _stored restarts the pool
            future = Future()
            future.set_exception(exc)
            return future

    def _stored(self, part: list[Received], future: Future) -> bool:
        """Until the part is stored (True) or stopping (False); a failure is retried every 2 s,
        on a new pool when a writer process died."""
        while True:
            try:
                future.result()
                return True
            except Exception as exc:
                log.error(
                    "storing %d telemetry messages failed (%s); retrying",
                    len(part),
                    exc,
                    exc_info=not isinstance(exc, BrokenProcessPool),
                )
                if isinstance(exc, BrokenProcessPool):
                    self._pool_restart()
                if self.stopping.wait(2):
                    return False
                future = self._submit(part)

    def _pool_start(self) -> None:
        if self.writers >= 1:
            self.pool = ProcessPoolExecutor(
                self.writers, mp_context=multiprocessing.get_context("spawn"), initializer=self.initializer
            )
            # Start every writer now (each sets up Django), not on the first batch.
            for future in [self.pool.submit(time.sleep, 0) for _ in range(self.writers)]:
                future.result()

    def _pool_restart(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self._pool_start()

    def run(self) -> None:
        """Until stop(): batches of at most batch_size or batch_seconds; then flush and disconnect."""
        self._pool_start()
        self.start()
        while not self.stopping.is_set():
            with self.beat_lock:
                heartbeat_beat_due(name=self.beat_name, connected=self.connected.is_set())
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
        if self.pool is not None:
            self.pool.shutdown()

    def stop(self) -> None:
        self.stopping.set()
