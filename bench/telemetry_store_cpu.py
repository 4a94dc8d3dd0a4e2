"""CPU per stored telemetry message, in process: ours and our PostgreSQL backend's.

    .venv/bin/python bench/telemetry_store_cpu.py [--devices 1000] [--batches 12]

What one writer process spends storing batches of 1, 2 and 5 readings per device (parse, raw
events, device state, ledger, daily totals, commit), read from the process's and the database
backend's CPU clocks, which other work on the machine disturbs far less than wall time. The
live benchmark (telemetry_ingest.py) shows what that adds up to beside everything else.
"""

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from telemetry_ingest import database_prepare  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def messages(devices: int, first_tick: int, ticks: int) -> list[tuple[str, bytes, datetime]]:
    now = datetime.now(UTC)
    return [
        (
            f"autovolt/dev-{d:05d}/telemetry",
            json.dumps(
                {"energy_wh_total": tick * 3 + d % 7, "ts": 1772344800 + tick * 7 + d % 5, "seq": tick}
            ).encode(),
            now,
        )
        for tick in range(first_tick, first_tick + ticks)
        for d in range(devices)
    ]


def backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=12)
    opts = parser.parse_args()
    os.environ["MQTT_TOPIC_PREFIX"] = "autovolt"
    database_prepare()
    from django.db import connection

    from telemetry.writer import batch_store

    batch_store(messages(opts.devices, 0, 1))  # registers the devices
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    print(f"\n{opts.devices} devices, {opts.batches} batches per size, CPU per stored message\n")
    print("| readings per device per batch | batch | ours (parse + store) | PostgreSQL backend | total |")
    print("|---:|---:|---:|---:|---:|")
    tick = 1
    for per_device in (1, 2, 5):
        ours = database = 0.0
        for _ in range(opts.batches):
            batch = messages(opts.devices, tick, per_device)
            tick += per_device
            started, started_db = time.process_time(), backend_cpu(pid)
            batch_store(batch)
            ours += time.process_time() - started
            database += backend_cpu(pid) - started_db
        count = opts.devices * per_device * opts.batches
        print(
            f"| {per_device} | {opts.devices * per_device} | {ours / count * 1e6:.0f} us | {database / count * 1e6:.0f} us "
            f"| {(ours + database) / count * 1e6:.0f} us |"
        )


if __name__ == "__main__":
    main()
