"""Reconcile one local day now (the schedule does yesterday at 02:00 TELEMETRY_TIME_ZONE)."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from telemetry.reconcile import ledger_reconcile


class Command(BaseCommand):
    help = "Check readings, ledger and daily totals of one local day; open review tickets for mismatches."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--date", help="local day YYYY-MM-DD (default: yesterday in TELEMETRY_TIME_ZONE)")

    def handle(self, *args, **options) -> None:
        try:
            day = date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError:
            raise CommandError(f"--date must be YYYY-MM-DD, got {options['date']!r}") from None
        result = ledger_reconcile(day=day)
        opened = ", ".join(f"{k}: {v}" for k, v in result["tickets_opened"].items()) or "none"
        self.stdout.write(f"{result['day']}: {result['device_days']} device-days checked; tickets opened: {opened}")
