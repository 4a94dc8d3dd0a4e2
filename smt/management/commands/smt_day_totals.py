"""Check (or rebuild) smt_interval_day, the per-day interval totals the daily summary reads."""

import sys

from django.core.management.base import BaseCommand

from smt import usage


class Command(BaseCommand):
    help = "Compare smt_interval_day with totals recomputed from smt_interval; --rebuild recomputes it."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--rebuild", action="store_true", help="recompute the table (locks interval writes meanwhile)"
        )

    def handle(self, *args, rebuild: bool = False, **options) -> None:
        if rebuild:
            rows = usage.day_totals_rebuild()
            self.stdout.write(self.style.SUCCESS(f"rebuilt smt_interval_day: {rows} day rows"))
            return
        drift = usage.day_totals_drift()
        if not drift:
            self.stdout.write(self.style.SUCCESS("smt_interval_day is in step with smt_interval"))
            return
        for row in drift[:20]:
            self.stderr.write(f"differs: {row}")
        self.stderr.write(f"{len(drift)} rows differ; run with --rebuild")
        sys.exit(1)
