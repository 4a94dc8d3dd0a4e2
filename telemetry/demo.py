"""Two weeks of synthetic ESP32 telemetry for `make run`, through the real ingest and ledger path.

Three devices in two locations, a reading every 5 minutes, one reboot (the counter starts again
from zero with a new boot_id), one silent hour, two prices and one move (lab-2 goes to the
Library for the last few days, so the Physics lab keeps its earlier days), so that every
telemetry page has something true to show.
"""

import math
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TextIO

from django.utils import timezone

from telemetry import assign, ingest, messages, totals
from telemetry.models import CostVersion, Device, Location

DEVICES = {"lab-1": "Physics lab", "lab-2": "Physics lab", "lib-1": "Library"}
MOVE = ("lab-2", "Library", timedelta(days=3))  # device, new location, how long ago
STEP = timedelta(minutes=5)


def _readings(name: str, *, start: datetime, end: datetime, seed: int) -> list[messages.ReadingIn]:
    rng = random.Random(seed)
    readings, counter, boot, seq = [], 0.0, f"{name}-boot-1", 0
    reboot_at = start + (end - start) * 0.6 if name == "lab-2" else None
    silent = (
        (start + (end - start) * 0.3, start + (end - start) * 0.3 + timedelta(hours=1)) if name == "lib-1" else None
    )
    ts = start
    while ts < end:
        busy = 8 <= ts.astimezone(totals.local_zone()).hour < 18  # school hours draw more
        power = (450 if busy else 60) * (0.8 + 0.4 * rng.random()) * (1 + 0.2 * math.sin(ts.timestamp() / 3600))
        counter += power * STEP.total_seconds() / 3600
        if reboot_at and ts >= reboot_at:
            counter, boot, seq, reboot_at = power * STEP.total_seconds() / 3600, f"{name}-boot-2", 0, None
        seq += 1
        if not (silent and silent[0] <= ts < silent[1]):
            readings.append(
                messages.ReadingIn(
                    device=name,
                    ts=ts,
                    received_at=ts + timedelta(seconds=1),
                    energy_wh=int(counter),
                    power_w=round(power, 1),
                    seq=seq,
                    boot_id=boot,
                )
            )
        ts += STEP
    return readings


def telemetry_demo_load(*, days: int = 14, stdout: TextIO | None = None) -> dict:
    """Load the demo once: a second call finds the devices and stores nothing. The result is
    also said in one line on `stdout` when given (as `load_demo_data` does)."""
    if Device.objects.filter(name__in=DEVICES).exists():
        if stdout is not None:
            stdout.write("demo telemetry: already loaded")
        return {"loaded": False, "devices": len(DEVICES)}
    end = timezone.now().replace(second=0, microsecond=0)
    end -= timedelta(minutes=end.minute % 5)
    start = end - timedelta(days=days)
    if not CostVersion.objects.exists():
        totals.cost_version_create(
            cost_per_kwh=Decimal("7.50"),
            effective_from=start - timedelta(days=1),
            notes="Demo tariff",
            created_by="demo",
        )
    stored = 0
    for seed, name in enumerate(DEVICES):
        readings = _readings(name, start=start, end=end, seed=seed)
        for offset in range(0, len(readings), 2000):
            stored += ingest.items_record(readings[offset : offset + 2000]).stored
        # lib-1's last will fired a minute ago: device health shows one device offline.
        status = "offline" if name == "lib-1" else "online"
        ingest.items_record([messages.StatusIn(device=name, received_at=end - timedelta(minutes=1), status=status)])
        location, _ = Location.objects.get_or_create(name=DEVICES[name])
        assign.device_assign(
            device=Device.objects.get(name=name), location=location, effective_from=None, assigned_by="demo"
        )
    name, where, ago = MOVE
    assign.device_assign(
        device=Device.objects.get(name=name),
        location=Location.objects.get(name=where),
        effective_from=totals.local_day(end - ago),
        assigned_by="demo",
        note="Demo move",
    )
    # A price rise a week ago, so the cost-version page shows a recalculation.
    totals.cost_version_create(
        cost_per_kwh=Decimal("8.25"),
        effective_from=end - timedelta(days=7),
        notes="Demo tariff revision",
        created_by="demo",
    )
    if stdout is not None:
        stdout.write(f"demo telemetry: {len(DEVICES)} devices, {stored} readings")
    return {"loaded": True, "devices": len(DEVICES), "readings": stored}
