"""Create or update every periodic job of the project, and remove the ones no longer listed."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django_q.models import Schedule

SCHEDULES = [
    # https://crontab.guru/#*/5_*_*_*_*  files a dead worker left behind are queued again
    {"name": "smt-requeue-stranded", "func": "smt.tasks.raw_files_requeue_stranded", "cron": "*/5 * * * *"},
    # https://crontab.guru/#0_12_*_*_*  ERCOT_CRON: after the ~06:00 CT DAILY posting
    {"name": "ercot-fetch", "func": "ercot.tasks.ercot_fetch", "cron": settings.ERCOT_CRON},
    # https://crontab.guru/#0_1,15_*_*_*  two more polls (09:00 and ~19:00 CT), only while today's
    # files are missing: ERCOT's terms allow at most 3 polls a day for a daily product.
    {"name": "ercot-fetch-retry", "func": "ercot.tasks.ercot_fetch_if_missing", "cron": "0 1,15 * * *"},
    # https://crontab.guru/#*/30_*_*_*_*  fetch and ingest what SMT delivered over SFTP
    {"name": "smt-sftp-mirror", "func": "smt.tasks.sftp_mirror", "cron": "*/30 * * * *"},
    # https://crontab.guru/#0_*_*_*_*  hourly; the task works only at 02:00 TELEMETRY_TIME_ZONE (any cluster zone, DST-safe)
    {"name": "telemetry-reconcile", "func": "telemetry.tasks.ledger_reconcile", "cron": "0 * * * *"},
    # https://crontab.guru/#15_3_*_*_*  smt_interval partitions for the coming months; SMT_RETENTION_DAYS
    {"name": "smt-partitions", "func": "smt.tasks.interval_partitions_maintain", "cron": "15 3 * * *"},
    # https://crontab.guru/#*_*_*_*_*  every monitor evaluated; changes alerted (docs/OPERATIONS.md)
    {"name": "monitors-check", "func": "ops.tasks.monitors_check", "cron": "* * * * *"},
    # https://crontab.guru/#30_3_*_*_*  raw events past TELEMETRY_RETENTION_DAYS; ledger and totals stay
    {"name": "telemetry-prune", "func": "telemetry.tasks.events_prune", "cron": "30 3 * * *"},
]


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules (idempotent); delete stale ones."

    def handle(self, *args, **options) -> None:
        names = []
        for entry in SCHEDULES:
            entry = dict(entry)
            name = entry.pop("name")
            names.append(name)
            before = Schedule.objects.filter(name=name).values_list("cron", flat=True).first()
            schedule, created = Schedule.objects.update_or_create(
                name=name, defaults={"schedule_type": Schedule.CRON, "repeats": -1, **entry}
            )
            if not created and before != schedule.cron:
                # django-q2 computes next_run only on creation; a changed cron needs it again.
                schedule.next_run = schedule.calculate_next_run()
                schedule.save(update_fields=["next_run"])
        stale = Schedule.objects.exclude(name__in=names)
        removed = [s.name for s in stale]
        stale.delete()
        self.stdout.write(f"schedules: {', '.join(names)}" + (f"; removed {', '.join(removed)}" if removed else ""))
