"""Sign-in throttling: repeated failures lock out a user name from an address, and an address.

Counts live in the "login-throttle" cache, a database table (`manage.py createcachetable`), so
every gunicorn worker sees the same counts; the default cache is per process. Only failures
count; a success clears its user-and-address count. Thresholds: docs/SECURITY.md.
"""

import hashlib

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse


def client_address(request: HttpRequest | None) -> str:
    """The address nginx saw: the last X-Forwarded-For entry ($proxy_add_x_forwarded_for appends it).

    gunicorn on a unix socket has no REMOTE_ADDR; earlier X-Forwarded-For entries come from the
    client and are not trusted.
    """
    if request is None:
        return ""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "") if settings.LOGIN_TRUST_FORWARDED_FOR else ""
    return forwarded.rsplit(",", 1)[-1].strip() or request.META.get("REMOTE_ADDR", "")


def _keys(username: str, address: str) -> tuple[str, str]:
    # Hashed: a user name may hold any character, and cache keys must stay short and plain.
    user = hashlib.sha256(f"{username.casefold()}\n{address}".encode()).hexdigest()
    return f"login:user:{user}", f"login:addr:{hashlib.sha256(address.encode()).hexdigest()}"


def login_locked(*, username: str, address: str) -> bool:
    user_key, addr_key = _keys(username, address)
    counts = caches["login-throttle"].get_many([user_key, addr_key])
    return (
        counts.get(user_key, 0) >= settings.LOGIN_FAILURE_LIMIT
        or counts.get(addr_key, 0) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT
    )


def login_failure_record(*, username: str, address: str) -> None:
    """Count one failure; the lockout window restarts with each failure."""
    cache = caches["login-throttle"]
    for key in _keys(username, address):
        # get-then-set, not atomic: two racing failures may count once, which only delays the
        # lockout by one attempt.
        cache.set(key, cache.get(key, 0) + 1, settings.LOGIN_LOCKOUT_SECONDS)


def login_success_record(*, username: str, address: str) -> None:
    caches["login-throttle"].delete(_keys(username, address)[0])


class ThrottledLoginMixin:
    """For AuthenticationForm and its admin subclass: refuse early while locked out."""

    locked_out = False

    def clean(self) -> dict:
        username, address = self.data.get("username", ""), client_address(self.request)
        if login_locked(username=username, address=address):
            self.locked_out = True
            minutes = max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
            raise forms.ValidationError(
                f"Too many failed sign-ins. Sign-in is locked for this account from your address; "
                f"try again in {minutes} minutes.",
                code="locked_out",
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            login_failure_record(username=username, address=address)
            raise
        login_success_record(username=username, address=address)
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


class ThrottledLoginView(LoginView):
    """The sign-in page; a locked-out attempt gets 429 and the lockout message."""

    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form: ThrottledAuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.locked_out:
            response.status_code = 429
        return response
