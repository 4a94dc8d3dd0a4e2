"""Telemetry subscribers in one MQTT_SHARED_GROUP: the combined storing rate of two subscriber
processes (each with TELEMETRY_WRITERS writer processes) against one, on the same backlog, in
the same run, rounds interleaved (one, two, two, one, ...).

A backlog, not a live stream: on a 2-core machine the publishers top out near the rate one
subscriber already stores (docs/PERFORMANCE.md, Telemetry), so a live stream would measure the
publishers. Each round the subscribers (`manage.py telemetry_subscribe`, the production path)
connect once to leave their persistent sessions in the group and stop; the publishers send the
backlog, which Mosquitto spreads over the group's sessions; then the subscribers start again
and drain it. The rate counts from the moment all of them are connected again to the last
reading stored, so process start-up is not in it.

    bin/bench.sh bench/telemetry_shared.py     # BENCH_MESSAGES (40000), BENCH_ROUNDS (2 of each)
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, free_port, log, table  # noqa: E402
from telemetry_ingest import database_prepare  # noqa: E402

MESSAGES = int(os.environ.get("BENCH_MESSAGES", "40000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
WRITERS = os.environ.get("TELEMETRY_WRITERS", "2")
DEVICES, PUBLISHERS = 1000, 4


def subscribers(count: int, port: int, prefix: str, folder: Path) -> list[subprocess.Popen]:
    env = {
        **os.environ,
        "MQTT_URL": f"mqtt://127.0.0.1:{port}",
        "MQTT_TOPIC_PREFIX": prefix,
        "MQTT_SHARED_GROUP": "bench",
        "TELEMETRY_WRITERS": WRITERS,
        "LOG_LEVEL": "INFO",
    }
    procs = []
    for n in range(count):
        env["MQTT_CLIENT_ID"] = f"{prefix}-sub-{n}"
        with open(folder / f"{prefix}-sub-{n}.log", "a") as out:  # the child keeps its own copy of the descriptor
            procs.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "telemetry_subscribe"],
                    cwd=ROOT,
                    env=dict(env),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    return procs


def wait_subscribed(count: int, prefix: str, folder: Path, times: int = 1) -> None:
    deadline = time.monotonic() + 60
    while not all(
        (folder / f"{prefix}-sub-{n}.log").read_text().count("MQTT connected") >= times for n in range(count)
    ):
        if time.monotonic() > deadline:
            sys.exit(f"subscribers did not connect: see {folder}")
        time.sleep(0.2)
    time.sleep(1)  # the SUBSCRIBE follows the log line (as in tests/telemetry/conftest.py)


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(60)


def publish(port: int, prefix: str) -> None:
    """MESSAGES readings from DEVICES devices, QoS 1, as fast as the publishers go."""
    per, rate = DEVICES // PUBLISHERS, 50
    seconds = MESSAGES / DEVICES / rate
    start_at = time.time() + 1
    script = str(Path(__file__).resolve().parent / "telemetry_ingest.py")
    pubs = [
        subprocess.Popen(
            [
                sys.executable,
                script,
                "--role",
                "publisher",
                str(port),
                prefix,
                str(i * per),
                str(per),
                str(rate),
                str(seconds),
                str(start_at),
            ]
        )
        for i in range(PUBLISHERS)
    ]
    for pub in pubs:
        pub.wait()


def stored() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM telemetry_rawevent")
        return cursor.fetchone()[0]


def drain_round(count: int, port: int, folder: Path, n: int) -> float:
    """One round: returns messages stored per second while the group drains the backlog."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE telemetry_ledgerentry, telemetry_dailytotal, telemetry_rawevent, telemetry_device RESTART IDENTITY CASCADE"
        )
    prefix = f"bench{n}x{count}"
    procs = subscribers(count, port, prefix, folder)
    wait_subscribed(count, prefix, folder)
    stop(procs)  # their sessions stay in the group and queue what follows
    publish(port, prefix)
    procs = subscribers(count, port, prefix, folder)
    try:
        # Timed from the moment every subscriber is connected again: the rate is the group's.
        wait_subscribed(count, prefix, folder, times=2)
        start, base = time.monotonic(), stored()
        deadline = start + 300
        while (done := stored()) < MESSAGES:
            if time.monotonic() > deadline:
                sys.exit(f"{count} subscriber(s) stored {done} of {MESSAGES}: see {folder}")
            time.sleep(0.1)
        end = time.monotonic()
    finally:
        stop(procs)
    rate = (MESSAGES - base) / (end - start)
    log(f"  round {n}, {count} subscriber(s): {rate:,.0f} msg/s")
    return rate


def main() -> None:
    database_prepare()
    folder = Path(tempfile.mkdtemp(prefix="bench-telemetry-shared-"))
    port = free_port()
    (folder / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
        f"max_inflight_messages 0\nmax_keepalive 600\n"
    )
    broker = subprocess.Popen(
        ["mosquitto", "-c", str(folder / "mosquitto.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        time.sleep(0.5)
        order = [1, 2, 2, 1] * ROUNDS
        order = order[: 2 * ROUNDS]
        rates = [(count, drain_round(count, port, folder, n)) for n, count in enumerate(order, 1)]
    finally:
        broker.terminate()
        broker.wait(10)
    report(rates)


def report(rates: list[tuple[int, float]]) -> None:
    print(
        f"### Telemetry: {MESSAGES:,} queued readings from {DEVICES} devices drained by one subscriber vs two in one "
        f"MQTT_SHARED_GROUP (TELEMETRY_WRITERS={WRITERS} each), 2-core machine\n"
    )
    print(
        table(
            ["round", "subscribers", "stored msg/s"],
            [[n, count, f"{rate:,.0f}"] for n, (count, rate) in enumerate(rates, 1)],
        )
    )
    one = [rate for count, rate in rates if count == 1]
    two = [rate for count, rate in rates if count == 2]
    print(
        f"\nmean: one {sum(one) / len(one):,.0f} msg/s, two {sum(two) / len(two):,.0f} msg/s combined "
        f"({sum(two) / len(two) / (sum(one) / len(one)):.2f}x); every round stored all {MESSAGES:,} readings once"
    )


if __name__ == "__main__":
    main()
