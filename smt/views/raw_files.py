import json
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect
from django_tables2 import RequestConfig

from config.auth import request_identity, staff_required
from config.htmx import HtmxHttpRequest
from config.texas import CENTRAL
from ops.jobs import started_by_staff
from smt import ingest, normalize, storage
from smt.filters import RawSmtFileFilter
from smt.forms import RawFileHintsForm
from smt.models import RawSmtFile
from smt.tables import RawSmtFileTable


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def raw_file_list(request: HtmxHttpRequest) -> HttpResponse:
    files = RawSmtFileFilter(request.GET, queryset=RawSmtFile.objects.select_related("uploaded_by"))
    table = RawSmtFileTable(files.qs)
    RequestConfig(request, paginate={"per_page": 25}).configure(table)
    busy = RawSmtFile.objects.pending().exists()
    template = "smt/raw_file_list.html"
    if request.htmx:
        template += "#raw-file-table"
    context = {"filter": files, "table": table, "busy": busy, "max_bytes": settings.SMT_UPLOAD_MAX_BYTES}
    return render(request, template, context)


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def raw_file_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    raw = get_object_or_404(RawSmtFile, pk=pk)
    template = "smt/raw_file_detail.html"
    if request.htmx:
        template += "#raw-file-status"
    return render(request, template, _detail_context(raw, _hints_form(raw)))


def _hints_form(raw: RawSmtFile) -> RawFileHintsForm:
    mapping = json.dumps(raw.usage_point_esiids) if raw.usage_point_esiids else ""
    return RawFileHintsForm(raw_file=raw, initial={"esiid": raw.esiid_hint, "usage_point_esiids": mapping})


def _detail_context(raw: RawSmtFile, hints_form: RawFileHintsForm) -> dict:
    return {"raw": raw, "busy": raw.pending, "data_links": _data_links(raw), "hints_form": hints_form}


def _data_links(raw: RawSmtFile) -> list[dict]:
    """Per ESIID in a normalized file: its intervals over the file's span and its usage by local day."""
    first, last = (raw.stats or {}).get("tsMin"), (raw.stats or {}).get("tsMax")
    if raw.status != RawSmtFile.Status.NORMALIZED or not (first and last):
        return []
    start, last_start = datetime.fromisoformat(first), datetime.fromisoformat(last)
    end = last_start + timedelta(minutes=15)  # the intervals filter's "to" is exclusive
    days = {
        "start": start.astimezone(CENTRAL).date().isoformat(),
        "end": last_start.astimezone(CENTRAL).date().isoformat(),
    }
    span = {"utc_from": start.strftime("%Y-%m-%dT%H:%M"), "utc_to": end.strftime("%Y-%m-%dT%H:%M")}
    return [
        {
            "esiid": esiid,
            "intervals": f"{reverse('smt:interval-list')}?{urlencode({'esiid': esiid} | span)}",
            "usage": f"{reverse('smt:usage-summary')}?{urlencode({'esiid': esiid} | days)}",
        }
        for esiid in raw.esiids[:20]
    ]


@require_GET
@staff_required
def raw_file_download(request: HttpRequest, pk: int) -> FileResponse:
    raw = get_object_or_404(RawSmtFile, pk=pk)
    stream = default_storage.open(raw.storage_key, "rb")
    return FileResponse(stream, as_attachment=True, filename=storage.safe_filename(raw.filename))


@require_POST
@staff_required
def raw_file_normalize(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    raw = get_object_or_404(RawSmtFile, pk=pk)
    if request.POST.get("dry_run"):
        stats = normalize.raw_file_normalize(raw_file=raw, dry_run=True)
        return render(request, "smt/_dry_run.html", {"raw": raw, "stats": stats})
    form = RawFileHintsForm(request.POST, raw_file=raw)
    if not form.is_valid():
        return render(request, "smt/raw_file_detail.html", _detail_context(raw, form), status=400)
    changed = ingest.raw_file_hints_take(raw_file=raw, by=request_identity(request) or "", **form.hints())
    if not changed:  # no new hints: normalize again as it is
        ingest.raw_file_requeue(raw_file=raw, started_by=started_by_staff(request.user))
    with_hints = f" with the new {' and '.join(changed)}" if changed else ""
    messages.success(request, f"Normalization of {raw.filename} queued{with_hints}.")
    if request.htmx:
        return HttpResponseClientRedirect(raw.get_absolute_url())
    return redirect(raw)


@require_POST
@staff_required
def raw_file_normalize_latest(request: HtmxHttpRequest) -> HttpResponse:
    raw = RawSmtFile.objects.first()
    if raw is None:
        messages.error(request, "No raw files yet: upload one first.")
    else:
        ingest.raw_file_requeue(raw_file=raw, started_by=started_by_staff(request.user))
        messages.success(request, f"Normalization of the latest file, {raw.filename}, queued.")
    return redirect("smt:raw-file-list")
