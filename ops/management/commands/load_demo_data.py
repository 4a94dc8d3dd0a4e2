"""Demo data for every source app, each through its own real ingest path."""

from django.core.management.base import BaseCommand, CommandParser
from django.utils.module_loading import import_string

# ops imports no source app (docs/ARCHITECTURE.md): each app's loader is found by its dotted
# path at run time, in this order (the ERCOT extract lists the SMT demo meters).
SMT_LOADER = "smt.demo.smt_demo_load"
TELEMETRY_LOADER = "telemetry.demo.telemetry_demo_load"
ERCOT_LOADER = "ercot.demo.ercot_demo_load"


class Command(BaseCommand):
    help = "Store and normalize a year of demo SMT data, telemetry and an ERCOT extract (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=365, help="days of SMT intervals per demo meter")

    def handle(self, *args, days: int, **options) -> None:
        import_string(SMT_LOADER)(stdout=self.stdout, days=days)
        import_string(TELEMETRY_LOADER)(stdout=self.stdout)
        import_string(ERCOT_LOADER)(stdout=self.stdout)
