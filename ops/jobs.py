"""Job runs: every background run is recorded, so an admin sees what ran, what broke and why."""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.utils import timezone

from ops.models import JobRun

log = logging.getLogger(__name__)
T = TypeVar("T")
LOG_MAX_CHARS = 20_000
# Counts that say what was looked at, not what was done: they make no run a success.
NEUTRAL_COUNTS = {"listed", "bytes"}
SAVE_EVERY_SECONDS = 1.0


class JobRecorder:
    """Collects counts and log lines of one run and saves them at most once a second."""

    def __init__(self, job: JobRun):
        self.job = job
        self.failures = 0
        self.successes = 0
        self._saved = 0.0

    def count(self, name: str, by: int = 1) -> None:
        """A count for the Jobs page; any count but a failure ("...Failed") or NEUTRAL_COUNTS is a success."""
        self.job.counts[name] = self.job.counts.get(name, 0) + by
        if by > 0 and "ailed" not in name and name not in NEUTRAL_COUNTS:
            self.successes += by
        self._save_soon()

    def note(self, message: str, *, failed: bool = False) -> None:
        """A log line for the run; `failed` marks a per-item failure (the run goes on)."""
        if failed:
            self.failures += 1
        stamp = timezone.localtime().strftime("%H:%M:%S %Z")  # the zone: the Jobs pages show this log as is
        text = self.job.log + f"{stamp} {'ERROR ' if failed else ''}{message}\n"
        # Keep the end: the latest lines say what the run was doing when it stopped.
        self.job.log = text[-LOG_MAX_CHARS:]
        (log.warning if failed else log.info)("job %s: %s", self.job.pk, message)
        self._save_soon()

    def _save_soon(self) -> None:
        now = time.monotonic()
        if now - self._saved >= SAVE_EVERY_SECONDS:
            self._saved = now
            self.job.save(update_fields=["counts", "log"])


def job_run_create(*, kind: str, trigger: str, esiid: str = "", started_by: str = "") -> JobRun:
    """A queued run, so a caller has its id before a worker picks it up.

    `started_by` names who started it ("staff: admin"); left empty it is the trigger
    ("schedule", "command", "webhook").
    """
    return JobRun.objects.create(kind=kind, trigger=trigger, esiid=esiid, started_by=started_by or trigger)


def started_by_staff(user) -> str:
    """How a run started by a person's click reads on the Jobs pages."""
    return f"staff: {user.get_username()}"


@contextmanager
def job_run_record(*, job: JobRun) -> Iterator[JobRecorder]:
    """Mark `job` running; on exit record succeeded, partial (some items failed, some did not) or
    failed (it raised, or items failed and nothing succeeded).

    The exception is re-raised after it is recorded, so commands exit non-zero and the
    worker's task shows the failure too.
    """
    job.status, job.started_at = JobRun.Status.RUNNING, timezone.now()
    job.save(update_fields=["status", "started_at"])
    recorder = JobRecorder(job)
    try:
        yield recorder
    except Exception as exc:
        recorder.note(f"run failed: {exc.__class__.__name__}: {exc}", failed=True)
        _finish(job, JobRun.Status.FAILED, error=f"{exc.__class__.__name__}: {exc}")
        raise
    if job.status == JobRun.Status.RUNNING:
        _finish(
            job,
            job_run_outcome(failures=recorder.failures, successes=recorder.successes),
            error=f"{recorder.failures} item(s) failed; see the log" if recorder.failures else "",
        )


def job_run_outcome(*, failures: int, successes: int) -> str:
    """A run in which nothing succeeded failed, however politely it finished."""
    if not failures:
        return JobRun.Status.SUCCEEDED
    return JobRun.Status.PARTIAL if successes else JobRun.Status.FAILED


def job_run_call[T](*, kind: str, trigger: str, call: Callable[[JobRecorder], T], started_by: str = "") -> T:
    """Run `call` as a recorded job: for the scheduled jobs of other apps (ERCOT, telemetry)."""
    with job_run_record(job=job_run_create(kind=kind, trigger=trigger, started_by=started_by)) as recorder:
        return call(recorder)


def job_run_skip(*, job: JobRun, reason: str) -> None:
    job.log += f"{timezone.localtime():%H:%M:%S %Z} {reason}\n"
    _finish(job, JobRun.Status.SKIPPED, error=reason)


def _finish(job: JobRun, status: str, *, error: str = "") -> None:
    job.status, job.error, job.finished_at = status, error, timezone.now()
    job.started_at = job.started_at or job.finished_at
    job.save(update_fields=["status", "error", "finished_at", "started_at", "counts", "log"])


def job_runs_fail_stalled(*, seconds: int) -> list[int]:
    """Mark runs whose worker died as failed, so the Jobs page stops waiting for them."""
    stalled = list(JobRun.objects.stalled(seconds=seconds).values_list("pk", flat=True))
    for job in JobRun.objects.filter(pk__in=stalled):
        _finish(
            job, JobRun.Status.FAILED, error=f"no result after {seconds} s: the worker stopped (killed or restarted)"
        )
    return stalled
