"""Staff pages for stored intervals: inspection, CSV export, audited deletion and its record."""

import csv

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_tables2 import LazyPaginator, RequestConfig

from config.auth import staff_required
from config.htmx import HtmxHttpRequest
from config.texas import CENTRAL
from smt import usage
from smt.filters import IntervalFilter
from smt.forms import DeleteForm
from smt.models import IntervalDeletion, SmtInterval
from smt.tables import DeletionTable, IntervalTable


def _interval_rows(request: HttpRequest) -> tuple[IntervalFilter, object]:
    filters = IntervalFilter(request.GET, queryset=SmtInterval.objects.all())
    rows = filters.qs
    # Both orders are index-backed: (esiid, ts) with an ESIID, the primary key without one.
    rows = rows.order_by("ts", "channel") if filters.form.is_valid() and filters.form.cleaned_data.get("esiid") else rows.order_by("-id")
    return filters, rows


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def interval_list(request: HtmxHttpRequest) -> HttpResponse:
    filters, rows = _interval_rows(request)
    table = IntervalTable(rows)
    # LazyPaginator never counts the whole table: tens of millions of rows stay fast.
    RequestConfig(request, paginate={"per_page": 100, "paginator_class": LazyPaginator}).configure(table)
    template = "smt/interval_list.html"
    if request.htmx:
        template += "#interval-table"
    return render(request, template, {"filter": filters, "table": table, "query": request.GET.urlencode()})


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@staff_required
def interval_export(request: HttpRequest) -> StreamingHttpResponse:
    _, rows = _interval_rows(request)
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(["esiid", "meter", "channel", "ts_utc", "ts_local", "kwh", "quality", "revised_at", "raw_file_id", "row"])
        for r in rows.iterator(chunk_size=5000):
            yield writer.writerow([r.esiid, r.meter, r.channel, r.ts.isoformat(), r.ts.astimezone(CENTRAL).isoformat(),
                                   r.kwh, r.quality, r.revised_at.isoformat() if r.revised_at else "", r.raw_file_id, r.row_number])

    response = StreamingHttpResponse(lines(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="smt-intervals.csv"'
    return response


@require_http_methods(["GET", "POST"])
@staff_required
def interval_delete(request: HttpRequest) -> HttpResponse:
    """GET shows the form; a valid GET previews the count; POST with confirm deletes and records."""
    data = request.POST if request.method == "POST" else (request.GET or None)
    form = DeleteForm(data)
    context = {"form": form}
    if data is not None and form.is_valid():
        start, end = usage.day_bounds(form.cleaned_data["start"], form.cleaned_data["end"])
        args = {"esiid": form.cleaned_data["esiid"], "meter": form.cleaned_data["meter"], "start": start, "end": end}
        if request.method == "POST":
            record = usage.intervals_delete(**args, reason=form.cleaned_data["reason"],
                                            actor=f"user:{request.user.get_username()}", user=request.user)
            messages.success(request, f"Deleted {record.deleted_count} intervals of {record.esiid} / {record.meter}. "
                                      "Re-normalize the listed raw files to rebuild the range.")
            return redirect("smt:deletion-list")
        context |= {"preview": usage.intervals_delete_preview(**args), "range": (start, end)}
    return render(request, "smt/interval_delete.html", context)


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def deletion_list(request: HtmxHttpRequest) -> HttpResponse:
    table = DeletionTable(IntervalDeletion.objects.all())
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    template = "smt/deletion_list.html"
    if request.htmx:
        template += "#deletion-table"
    return render(request, template, {"table": table})
