"""JSON API for job runs under /api/admin/: the list, and one run with its log."""

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from ops.models import JobRun

router = Router(tags=["jobs"])


class JobsQuery(Schema):
    kind: JobRun.Kind | None = None
    status: JobRun.Status | None = None
    limit: int = Field(50, ge=1, le=500)


@router.get("/jobs")
def jobs_list(request: HttpRequest, query: Query[JobsQuery]) -> dict:
    runs = JobRun.objects.all()
    if query.kind:
        runs = runs.filter(kind=query.kind)
    if query.status:
        runs = runs.filter(status=query.status)
    return {"ok": True, "jobs": [job.as_json() for job in runs[: query.limit]]}


@router.get("/jobs/{job_id}")
def job_detail(request: HttpRequest, job_id: int) -> dict:
    job = JobRun.objects.filter(pk=job_id).first()
    if job is None:
        raise HttpError(404, f"job run {job_id} not found")
    return {"ok": True, "job": job.as_json() | {"log": job.log}}
