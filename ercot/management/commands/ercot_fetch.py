"""Fetch the ERCOT TDSP ESIID extracts now (the same run as the schedule and the cron endpoint)."""

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from ercot import ingest


class Command(BaseCommand):
    help = "Fetch every ERCOT TDSP ESIID extract not stored yet; queue their loading."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--date", type=date.fromisoformat, help="only files of this Central date (YYYY-MM-DD)")
        parser.add_argument("--method", choices=ingest.METHODS, help="force one fetch path (default: first configured)")
        parser.add_argument("--no-load", action="store_true", help="store the zips without loading EsiidRecord")

    def handle(self, *args, **options) -> None:
        run = ingest.ercot_fetch(method=options["method"], day=options["date"], load=not options["no_load"])
        self.stdout.write(json.dumps(run.as_json(), indent=2))
        if not run.ok:
            raise CommandError("some ERCOT files failed; see the errors above")
