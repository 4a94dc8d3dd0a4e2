"""The JSON API (django-ninja): OpenAPI docs at /api/docs for staff."""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from config.auth import ADMIN_API_AUTH, staff_required
from ercot.api import router as ercot_router
from ops.api import router as jobs_router
from smt.api.admin import router as smt_router
from smt.api.user import router as user_router
from telemetry.api import router as telemetry_router

api = NinjaAPI(
    title="Wattledger API",
    version="1",
    urls_namespace="api",
    auth=ADMIN_API_AUTH,
    docs_url="/docs",
    docs_decorator=staff_required,
)
api.add_router("/admin/", smt_router)
api.add_router("/user/", user_router)
api.add_router("/admin/", ercot_router)
api.add_router("/power-analytics/", telemetry_router)
api.add_router("/admin/", jobs_router)


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = []
    for error in exc.errors:
        field = ".".join(str(part) for part in error.get("loc", []) if part not in ("body", "query", "payload"))
        problems.append(f"{field or 'body'}: {error.get('msg')}")
    status = 400 if any(e.get("type") == "json_invalid" for e in exc.errors) else 422
    return api.create_response(
        request, {"ok": False, "error": "; ".join(problems), "detail": exc.errors}, status=status
    )


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return api.create_response(request, {"ok": False, "error": str(exc)}, status=exc.status_code)


@api.exception_handler(AuthenticationError)
def auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    message = "authentication required: x-admin-token, Authorization: Bearer, or a staff session (with CSRF)"
    return api.create_response(request, {"ok": False, "error": message}, status=401)


@api.exception_handler(RequestDataTooBig)
def body_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    message = "request body too large for the JSON API; stream files with multipart to /upload"
    return api.create_response(request, {"ok": False, "error": message}, status=413)
