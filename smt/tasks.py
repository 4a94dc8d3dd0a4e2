"""django-q2 entry points: thin wrappers around the domain modules."""

import contextlib

from django.conf import settings

from ops.jobs import job_run_create, job_run_record, job_runs_fail_stalled
from ops.models import JobRun
from smt import ingest, mirror, partitions, sftp
from smt.models import RawSmtFile


def raw_file_normalize(raw_id: int, started_by: str = "") -> dict | None:
    if not RawSmtFile.objects.claim_for_normalize(raw_id):
        return None  # deleted, finished already, or another worker is on it right now
    raw = RawSmtFile.objects.get(pk=raw_id)
    job = job_run_create(
        kind=JobRun.Kind.NORMALIZE, trigger=JobRun.Trigger.QUEUE, esiid=raw.esiid_hint, started_by=started_by
    )
    with job_run_record(job=job) as recorder:
        return ingest.raw_file_ingest_recorded(
            raw_file=raw, label=f"raw file #{raw.pk} {raw.filename}", recorder=recorder
        )


def raw_files_requeue_stranded() -> int:
    """Every 5 minutes; recorded as a run only when it found something (a no-op sweep is noise)."""
    stalled = job_runs_fail_stalled(seconds=settings.Q_CLUSTER["timeout"])
    count = ingest.raw_files_requeue_stranded()
    if stalled or count:
        job = job_run_create(kind=JobRun.Kind.SWEEP, trigger=JobRun.Trigger.SCHEDULE)
        with job_run_record(job=job) as recorder:
            recorder.count("filesRequeued", count)
            recorder.count("runsFailed", len(stalled))
            recorder.note(f"queued {count} stranded file(s) again; marked run(s) {stalled or 'none'} failed")
    return count


def sftp_mirror(job_id: int | None = None) -> dict:
    """The schedule calls it bare; the webhook and the trigger page pass the queued run's id."""
    job = JobRun.objects.filter(pk=job_id).first() if job_id else None
    if job_id and (job is None or not job.active):
        return {"skipped": f"job {job_id} is gone or already finished"}
    job = job or job_run_create(kind=JobRun.Kind.MIRROR, trigger=JobRun.Trigger.SCHEDULE)
    # A failure is recorded on the run with its reason; retrying now would fail the same way.
    with contextlib.suppress(sftp.SftpError, OSError):
        mirror.mirror_run(job=job)
    job.refresh_from_db()
    return job.as_json()


def interval_partitions_maintain() -> dict:
    return partitions.interval_partitions_maintain()
