from datetime import timedelta

from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_tables2 import RequestConfig

from config.auth import staff_required
from config.htmx import HtmxHttpRequest
from ercot import extract
from ercot.filters import ErcotIngestFilter, esiid_search
from ercot.models import ErcotIngest, EsiidRecord
from ercot.tables import ErcotIngestTable, EsiidRecordTable
from ops.jobs import started_by_staff
from ops.models import JobRun

STRIP_DAYS = 31


def day_strip(*, today, days: int = STRIP_DAYS) -> dict:
    """The last `days` Central days, and per TDSP which of them have a stored file."""
    presence = ErcotIngest.objects.presence(end=today, days=days)
    dates = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    rows = [
        {"tdsp": tdsp, "cells": [{"day": d, "kind": by_day.get(d, "")} for d in dates]}
        for tdsp, by_day in sorted(presence.items())
    ]
    return {"dates": dates, "rows": rows, "months": _month_spans(dates)}


def _month_spans(dates: list) -> list[dict]:
    """The strip's month labels: one per month shown, spanning its days ("Nov 2026" over 1 to 30)."""
    spans: list[dict] = []
    for d in dates:
        if spans and spans[-1]["month"] == (d.year, d.month):
            spans[-1]["span"] += 1
        else:
            spans.append({"month": (d.year, d.month), "label": d.strftime("%b %Y"), "span": 1})
    return spans


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def ingest_list(request: HtmxHttpRequest) -> HttpResponse:
    files = ErcotIngestFilter(request.GET, queryset=ErcotIngest.objects.all())
    table = ErcotIngestTable(files.qs)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    template = "ercot/ingest_list.html"
    if request.htmx:
        template += "#ingest-table"
    today = timezone.localdate(timezone=extract.CENTRAL)
    context = {
        "filter": files,
        "table": table,
        "strip": day_strip(today=today),
        "today": today,
        "today_count": ErcotIngest.objects.done().filter(file_date=today).count(),
        "records": EsiidRecord.objects.estimated_count() if not request.htmx else None,
        "last_fetch": JobRun.objects.filter(kind=JobRun.Kind.ERCOT_FETCH).first(),
    }
    return render(request, template, context)


@require_POST
@staff_required
def ingest_fetch(request: HttpRequest) -> HttpResponse:
    from django_q.tasks import async_task

    async_task(
        "ercot.tasks.ercot_fetch", started_by_staff(request.user), task_name="ercot-fetch-now", group="ercot-fetch"
    )
    messages.success(request, "ERCOT fetch queued: new files appear below as they are stored.")
    return redirect("ercot:ingest-list")


@require_GET
@staff_required
def ingest_download(request: HttpRequest, pk: int) -> FileResponse:
    row = get_object_or_404(ErcotIngest.objects.done(), pk=pk)
    return FileResponse(default_storage.open(row.storage_key, "rb"), as_attachment=True, filename=row.filename)


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def esiid_lookup(request: HtmxHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    table = EsiidRecordTable(esiid_search(EsiidRecord.objects.order_by("esiid"), query)) if query else None
    if table is not None:
        RequestConfig(request, paginate={"per_page": 50}).configure(table)
    template = "ercot/esiid_lookup.html"
    if request.htmx:
        template += "#esiid-results"
    return render(request, template, {"table": table, "query": query})
