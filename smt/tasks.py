"""django-q2 entry points: thin wrappers around the domain modules."""

from smt import ingest, mirror, pipeline, sftp
from smt.jobs import job_run_create
from smt.models import JobRun, RawSmtFile


def raw_file_normalize(raw_id: int) -> dict | None:
    raw = RawSmtFile.objects.filter(pk=raw_id).first()
    if raw is None or raw.status == RawSmtFile.Status.NORMALIZED:
        return None  # deleted, or a retry of work that already finished
    return pipeline.raw_file_ingest(raw_file=raw)


def raw_files_requeue_stranded() -> int:
    return ingest.raw_files_requeue_stranded()


def sftp_mirror(job_id: int | None = None) -> dict:
    """The schedule calls it bare; the webhook and the trigger page pass the queued run's id."""
    job = JobRun.objects.filter(pk=job_id).first() if job_id else None
    if job_id and (job is None or not job.active):
        return {"skipped": f"job {job_id} is gone or already finished"}
    job = job or job_run_create(kind=JobRun.Kind.MIRROR, trigger=JobRun.Trigger.SCHEDULE)
    try:
        mirror.mirror_run(job=job)
    except sftp.SftpError:
        pass  # recorded on the run with its reason; retrying now would fail the same way
    job.refresh_from_db()
    return job.as_json()
