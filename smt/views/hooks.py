"""Machine endpoints: the SMT trigger webhook and the SMT token proxy (shared secrets, no session)."""

import json
import logging
import time

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.auth import token_matches
from config.errors import json_error
from ops.models import JobRun
from smt import jwt_client, mirror, parser

log = logging.getLogger(__name__)
# Senders use different names for the same shared secret; any one of them is accepted.
WEBHOOK_SECRET_HEADERS = (
    "x-intelliwatt-secret",
    "x-droplet-webhook-secret",
    "x-proxy-secret",
    "x-smt-secret",
    "x-webhook-secret",
)


def _secret_header(request: HttpRequest) -> str | None:
    """The name of the header carrying the right secret, compared in constant time."""
    expected = settings.INTELLIWATT_WEBHOOK_SECRET
    matched = None
    for name in WEBHOOK_SECRET_HEADERS:
        if token_matches(request.headers.get(name), expected) and matched is None:
            matched = name
    return matched


@csrf_exempt
@require_POST
def smt_trigger_webhook(request: HttpRequest) -> JsonResponse:
    header = _secret_header(request)
    if header is None:
        log.warning("smt trigger webhook: refused, no valid secret header")
        return json_error(401, f"a valid shared secret is required in one of: {', '.join(WEBHOOK_SECRET_HEADERS)}")
    try:
        body = json.loads(request.body or b"")
    except ValueError:
        return json_error(400, 'body must be JSON like {"reason": "smt_authorized", "esiid": "..."}')
    if not isinstance(body, dict) or not isinstance(body.get("reason"), str) or not body["reason"].strip():
        return json_error(400, "body must be a JSON object with a non-empty string 'reason'")
    reason = body["reason"].strip()[:100]
    if reason != "smt_authorized":
        log.info("smt trigger webhook (%s): reason %r, nothing to do", header, reason)
        return JsonResponse({"ok": True, "queued": False, "reason": reason}, status=202)
    esiid = parser.parse_esiid(str(body.get("esiid") or ""))
    if esiid is None:
        return json_error(400, "'smt_authorized' needs 'esiid', a 17- or 22-digit ESIID")
    job = mirror.mirror_queue(trigger=JobRun.Trigger.WEBHOOK, esiid=esiid)
    log.info("smt trigger webhook (%s): smt_authorized for %s, mirror run #%s queued", header, esiid, job.pk)
    return JsonResponse(
        {
            "ok": True,
            "queued": True,
            "reason": reason,
            "esiid": esiid,
            "jobId": job.pk,
            "taskId": job.task_id,
            "status": job.status,
            "url": job.get_absolute_url(),
        },
        status=202,
    )


@csrf_exempt
@require_POST
def smt_token_proxy(request: HttpRequest) -> JsonResponse:
    if not token_matches(request.headers.get("x-proxy-token"), settings.SMT_PROXY_TOKEN):
        return json_error(401, "x-proxy-token is missing or wrong")
    if not (settings.SMT_API_BASE_URL and settings.SMT_USERNAME and settings.SMT_PASSWORD):
        return json_error(503, "the token proxy is not configured: set SMT_API_BASE_URL, SMT_USERNAME and SMT_PASSWORD")
    started = time.monotonic()
    try:
        answer = jwt_client.token_request(
            base_url=settings.SMT_API_BASE_URL,
            username=settings.SMT_USERNAME,
            password=settings.SMT_PASSWORD,
            timeout=settings.SMT_API_TIMEOUT,
        )
    except jwt_client.SmtApiError as exc:
        log.warning("smt token proxy: %s", exc)
        return JsonResponse(
            {"ok": False, "via": "smt-token-proxy", "smtStatusCode": None, "error": str(exc)}, status=502
        )
    ok = 200 <= answer.status < 300
    # The answer holds the token: log the status only.
    log.info("smt token proxy: SMT answered %s in %.2f s", answer.status, time.monotonic() - started)
    body = {"ok": ok, "via": "smt-token-proxy", "smtStatusCode": answer.status, "smtBody": answer.body}
    return JsonResponse(body, status=200 if ok else 502)
