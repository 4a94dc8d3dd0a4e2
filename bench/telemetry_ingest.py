"""Telemetry ingest benchmark: simulated devices through a real Mosquitto into the ledger.

    .venv/bin/python bench/telemetry_ingest.py [--devices 1000] [--rate 5] [--seconds 60]

Starts its own Mosquitto on a loopback port, our subscriber (the one `manage.py
telemetry_subscribe` builds from the settings, timing each stored batch) and a bare paho
subscriber that only counts the same stream, then publisher processes (QoS 1) sharing the
devices. Prints a markdown table: sustained messages/s, p99 publish-to-stored latency, loss.
DATABASE_URL defaults to a throwaway PostgreSQL database wattledger_bench_telemetry.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from _common import free_port  # noqa: E402  (bench/ is the script's own folder)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/wattledger_bench_telemetry"


def django_setup() -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789abcdef")
    os.environ.setdefault("ALLOWED_HOSTS", "*")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def database_prepare() -> None:
    """Create the bench database when missing, migrate it, empty the telemetry tables."""
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(os.environ.setdefault("DATABASE_URL", DEFAULT_DB))
    if config["ENGINE"].endswith("postgresql"):
        admin = f"host={config['HOST']} port={config['PORT'] or 5432} user={config['USER']} dbname=postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone():
                conn.execute(f'CREATE DATABASE "{config["NAME"]}"')
    django_setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE telemetry_ledgerentry, telemetry_dailytotal, telemetry_rawevent, telemetry_reviewticket, "
            "telemetry_malformedmessage, telemetry_device, telemetry_location, telemetry_aggregationrun, "
            "telemetry_costversion RESTART IDENTITY CASCADE"
        )


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def run_ours(port: int, prefix: str, out: str) -> None:
    """Our subscriber, built by `manage.py telemetry_subscribe` from the settings; SIGTERM ends it
    and writes what it measured."""
    os.environ.update(MQTT_URL=f"mqtt://127.0.0.1:{port}", MQTT_CLIENT_ID=f"{prefix}-ours")
    django_setup()
    from telemetry.management.commands.telemetry_subscribe import Command

    sub = Command().subscriber()
    stored, stored_at = [], []

    def timed(messages):
        # Called as each part is acknowledged; payloads are read after the run, off the measured path.
        now = time.time()
        stored.append((now, [payload for _, payload, _ in messages]))
        stored_at.append(now)

    sub.on_stored = timed
    signal.signal(signal.SIGTERM, lambda *_: sub.stop())
    sub.run()
    latencies = [now - json.loads(payload)["sent"] for now, payloads in stored for payload in payloads]
    Path(out).write_text(
        json.dumps({"count": len(latencies), "p99": p99(latencies), "last": max(stored_at, default=0)})
    )


def run_bare(port: int, prefix: str, out: str) -> None:
    """A paho subscriber that only counts (QoS 1, automatic acks), on the MQTT version ours uses."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    received = []

    def on_message(client, userdata, message):
        # Payloads are read after the run, as ours are: only receiving is measured.
        received.append((time.time(), message.payload))

    protocol = paho.MQTTv5 if os.environ.get("MQTT_PROTOCOL", "3.1.1") == "5" else paho.MQTTv311
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{prefix}-bare", protocol=protocol)
    client.on_connect = lambda c, *a: c.subscribe(f"{prefix}/+/telemetry", qos=1)
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    client.loop_start()
    while not stop:
        time.sleep(0.1)
    client.loop_stop()
    latencies = [now - json.loads(payload)["sent"] for now, payload in received]
    Path(out).write_text(
        json.dumps({"count": len(latencies), "p99": p99(latencies), "last": max((r[0] for r in received), default=0)})
    )


def run_publisher(port: int, prefix: str, first: int, count: int, rate: float, seconds: float, start_at: float) -> None:
    """Devices first..first+count-1, each publishing `rate` readings a second, QoS 1."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{prefix}-pub-{first}")
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    time.sleep(max(0, start_at - time.time()))
    ticks, step = int(seconds * rate), 1 / rate
    infos = []
    for tick in range(ticks):
        due = start_at + tick * step
        time.sleep(max(0, due - time.time()))
        for device in range(first, first + count):
            payload = json.dumps(
                {"energy_wh_total": tick * 3 + device % 7, "ts": 1772344800 + tick, "seq": tick, "sent": time.time()}
            )
            infos.append(client.publish(f"{prefix}/dev-{device:05d}/telemetry", payload, qos=1))
    for info in infos:
        info.wait_for_publish(60)
    client.loop_stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=5, help="readings per device per second")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument(
        "--drain",
        action="store_true",
        help="publish while our subscriber is stopped (the broker queues for its session), then time the backlog",
    )
    parser.add_argument("--role", default="main")
    parser.add_argument("args", nargs="*")
    opts = parser.parse_args()
    if opts.role == "ours":
        return run_ours(int(opts.args[0]), opts.args[1], opts.args[2])
    if opts.role == "bare":
        return run_bare(int(opts.args[0]), opts.args[1], opts.args[2])
    if opts.role == "publisher":
        a = opts.args
        return run_publisher(int(a[0]), a[1], int(a[2]), int(a[3]), float(a[4]), float(a[5]), float(a[6]))
    bench(opts)


def bench(opts) -> None:
    database_prepare()
    from telemetry.models import LedgerEntry, RawEvent

    folder = Path(tempfile.mkdtemp(prefix="bench-telemetry-"))
    port, prefix = free_port(), f"bench{int(time.time())}"
    (folder / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
        f"max_inflight_messages 0\nmax_keepalive 600\n"
    )
    broker = subprocess.Popen(
        ["mosquitto", "-c", str(folder / "mosquitto.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    me = [sys.executable, __file__]
    procs = {}
    try:
        time.sleep(0.5)
        env = {**os.environ, "MQTT_TOPIC_PREFIX": prefix}
        ours_cmd = [*me, "--role", "ours", str(port), prefix, str(folder / "ours.json")]
        procs["ours"] = subprocess.Popen(ours_cmd, env=env)
        procs["bare"] = subprocess.Popen([*me, "--role", "bare", str(port), prefix, str(folder / "bare.json")])
        time.sleep(3)
        if opts.drain:  # the session now exists on the broker: it queues while ours is down
            procs["ours"].send_signal(signal.SIGTERM)
            procs["ours"].wait(30)
        start_at = time.time() + 2
        per = opts.devices // opts.publishers
        pubs = [
            subprocess.Popen(
                [
                    *me,
                    "--role",
                    "publisher",
                    str(port),
                    prefix,
                    str(i * per),
                    str(per),
                    str(opts.rate),
                    str(opts.seconds),
                    str(start_at),
                ]
            )
            for i in range(opts.publishers)
        ]
        for pub in pubs:
            pub.wait()
        if opts.drain:
            start_at = time.time()
            procs["ours"] = subprocess.Popen(ours_cmd, env=env)
        sent = per * opts.publishers * int(opts.seconds * opts.rate)
        deadline = time.time() + 120
        while RawEvent.objects.count() < sent and time.time() < deadline:
            time.sleep(0.5)
        time.sleep(1)
        for name in ("ours", "bare"):
            procs[name].send_signal(signal.SIGTERM)
            procs[name].wait(60)
        ours, bare = (json.loads((folder / f"{n}.json").read_text()) for n in ("ours", "bare"))
        stored, entries = RawEvent.objects.count(), LedgerEntry.objects.current().count()
        devices = per * opts.publishers
        report(opts, sent, stored, entries, devices, ours, bare, start_at)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
        broker.terminate()
        broker.wait(10)


def report(opts, sent, stored, entries, devices, ours, bare, start_at) -> None:
    ours_rate = ours["count"] / (ours["last"] - start_at)
    bare_rate = bare["count"] / (bare["last"] - start_at)
    mode = "backlog drained after publishing with our subscriber stopped" if opts.drain else "live"
    print(
        f"\n{devices} devices x {opts.rate:g}/s for {opts.seconds:g} s through Mosquitto (QoS 1, MQTT {os.environ.get('MQTT_PROTOCOL', '3.1.1')}), {sent} messages, {mode}\n"
    )
    print("| subscriber | received | stored | in ledger | sustained msg/s | p99 publish-to-stored |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| Wattledger (telemetry_subscribe path) | {ours['count']} | {stored} | {entries + devices} | {ours_rate:,.0f} | {ours['p99'] * 1000:,.0f} ms |"
    )
    print(
        f"| bare paho counter | {bare['count']} | – | – | {bare_rate:,.0f} | {bare['p99'] * 1000:,.0f} ms (received) |"
    )
    print(
        f"\nratio {ours_rate / bare_rate:.2f}x of the bare subscriber; lost {sent - stored}; "
        f"every stored reading in the ledger: {entries + devices == stored}"
    )


if __name__ == "__main__":
    main()
