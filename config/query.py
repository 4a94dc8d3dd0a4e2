"""One cleaning layer for every query string: staff filters, the admin and the JSON API.

Values the database or the calendar cannot hold are refused with a 400 naming the parameter,
before any view builds a query from them: PostgreSQL refuses NUL in text, Python's dates end at
year 9999 (and a local day's end is one day later), and a page number past bigint overflows
the OFFSET. Checked here once rather than in each FilterSet, form and admin list filter.
"""

import re
from collections.abc import Callable
from datetime import date

from django.http import HttpRequest, HttpResponse, JsonResponse

# Meter data starts in the 2000s; the window leaves room either side and keeps every
# "day + 1" and time-zone shift far from Python's date limits.
DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2199, 12, 31)
PAGE_PARAMS = ("page", "p")  # django-tables2 and the Django admin
PAGE_MAX = 1_000_000
DATE_VALUE = re.compile(r"(\d{4,})-(\d{2})-(\d{2})(?:[T ].*)?")


def query_problem(name: str, value: str) -> str | None:
    """What is wrong with one query parameter, or None."""
    if "\x00" in name or "\x00" in value:
        return f"query parameter {name!r} contains a NUL character"
    if name in PAGE_PARAMS and value.isdigit() and int(value) > PAGE_MAX:
        return f"query parameter {name!r} must be a page number up to {PAGE_MAX}"
    match = DATE_VALUE.fullmatch(value.strip())
    if match and not DATE_MIN.year <= int(match[1]) <= DATE_MAX.year:
        return f"query parameter {name!r}: dates must fall between {DATE_MIN} and {DATE_MAX}"
    return None


class QueryGuardMiddleware:
    """Answers 400 (JSON under /api/) to the first bad query parameter; other requests pass."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name, values in request.GET.lists():
            problem = next(filter(None, (query_problem(name, value) for value in values)), None)
            if problem:
                return bad_query(request, problem)
        return self.get_response(request)


def bad_query(request: HttpRequest, problem: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"ok": False, "error": problem}, status=400)
    return HttpResponse(problem, status=400, content_type="text/plain; charset=utf-8")
