"""django-q2 entry points: thin wrappers around ercot.ingest."""

from ercot import ingest
from ercot.models import ErcotIngest
from ops import jobs
from ops.models import JobRun


def ercot_fetch(started_by: str = "") -> dict:
    return jobs.job_run_call(
        kind=JobRun.Kind.ERCOT_FETCH, trigger=JobRun.Trigger.SCHEDULE, call=_fetch_recorded, started_by=started_by
    )


def ercot_fetch_if_missing() -> dict | None:
    """The retry polls: fetch again only while today's files are still missing."""
    if not ingest.ercot_missing_today():
        return None
    return ercot_fetch()


def _fetch_recorded(recorder: jobs.JobRecorder) -> dict:
    result = ingest.ercot_fetch().as_json()
    recorder.note(
        f"method {result['method'] or 'none'}"
        + (f" (after {', '.join(result['fallbacks'])})" if result["fallbacks"] else "")
    )
    for item in result["results"]:
        if "error" in item:
            recorder.count("failed")
            recorder.note(f"{item.get('name') or item.get('key')}: {item['error']}", failed=True)
        else:
            recorder.count("skipped" if item.get("skipped") else "stored")
            recorder.count("bytes", item.get("bytes", 0))
    if result["method"] is None:
        recorder.note("no ERCOT fetch path worked; /api/admin/ercot/cron/health names what is missing", failed=True)
    return result


def ingest_load(ingest_id: int) -> int | None:
    row = ErcotIngest.objects.done().filter(pk=ingest_id).first()
    if row is None:
        return None  # failed or deleted meanwhile
    return ingest.ingest_load(ingest=row).rows
