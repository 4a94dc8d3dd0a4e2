"""A year of synthetic SMT intervals for a few ESIIDs, pushed through the real ingest path."""

import tempfile
from datetime import date, timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from smt import ingest
from smt.demo import DEMO_ESIIDS, interval_csv_write


class Command(BaseCommand):
    help = "Store and normalize a year of demo SMT data (idempotent: the same bytes are stored once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=365)

    def handle(self, *args, days: int, **options) -> None:
        # A fixed year keeps the bytes (and so the sha256) the same on every run.
        start = date(timezone.now().year - 1, 1, 1)
        for esiid in DEMO_ESIIDS:
            with tempfile.TemporaryFile() as handle:
                sha256, size = interval_csv_write(handle, esiids=[esiid], start=start, days=days, seed=int(esiid[-3:]))
                stored = ingest.raw_file_store(
                    fileobj=handle, sha256=sha256, size=size,
                    filename=f"IntervalData-demo-{esiid}-{start.year}.csv", source="demo", esiid=esiid, meter="DEMO",
                    kind="interval", uploader="demo",
                )
            raw = stored.raw_file
            if stored.duplicate and raw.status == "normalized":
                self.stdout.write(f"demo data for {esiid}: already loaded (raw file {raw.pk})")
                continue
            stats = ingest.raw_file_normalize(raw_file=raw)
            self.stdout.write(f"demo data for {esiid}: {stats['intervalsInserted']} intervals, {stats['totalKwh']:.1f} kWh")
