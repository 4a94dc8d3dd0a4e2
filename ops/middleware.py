"""Request metrics: a count by method, status and view, and a duration histogram by view.

django-prometheus would do this but pins Django < 6.1 (docs/OPERATIONS.md). The view label is
the URL pattern's name, never the path, so the number of series stays fixed whatever is requested.
"""

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry, Counter, Histogram

# A private registry: the scrape (ops.metrics) decides whether to read these directly or, under
# PROMETHEUS_MULTIPROC_DIR, every worker's files; the default registry would list them twice.
_registry = CollectorRegistry(auto_describe=False)
REQUESTS = Counter(
    "wattledger_http_requests",
    "HTTP requests by method, status and view",
    ["method", "status", "view"],
    registry=_registry,
)
DURATION = Histogram(
    "wattledger_http_request_duration_seconds",
    "HTTP request duration by view",
    ["view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=_registry,
)
REQUEST_METRICS = (REQUESTS, DURATION)
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match else "") or "unresolved"
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(method, str(response.status_code), view).inc()
        DURATION.labels(view).observe(time.perf_counter() - started)
        return response
