"""The status board (/ops/), a monitor's history and deliveries, pause and resume, /metrics."""

import ipaddress

from django.conf import settings
from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_tables2 import RequestConfig

from config.auth import request_identity, staff_required, token_matches
from config.htmx import HtmxHttpRequest
from ops import monitors
from ops.filters import JobRunFilter
from ops.forms import MonitorFilterForm, ReasonForm
from ops.metrics import metrics_render
from ops.models import JobRun, KindCheck, Monitor
from ops.tables import JobRunTable

STATE_ORDER = {Monitor.State.DOWN: 0, Monitor.State.LATE: 1, Monitor.State.PAUSED: 2, Monitor.State.UP: 3}
BOARD_ROWS = 500


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def monitor_list(request: HtmxHttpRequest) -> HttpResponse:
    form = MonitorFilterForm(request.GET)
    rows = Monitor.objects.all()
    if form.is_valid():
        rows = rows.filter(**{name: value for name, value in form.cleaned_data.items() if value})
    # Problems first; thousands of healthy ESIIDs would bury them.
    shown = sorted(
        rows.exclude(state=Monitor.State.UP)[:BOARD_ROWS], key=lambda m: (STATE_ORDER[m.state], -m.since.timestamp())
    )
    up = rows.filter(state=Monitor.State.UP)
    context = {
        "form": form,
        "monitors": shown + list(up.order_by("kind", "subject")[: max(0, BOARD_ROWS - len(shown))]),
        "counts": dict(Monitor.objects.values_list("state").annotate(n=Count("pk"))),
        "up_total": up.count(),
        "checks": {c.kind: c for c in KindCheck.objects.all()},
    }
    template = "ops/monitor_list.html"
    if request.htmx:
        template += "#monitor-board"
    return render(request, template, context)


@require_GET
@staff_required
def monitor_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    monitor = get_object_or_404(Monitor, pk=pk)
    events = monitor.events.prefetch_related("deliveries")[:100]
    return render(request, "ops/monitor_detail.html", {"monitor": monitor, "events": events, "form": ReasonForm()})


@require_POST
@staff_required
def monitor_pause(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _pause_or_resume(request, pk, pause=True)


@require_POST
@staff_required
def monitor_resume(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _pause_or_resume(request, pk, pause=False)


def _pause_or_resume(request: HtmxHttpRequest, pk: int, *, pause: bool) -> HttpResponse:
    monitor = get_object_or_404(Monitor, pk=pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        events = monitor.events.prefetch_related("deliveries")[:100]
        return render(
            request, "ops/monitor_detail.html", {"monitor": monitor, "events": events, "form": form}, status=400
        )
    actor, reason = request_identity(request), form.cleaned_data["reason"]
    if pause:
        done = monitors.monitor_pause(monitor=monitor, reason=reason, actor=actor)
    else:
        done = monitor.state == Monitor.State.PAUSED and monitors.monitor_resume(
            monitor=monitor, reason=reason, actor=actor
        )
    verb = "paused" if pause else "resumed"
    (messages.success if done else messages.warning)(
        request,
        f"{monitor.subject} {verb}"
        if done
        else f"{monitor.subject} was not {'running' if pause else 'paused'}; nothing changed",
    )
    return redirect(monitor)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponse(
            "Forbidden: staff session, METRICS_TOKEN bearer or METRICS_ALLOWED_IPS only\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(metrics_render(), content_type="text/plain; version=0.0.4; charset=utf-8")


def metrics_allowed(request: HttpRequest) -> bool:
    if request.user.is_authenticated and request.user.is_staff:
        return True
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and token_matches(auth[7:].strip(), settings.METRICS_TOKEN):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(allowed, strict=False) for allowed in settings.METRICS_ALLOWED_IPS)


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def job_list(request: HtmxHttpRequest) -> HttpResponse:
    runs = JobRunFilter(request.GET, queryset=JobRun.objects.all())
    table = JobRunTable(runs.qs)
    RequestConfig(request, paginate={"per_page": 25}).configure(table)
    template = "ops/job_list.html"
    if request.htmx:
        template += "#job-table"
    return render(request, template, {"filter": runs, "table": table, "busy": JobRun.objects.active().exists()})


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def job_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(JobRun, pk=pk)
    template = "ops/job_detail.html"
    if request.htmx:
        template += "#job-status"
    return render(request, template, {"job": job})
