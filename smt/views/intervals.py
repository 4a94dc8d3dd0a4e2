"""Staff pages for stored intervals: inspection, CSV export, audited deletion and its record."""

import csv
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
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
    return filters, filters.qs.order_by(*interval_list_order(_filter_values(filters)))


def interval_list_order(values: dict) -> tuple[str, ...]:
    """With an ESIID, the newest interval first: the (esiid, ts) index read backwards. Without one,
    the newest stored first: no index leads with ts, so "-ts" sorted every row of every monthly
    partition for one page (1.1 s at 2.9 million rows, growing with the table), while "-id" merges
    the partitions' primary keys read backwards (0.4 ms). The column headers sort by anything else.
    """
    return ("-ts", "esiid", "channel") if values.get("esiid") else ("-id",)


def _filter_values(filters: IntervalFilter) -> dict:
    return (
        {k: v for k, v in filters.form.cleaned_data.items() if v not in (None, "")} if filters.form.is_valid() else {}
    )


def _delete_link(filters: IntervalFilter, rows) -> str:
    """The "Delete a range…" form pre-filled from this filter (a person still previews, then confirms).
    The meter is pre-filled when the filtered rows use exactly one: asking the filtered rows (one
    ESIID-month when a month is chosen) rather than all of the ESIID's years keeps the page's cost
    to the month it shows, whatever the table holds."""
    values = _filter_values(filters)
    query = {"prefill": "1"} | {k: values[k] for k in ("esiid", "meter") if k in values}
    if "esiid" in values and "meter" not in values:
        meters = list(rows.order_by().values_list("meter", flat=True).distinct()[:2])
        if len(meters) == 1:
            query["meter"] = meters[0]
    start = values.get("local_from") or (
        values["utc_from"].astimezone(CENTRAL).date() if "utc_from" in values else None
    )
    end = values.get("local_to") or (
        (values["utc_to"] - timedelta(microseconds=1)).astimezone(CENTRAL).date() if "utc_to" in values else None
    )
    query |= {k: v.isoformat() for k, v in (("start", start), ("end", end)) if v}
    return f"{reverse('smt:interval-delete')}?{urlencode(query)}"


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def interval_list(request: HtmxHttpRequest) -> HttpResponse:
    filters, rows = _interval_rows(request)
    table = IntervalTable(rows)
    # LazyPaginator never counts the whole table: tens of millions of rows stay fast.
    RequestConfig(request, paginate={"per_page": 100, "paginator_class": LazyPaginator}).configure(table)
    # Count and sum only a filtered set: over the whole table they would scan every partition.
    totals = rows.aggregate(count=Count("id"), kwh=Sum("kwh")) if _filter_values(filters) else None
    template = "smt/interval_list.html"
    if request.htmx:
        template += "#interval-table"
    context = {
        "filter": filters,
        "table": table,
        "query": request.GET.urlencode(),
        "totals": totals,
        "delete_link": _delete_link(filters, rows),
    }
    return render(request, template, context)


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@staff_required
def interval_export(request: HttpRequest) -> StreamingHttpResponse:
    filters, rows = _interval_rows(request)
    # A file reads oldest first; without an ESIID, the primary key keeps a huge export index-backed.
    rows = rows.order_by("ts", "channel") if _filter_values(filters).get("esiid") else rows.order_by("-id")
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(
            ["esiid", "meter", "channel", "ts_utc", "ts_local", "kwh", "quality", "revised_at", "raw_file_id", "row"]
        )
        for r in rows.iterator(chunk_size=5000):
            yield writer.writerow(
                [
                    r.esiid,
                    r.meter,
                    r.channel,
                    r.ts.isoformat(),
                    r.ts.astimezone(CENTRAL).isoformat(),
                    r.kwh,
                    r.quality,
                    r.revised_at.isoformat() if r.revised_at else "",
                    r.raw_file_id,
                    r.row_number,
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="smt-intervals.csv"'
    return response


@require_http_methods(["GET", "POST"])
@staff_required
def interval_delete(request: HttpRequest) -> HttpResponse:
    """GET shows the form; a valid GET previews the count; POST with confirm deletes and records."""
    data = request.POST if request.method == "POST" else (request.GET or None)
    if request.method == "GET" and request.GET.get("prefill"):  # from the intervals list: fill in, do not preview yet
        data = None
    form = DeleteForm(data, initial=request.GET.dict() if data is None else None)
    context = {"form": form}
    if data is not None and form.is_valid():
        start, end = usage.day_bounds(form.cleaned_data["start"], form.cleaned_data["end"])
        args = {"esiid": form.cleaned_data["esiid"], "meter": form.cleaned_data["meter"], "start": start, "end": end}
        if request.method == "POST":
            record = usage.intervals_delete(
                **args,
                reason=form.cleaned_data["reason"],
                actor=f"user:{request.user.get_username()}",
                user=request.user,
            )
            messages.success(
                request,
                f"Deleted {record.deleted_count} intervals of {record.esiid} / {record.meter}. "
                "Re-normalize the listed raw files to rebuild the range.",
            )
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
