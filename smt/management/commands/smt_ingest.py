"""Ingest local SMT files (interval CSV, DailyMeterUsage CSV, zip/gzip, PGP bundles) through the mirror's path."""

import hashlib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ops.jobs import job_run_create, job_run_record
from ops.models import JobRun
from smt import ingest, parser, storage
from smt.models import RawSmtFile


class Command(BaseCommand):
    help = "Store each PATH as a raw file and ingest it now; recorded as a job run. Exit 1 if any file failed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--source", default="cli")
        parser.add_argument("--esiid", default="", help="ESIID hint (rows always carry their own)")
        parser.add_argument("--meter", default="", help="meter id for the intervals")

    def handle(self, *args, paths: list[Path], source: str, esiid: str, meter: str, **options) -> None:
        if esiid and parser.parse_esiid(esiid) is None:
            raise CommandError(f"--esiid {esiid!r} is not a 17- or 22-digit ESIID")
        job = job_run_create(
            kind=JobRun.Kind.INGEST, trigger=JobRun.Trigger.COMMAND, esiid=parser.parse_esiid(esiid) or ""
        )
        with job_run_record(job=job) as recorder:
            for path in paths:
                self.ingest_one(path, recorder, source=source, esiid=job.esiid, meter=meter)
        counts = ", ".join(f"{label} {value}" for label, value, _ in job.counts_display())
        self.stdout.write(f"ingest run #{job.pk} {job.status}: {counts}")
        if job.status != JobRun.Status.SUCCEEDED:
            raise CommandError(f"{job.error} (run #{job.pk})")

    def ingest_one(self, path: Path, recorder, *, source: str, esiid: str, meter: str) -> None:
        try:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
                handle.seek(0)
                stored = storage.raw_file_store(
                    fileobj=handle,
                    sha256=digest.hexdigest(),
                    size=path.stat().st_size,
                    filename=path.name,
                    source=source,
                    esiid=esiid,
                    meter=meter,
                    uploader="cli",
                    origin=RawSmtFile.Origin.COMMAND,
                )
        except OSError as exc:
            recorder.count("failed")
            recorder.note(f"{path}: {exc.strerror or exc}", failed=True)
            return
        raw = stored.raw_file
        if stored.duplicate and raw.status == "normalized":
            recorder.count("duplicates")
            recorder.note(f"{path}: already ingested as raw file #{raw.pk}")
            return
        ingest.raw_file_ingest_recorded(raw_file=raw, label=str(path), recorder=recorder)
        self.stdout.write(recorder.job.log.splitlines()[-1])
