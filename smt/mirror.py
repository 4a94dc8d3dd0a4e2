"""The SFTP mirror: fetch what SMT delivered and we have not seen, store it raw, ingest it.

A remote file is known by (path, size, mtime); a file that changed is fetched again and then
known by its sha256, so the same bytes under a new name or time are not ingested twice. A file
that vanishes or fails mid-run fails alone: the run goes on and reports it.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ops.jobs import JobRecorder, job_run_create, job_run_record, job_run_skip
from ops.models import JobRun
from smt import ingest, sftp, storage
from smt.models import MirroredFile, RawSmtFile

# A mirror run older than this is presumed dead (its worker was killed) and does not block.
STALE_RUN = timedelta(hours=2)


def mirror_missing_settings() -> list[str]:
    """The settings the SFTP mirror still needs (none: it can run)."""
    return [name for name in ("SMT_HOST", "SMT_USER", "SMT_KEY", "SMT_KNOWN_HOSTS") if not getattr(settings, name)]


def sftp_config() -> sftp.SftpConfig:
    if missing := mirror_missing_settings():
        raise sftp.SftpError(f"SFTP mirror is not configured: set {', '.join(missing)}")
    return sftp.SftpConfig(
        host=settings.SMT_HOST,
        port=settings.SMT_PORT,
        user=settings.SMT_USER,
        key_path=settings.SMT_KEY,
        known_hosts=settings.SMT_KNOWN_HOSTS,
        remote_dir=settings.SMT_REMOTE_DIR,
        timeout=settings.SMT_SFTP_TIMEOUT,
        key_passphrase=settings.SMT_KEY_PASSPHRASE,
    )


def mirror_run(
    *, job: JobRun | None = None, trigger: str = JobRun.Trigger.SCHEDULE, ingest_files: bool = True
) -> JobRun:
    """One recorded mirror run (a queued `job` from the webhook or trigger page, or a new one).

    Skipped when another mirror run is active: two runs would fetch the same new files.
    Raises SftpError when the server cannot be reached or verified (recorded as failed).
    """
    job = job or job_run_create(kind=JobRun.Kind.MIRROR, trigger=trigger)
    if job.trigger == JobRun.Trigger.SCHEDULE and not settings.SMT_HOST:
        # A site without SMT access (a local run): the schedule has nothing to do; asked for, it fails.
        job_run_skip(job=job, reason="SFTP mirror is not configured (SMT_HOST is not set)")
        return job
    other = (
        JobRun.objects.filter(
            kind=JobRun.Kind.MIRROR, status=JobRun.Status.RUNNING, started_at__gte=timezone.now() - STALE_RUN
        )
        .exclude(pk=job.pk)
        .first()
    )
    if other is not None:
        job_run_skip(job=job, reason=f"mirror run #{other.pk} is still running; it fetches the same files")
        return job
    with job_run_record(job=job) as recorder:
        config = sftp_config()
        recorder.note(f"connecting to {config.user}@{config.host}:{config.port}, folder {config.remote_dir}")
        with sftp.sftp_session(config) as client:
            listing = sftp.sftp_walk(
                client,
                config.remote_dir,
                on_error=lambda folder, exc: recorder.note(
                    f"{folder}: cannot list folder: {exc.strerror or exc}", failed=True
                ),
            )
            entries = mirror_changed(listing, recorder)
            mirror_fetch_all(client, config, entries, recorder, ingest_files=ingest_files)
        if job.esiid:
            _esiid_summary(job, recorder)
        recorder.note("done: " + ", ".join(f"{label} {value}" for label, value, _ in job.counts_display()))
    return job


def mirror_changed(listing, recorder: JobRecorder) -> list[sftp.RemoteEntry]:
    """The listed files not yet mirrored with the same size and mtime."""
    entries = list(listing)
    recorder.count("listed", len(entries))
    known = {m.remote_path: m for m in MirroredFile.objects.filter(remote_path__in=[e.path for e in entries])}
    changed = [e for e in entries if e.path not in known or not known[e.path].matches(size=e.size, mtime=e.mtime)]
    if len(entries) > len(changed):
        recorder.count("unchanged", len(entries) - len(changed))
    return changed


def mirror_fetch_all(
    client, config: sftp.SftpConfig, entries: list[sftp.RemoteEntry], recorder: JobRecorder, *, ingest_files: bool
) -> None:
    """Fetch over a few connections (worker threads stream into storage); register and ingest
    here, in order of arrival, so ingesting one file overlaps fetching the next ones."""

    def stream(remote, entry: sftp.RemoteEntry) -> storage.StreamedFile:
        return storage.raw_file_stream(fileobj=remote, filename=entry.path.rsplit("/", 1)[-1])

    fetched = sftp.sftp_fetch_many(client, config, entries, stream, connections=settings.SMT_SFTP_CONNECTIONS)
    for entry, outcome in fetched:
        if entry is None:
            recorder.note(f"an extra connection was refused ({outcome}); going on with fewer")
        elif isinstance(outcome, Exception):  # vanished, permission denied, storage error: this file only
            recorder.count("failed")
            recorder.note(f"{entry.path}: fetch failed: {getattr(outcome, 'strerror', None) or outcome}", failed=True)
        else:
            _mirror_register(entry, outcome, recorder, ingest_files=ingest_files)


def _mirror_register(
    entry: sftp.RemoteEntry, streamed: storage.StreamedFile, recorder: JobRecorder, *, ingest_files: bool
) -> None:
    with transaction.atomic():  # one commit per file: the raw file and where it came from
        stored = storage.raw_file_register_streamed(streamed=streamed, source="sftp", origin=RawSmtFile.Origin.MIRROR)
        MirroredFile.objects.update_or_create(
            remote_path=entry.path,
            defaults={
                "size_bytes": entry.size,
                "mtime": entry.mtime,
                "sha256": streamed.sha256,
                "raw_file": stored.raw_file,
                "mirrored_at": timezone.now(),
            },
        )
    raw = stored.raw_file
    recorder.count("fetched")
    recorder.count("bytes", streamed.size)
    if stored.duplicate:
        recorder.count("duplicates")
        recorder.note(f"{entry.path}: same bytes as raw file #{raw.pk}; not ingested again")
        return
    recorder.note(f"{entry.path}: stored as raw file #{raw.pk} ({streamed.size} bytes)")
    if ingest_files:
        ingest.raw_file_ingest_recorded(raw_file=raw, label=entry.path, recorder=recorder)


def _esiid_summary(job: JobRun, recorder: JobRecorder) -> None:
    """For an ESIID trigger: what this run stored for that ESIID."""
    from smt.models import SmtBillingRead, SmtInterval

    files = RawSmtFile.objects.filter(received_at__gte=job.started_at)
    intervals = SmtInterval.objects.filter(esiid=job.esiid, raw_file__in=files).count()
    reads = SmtBillingRead.objects.filter(esiid=job.esiid, raw_file__in=files).count()
    recorder.count("esiidIntervals", intervals)
    recorder.count("esiidBillingReads", reads)
    recorder.note(f"ESIID {job.esiid}: {intervals} intervals and {reads} billing reads from this run")


def mirror_queue(*, trigger: str, esiid: str = "", started_by: str = "") -> JobRun:
    """A queued mirror + ingest run (webhook, trigger page); the worker records its progress."""
    from django_q.tasks import async_task

    job = job_run_create(kind=JobRun.Kind.MIRROR, trigger=trigger, esiid=esiid, started_by=started_by)
    task_id = async_task("smt.tasks.sftp_mirror", job.pk, task_name=f"smt-mirror-{job.pk}", group="smt-mirror")
    JobRun.objects.filter(pk=job.pk).update(task_id=task_id or "")
    job.refresh_from_db()
    return job
