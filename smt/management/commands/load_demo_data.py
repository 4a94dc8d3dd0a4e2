"""A year of synthetic SMT intervals for a few ESIIDs, pushed through the real ingest path."""

import tempfile
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone

from config.texas import CENTRAL
from ercot.demo import ercot_demo_load
from smt import ingest
from smt.demo import DEMO_ESIIDS, interval_csv_write
from smt.models import House, RawSmtFile
from telemetry.demo import telemetry_demo_load


def _demo_gap(line: str, *, esiid: str, end: date) -> bool:
    """Leave realistic holes so completeness has something to show: one meter loses an
    afternoon three weeks ago, another a whole day last month."""
    fields = line.split(",")
    if len(fields) < 4 or not fields[1][:1].isdigit():
        return False
    if esiid.endswith("2"):
        return fields[1] == (end - timedelta(days=21)).strftime("%m/%d/%Y") and "12:00" <= fields[3] < "16:00"
    if esiid.endswith("3"):
        return fields[1] == (end - timedelta(days=40)).strftime("%m/%d/%Y")
    return False


class Command(BaseCommand):
    help = "Store and normalize a year of demo SMT data (idempotent: the same bytes are stored once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=365)

    def handle(self, *args, days: int, **options) -> None:
        # The year up to yesterday, so every page has recent data; the same bytes (and sha256)
        # all day, so a second run the same day stores nothing new.
        start = timezone.localdate(timezone=CENTRAL) - timedelta(days=days)
        for esiid in DEMO_ESIIDS:
            with tempfile.TemporaryFile() as handle:
                end = start + timedelta(days=days)
                sha256, size = interval_csv_write(handle, esiids=[esiid], start=start, days=days, seed=int(esiid[-3:]),
                                                  skip=lambda line: _demo_gap(line, esiid=esiid, end=end))
                stored = ingest.raw_file_store(
                    fileobj=handle, sha256=sha256, size=size,
                    filename=f"IntervalData-demo-{esiid}-{start.year}.csv", source="demo", esiid=esiid, meter="DEMO",
                    kind="interval", uploader="demo", origin=RawSmtFile.Origin.COMMAND,
                )
            raw = stored.raw_file
            if stored.duplicate and raw.status == "normalized":
                self.stdout.write(f"demo data for {esiid}: already loaded (raw file {raw.pk})")
                continue
            stats = ingest.raw_file_normalize(raw_file=raw)
            self.stdout.write(f"demo data for {esiid}: {stats['intervalsInserted']} intervals, {stats['totalKwh']:.1f} kWh")
        # A demo customer owning the first meter, so the customer pages have something to show.
        call_command("ensure_admin", username="customer", customer=True, stdout=self.stdout)
        House.objects.get_or_create(customer=get_user_model().objects.get(username="customer"), esiid=DEMO_ESIIDS[0],
                                    defaults={"name": "Demo house, 1 Elm St", "meter": "DEMO"})
        result = telemetry_demo_load()
        if result["loaded"]:
            self.stdout.write(f"demo telemetry: {result['devices']} devices, {result['readings']} readings")
        else:
            self.stdout.write("demo telemetry: already loaded")
        ercot = ercot_demo_load()
        if ercot["stored"] or ercot["loaded"]:
            self.stdout.write(f"demo ERCOT extract: {ercot['stored']} zips stored, {ercot['rows']} ESIID records loaded")
        else:
            self.stdout.write("demo ERCOT extract: already loaded")
