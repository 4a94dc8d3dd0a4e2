"""Mirror the SMT SFTP folder now (the `smt-sftp-mirror` schedule runs the same every 30 minutes)."""

from django.core.management.base import BaseCommand, CommandError

from ops.models import JobRun
from smt import mirror, sftp


class Command(BaseCommand):
    help = "Fetch new files from SMT_HOST over SFTP into storage, register and ingest them; recorded as a job run."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-ingest", action="store_true", help="fetch and register only (ingest later)")

    def handle(self, *args, no_ingest: bool, **options) -> None:
        try:
            job = mirror.mirror_run(trigger=JobRun.Trigger.COMMAND, ingest_files=not no_ingest)
        except sftp.SftpError as exc:
            raise CommandError(str(exc)) from None
        counts = ", ".join(f"{label} {value}" for label, value, _ in job.counts_display()) or "nothing listed"
        self.stdout.write(f"mirror run #{job.pk} {job.status}: {counts}")
        if job.status == JobRun.Status.PARTIAL:
            raise CommandError(f"{job.error} (run #{job.pk})")
