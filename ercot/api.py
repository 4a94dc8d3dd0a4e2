"""Cron endpoints under /api/admin/ercot/: run a fetch now, and check the configuration."""

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Status

from config.auth import ADMIN_API_AUTH, AdminBearer, AdminTokenHeader, token_matches
from ercot import ingest


class CronCaller:
    """CRON_SECRET in an X-Cron-Token header or ?token=, or a trusted scheduler's header
    (CRON_HEADER, "Name" or "Name: value").

    Prefer the header: a query string reaches access logs (ours scrub token=, docs/SECURITY.md).

    The header is only trustworthy when the proxy in front strips it from outside requests (as
    App Engine does for X-Appengine-Cron); leave CRON_HEADER empty otherwise.
    """

    def __call__(self, request: HttpRequest) -> str | None:
        if token_matches(request.headers.get("x-cron-token"), settings.CRON_SECRET):
            return "cron:token"
        if token_matches(request.GET.get("token"), settings.CRON_SECRET):
            return "cron:token"
        name, _, value = settings.CRON_HEADER.partition(":")
        given = request.headers.get(name.strip()) if name.strip() else None
        if given is not None and (
            token_matches(given.strip(), value.strip()) if value.strip() else given.strip().lower() in ("true", "1")
        ):
            return "cron:header"
        return None


router = Router(tags=["ercot"], auth=[CronCaller(), *ADMIN_API_AUTH])
# GET is for schedulers, which hold a secret a browser never sends by itself. A staff session
# cookie is sent with any cross-site GET, and GET is exempt from CSRF: sessions must POST.
SCHEDULER_AUTH = [CronCaller(), AdminTokenHeader(), AdminBearer()]


@router.get("/ercot/cron", response={200: dict, 502: dict}, auth=SCHEDULER_AUTH)
def ercot_cron(request: HttpRequest):
    """Fetch every ERCOT extract not stored yet: `{ok, results: [{key, bytes} | {key, skipped} | {name, error}]}`."""
    return _fetch_now()


@router.post("/ercot/cron", response={200: dict, 502: dict})
def ercot_cron_post(request: HttpRequest):
    """The same fetch for a staff session (with its CSRF token) or any caller GET accepts."""
    return _fetch_now()


def _fetch_now() -> Status:
    run = ingest.ercot_fetch()
    body = run.as_json()
    body["results"] = [{k: v for k, v in r.items() if k != "ingestId"} for r in body["results"]]
    return Status(200 if run.ok else 502, body)


@router.get("/ercot/cron/health")
def ercot_cron_health(request: HttpRequest) -> dict:
    """`{ok, method, missing}`: the fetch path in use and any variable a configured path lacks. No download."""
    return ingest.ercot_health()
