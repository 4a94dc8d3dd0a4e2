"""Staff pages for usage: interval inspection, audited deletion, daily summaries, customers."""

import csv
import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_tables2 import LazyPaginator, RequestConfig

from config.auth import staff_required
from config.charts import bar_chart
from config.htmx import HtmxHttpRequest
from config.texas import CENTRAL
from smt import charts, usage
from smt.filters import IntervalFilter
from smt.forms import DeleteForm, HouseForm, UsageForm
from smt.models import House, IntervalDeletion, RawSmtFile, SmtInterval
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


def known_esiids() -> list[str]:
    """ESIIDs for the picker, from small tables (a DISTINCT over intervals would scan millions)."""
    hints = set(RawSmtFile.objects.exclude(esiid_hint="").values_list("esiid_hint", flat=True).distinct())
    return sorted(hints | set(House.objects.values_list("esiid", flat=True)))


def _summary_section(*, esiid: str, meter: str | None, start, end) -> dict:
    """Days, charts and totals of one ESIID range, cached until stored intervals may change.

    The key carries usage.intervals_version(), which moves with every normalized file and
    every deletion, so a cached section is never older than the data (SMT_USAGE_CACHE_SECONDS).
    """
    key = f"smt-usage-summary:{usage.intervals_version()}:{esiid}:{meter}:{start}:{end}"
    section = cache.get(key)
    if section is None:
        days = usage.daily_summary(esiid=esiid, meter=meter, start=start, end=end)
        found, expected = sum(d.found for d in days), sum(d.expected for d in days)
        # Rendered strings and totals only: unpickling 366 DaySummary objects cost half a cached view.
        section = {
            "heatmap": charts.heatmap(days), "bars": bar_chart(days), "day_rows": charts.day_rows(days),
            "incomplete_rows": charts.day_rows([d for d in days if d.completeness < 1]),
            "totals": {"kwh": sum(d.kwh for d in days), "found": found, "expected": expected,
                       "completeness": found / expected if expected else 0, "estimated": sum(d.estimated for d in days),
                       "incomplete": sum(1 for d in days if d.completeness < 1), "days": len(days)},
        }
        cache.set(key, section, settings.SMT_USAGE_CACHE_SECONDS)
    return section


@require_GET
@staff_required
def usage_summary(request: HttpRequest) -> HttpResponse:
    form = UsageForm(request.GET or None)
    context = {"form": form, "esiids": known_esiids()}
    if request.GET and form.is_valid():
        data = form.cleaned_data
        context |= _summary_section(esiid=data["esiid"], meter=data["meter"] or None, start=data["start"], end=data["end"])
        context["houses"] = House.objects.filter(esiid=data["esiid"]).select_related("customer")
    return render(request, "smt/usage_summary.html", context)


@require_GET
@staff_required
def usage_portfolio(request: HttpRequest) -> HttpResponse:
    try:
        days = max(1, min(int(request.GET.get("days", 30)), 366))
    except ValueError:
        days = 30
    rows = usage.portfolio(days=days, today=timezone.localdate(timezone=CENTRAL))
    return render(request, "smt/usage_portfolio.html", {"rows": rows, "days": days})


@require_http_methods(["GET", "POST"])
@staff_required
def customer_list(request: HttpRequest) -> HttpResponse:
    form = HouseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user, created = get_user_model().objects.get_or_create(username=data["username"], defaults={"email": data["email"]})
        if user.is_staff:
            form.add_error("username", "That is a staff account; customers are separate users.")
        else:
            if created:
                password = secrets.token_urlsafe(10)
                user.set_password(password)
                user.save()
                messages.info(request, f"Customer {user.username} created with password {password} (shown once).")
            try:
                House.objects.create(customer=user, name=data["name"], esiid=data["esiid"], meter=data["meter"])
            except IntegrityError:
                form.add_error("esiid", "This customer already has a house with that ESIID.")
            else:
                messages.success(request, f"House {data['name']} ({data['esiid']}) added for {user.username}.")
                return redirect("smt:customer-list")
    houses = House.objects.select_related("customer").order_by("customer__username", "name")
    return render(request, "smt/customer_list.html", {"form": form, "houses": houses})
