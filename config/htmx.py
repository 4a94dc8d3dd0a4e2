"""The request type every view takes (Django's request with django-htmx's details attached), and
what an htmx request gets when its session has expired."""

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class HtmxLoginRedirectMiddleware:
    """An htmx request whose session has expired would follow the redirect to the login page and
    swap that whole page into a table fragment. Such a redirect becomes HX-Redirect instead: the
    browser goes to the login page, and back to the page the person was on (HX-Current-URL, its
    path only: never another host) once signed in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or response.status_code not in (301, 302, 303, 307, 308):
            return response
        login = resolve_url(settings.LOGIN_URL)
        if urlsplit(response.get("Location", "")).path != login:
            return response
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        local = current.path.startswith("/") and not current.path.startswith("//")  # never a protocol-relative URL
        back = current.path + (f"?{current.query}" if current.query else "") if local else "/"
        return HttpResponseClientRedirect(f"{login}?{urlencode({REDIRECT_FIELD_NAME: back})}")
