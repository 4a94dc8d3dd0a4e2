"""Who is calling: staff sessions and the shared tokens, compared in constant time."""

import hmac
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth


def token_matches(given: str | None, expected: str) -> bool:
    """No configured token means that token auth is off."""
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def admin_token_given(request: HttpRequest) -> bool:
    header = request.headers.get("x-admin-token")
    auth = request.headers.get("authorization", "")
    bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    return token_matches(header, settings.ADMIN_TOKEN) or token_matches(bearer, settings.ADMIN_TOKEN)


def request_identity(request: HttpRequest, *, upload_token: bool = False) -> str | None:
    """ "token:admin", "token:upload", "user:<name>" for staff, or None."""
    if admin_token_given(request):
        return "token:admin"
    if upload_token and token_matches(request.headers.get("x-smt-upload-token"), settings.SMT_UPLOAD_TOKEN):
        return "token:upload"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return f"user:{user.get_username()}"
    return None


def staff_required(view: Callable) -> Callable:
    """Anonymous users go to the login page; signed-in non-staff get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied("Staff only")
        return view(request, *args, **kwargs)

    return wrapper


class AdminTokenHeader(APIKeyHeader):
    param_name = "x-admin-token"

    def authenticate(self, request: HttpRequest, key: str | None) -> str | None:
        return "token:admin" if token_matches(key, settings.ADMIN_TOKEN) else None


class AdminBearer(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> str | None:
        return "token:admin" if token_matches(token, settings.ADMIN_TOKEN) else None


class StaffSession(SessionAuth):
    """A staff browser session; django-ninja checks CSRF for cookie auth."""

    def authenticate(self, request: HttpRequest, key: str | None):
        user = request.user
        if user.is_authenticated and user.is_staff:
            return f"user:{user.get_username()}"
        return None


ADMIN_API_AUTH = [AdminTokenHeader(), AdminBearer(), StaffSession()]
