"""django-q2 entry points: thin wrappers around telemetry.reconcile."""

from django.utils import timezone

from ops import jobs
from ops.models import JobRun
from telemetry import reconcile


def ledger_reconcile() -> dict | None:
    """Runs hourly; does the work when reconcile.reconcile_due says (02:00 local, once a day)."""
    if not reconcile.reconcile_due(timezone.now()):
        return None
    return jobs.job_run_call(kind=JobRun.Kind.RECONCILE, trigger=JobRun.Trigger.SCHEDULE, call=_reconcile_recorded)


def _reconcile_recorded(recorder: jobs.JobRecorder) -> dict:
    result = reconcile.ledger_reconcile()
    recorder.count("deviceDays", result["device_days"])
    recorder.count("ticketsOpened", sum(result["tickets_opened"].values()))
    recorder.note(f"local day {result['day']}: tickets opened {result['tickets_opened'] or 'none'}")
    return result


def events_prune() -> int:
    return jobs.job_run_call(kind=JobRun.Kind.PRUNE, trigger=JobRun.Trigger.SCHEDULE, call=_prune_recorded)


def _prune_recorded(recorder: jobs.JobRecorder) -> int:
    deleted = reconcile.events_prune()
    recorder.count("eventsPruned", deleted)
    return deleted
