from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from telemetry import assign, ingest, messages
from telemetry.models import Device, DeviceAssignment, LedgerEntry, Location

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _telemetry_settings(settings):
    settings.TELEMETRY_TIME_ZONE = "Asia/Kolkata"
    settings.TELEMETRY_GAP_SECONDS = 900
    settings.MQTT_TOPIC_PREFIX = "autovolt"


def feed(device: str, *readings: tuple, start: datetime = T0) -> ingest.RecordResult:
    """readings: (minute, energy_wh[, {seq, boot_id, ...}]) stored in one batch, in the order given."""
    items = []
    for minute, wh, *extra in readings:
        ts = start + timedelta(minutes=minute)
        items.append(
            # Device time, arriving a second later (ts == received_at would mean no device time).
            messages.ReadingIn(
                device=device, ts=ts, received_at=ts + timedelta(seconds=1), energy_wh=wh, **(extra[0] if extra else {})
            )
        )
    return ingest.items_record(items)


def place(device: str, location: Location | None, day=None) -> DeviceAssignment:
    """Assign a device by name, as staff do (day: the local day it takes effect, None: today)."""
    return assign.device_assign(
        device=Device.objects.get(name=device), location=location, effective_from=day, assigned_by="test"
    )


def current(device: str) -> list[tuple]:
    """(start minute, end minute, delta, kind, confidence) of the device's current entries."""
    rows = LedgerEntry.objects.current().filter(device__name=device).order_by("end_ts", "id")
    minute = lambda ts: int((ts - T0).total_seconds() // 60)  # noqa: E731
    return [(minute(e.start_ts), minute(e.end_ts), e.delta_wh, e.kind, e.confidence) for e in rows]


class Broker:
    """Our own Mosquitto on a loopback port, with persistence, that a test may stop and start.
    `tls` (CA, certificate, key paths) makes its listener mqtts only; `password_file` (from
    mosquitto_passwd) turns anonymous clients away."""

    def __init__(self, folder, *, tls: tuple | None = None, password_file=None):
        import getpass

        from tests.conftest import free_port

        self.port, self.folder, self.ca_file = free_port(), folder, tls[0] if tls else None
        listener = f"listener {self.port} 127.0.0.1\n"
        if tls:
            listener += "cafile {}\ncertfile {}\nkeyfile {}\n".format(*tls)
        access = (
            f"allow_anonymous false\npassword_file {password_file}\n" if password_file else "allow_anonymous true\n"
        )
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"{listener}{access}persistence true\n"
            f"persistence_location {folder}/\nmax_queued_messages 0\nmax_inflight_messages 0\n"
            # Run as root, mosquitto would switch to its own user, which cannot write our tmp folder.
            f"user {getpass.getuser()}\n"
        )
        self.proc = None

    def start(self) -> None:
        import subprocess

        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)], stdout=open(self.folder / "broker.log", "a"), stderr=subprocess.STDOUT
        )
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: mosquitto saves sessions and queued messages first
            self.proc.wait(10)

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.ca_file else 'mqtt'}://127.0.0.1:{self.port}"

    def pub(self, topic: str, payload: str, *options: str) -> None:
        """mosquitto_pub at QoS 1, over TLS when the broker speaks it; `options` e.g. -u/-P."""
        import subprocess

        tls = ["--cafile", str(self.ca_file)] if self.ca_file else []
        subprocess.run(
            [
                "mosquitto_pub",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                *tls,
                *options,
                "-q",
                "1",
                "-t",
                topic,
                "-m",
                payload,
            ],
            check=True,
        )


@contextmanager
def broker_running(folder, **options):
    """A started Broker (options as for Broker) in `folder`, stopped on the way out."""
    folder.mkdir()
    own = Broker(folder, **options)
    own.start()
    try:
        yield own
    finally:
        own.stop()


def wait_port(port: int, seconds: float = 10) -> None:
    import socket
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def broker(tmp_path):
    with broker_running(tmp_path / "broker") as own:
        yield own


@pytest.fixture
def prefix():
    import uuid

    return f"t{uuid.uuid4().hex[:10]}"


class SubscriberProcess:
    """`manage.py telemetry_subscribe` as its own process on the test database."""

    def __init__(self, url: str, prefix: str, log_path):
        import uuid

        from django.db import connection

        db = connection.settings_dict
        self.env = {
            **__import__("os").environ,
            "MQTT_URL": url,
            "MQTT_TOPIC_PREFIX": prefix,
            "MQTT_CLIENT_ID": f"wl-test-{uuid.uuid4().hex[:8]}",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "TELEMETRY_BATCH_MS": "50",
            "TELEMETRY_TIME_ZONE": "Asia/Kolkata",
        }
        self.log_path, self.proc = log_path, None

    def start(self) -> None:
        import subprocess
        import sys

        from tests.conftest import ROOT

        # Its own process group, so a subscriber that hangs is killed with its writer processes.
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "telemetry_subscribe"],
            cwd=ROOT,
            env=self.env,
            stdout=open(self.log_path, "a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> int:
        import os
        import signal
        import subprocess

        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.terminate()
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
            raise


@contextmanager
def subscriber_running(url: str, prefix: str, log_path, **env: str):
    """A started SubscriberProcess, `env` added to its environment, stopped on the way out."""
    sub = SubscriberProcess(url, prefix, log_path)
    sub.env.update(env)
    sub.start()
    try:
        yield sub
    finally:
        sub.stop()


@pytest.fixture
def mqtt_protocol():
    """The subscriber's MQTT version (the default); tests parametrize it to cover both."""
    return "3.1.1"


@pytest.fixture
def writers():
    """The subscriber's writer processes (the default); tests parametrize it to cover the others."""
    return "2"


@pytest.fixture
def subscriber(transactional_db, broker, prefix, tmp_path, mqtt_protocol, writers):
    with subscriber_running(
        broker.url, prefix, tmp_path / "subscriber.log", MQTT_PROTOCOL=mqtt_protocol, TELEMETRY_WRITERS=writers
    ) as sub:
        yield sub


def wait_until(check, seconds: float = 20, what: str = "condition"):
    import time

    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def connected(subscriber, seconds: float = 30) -> None:
    # Its writer processes start first, then it connects and subscribes: a first session gets
    # nothing published before the broker's SUBACK, which the subscriber logs.
    wait_until(lambda: "MQTT subscribed" in subscriber.log_path.read_text(), seconds, "the subscriber to subscribe")
