"""Staff pages for usage: one ESIID's daily summary (cached) and the portfolio overview."""

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from config.auth import staff_required
from config.charts import bar_chart
from config.texas import CENTRAL
from smt import charts, usage
from smt.forms import UsageForm
from smt.models import House, RawSmtFile


def known_esiids() -> list[str]:
    """ESIIDs for the picker, from small tables (a DISTINCT over intervals would scan millions)."""
    hints = set(RawSmtFile.objects.exclude(esiid_hint="").values_list("esiid_hint", flat=True).distinct())
    return sorted(hints | set(House.objects.values_list("esiid", flat=True)))


def _summary_section(*, esiid: str, meter: str | None, start, end) -> dict:
    """Days, charts and totals of one ESIID range, cached until stored intervals may change.

    The key carries usage.intervals_version(), which moves with every normalized file and
    every deletion, so a cached section is never older than the data (SMT_USAGE_CACHE_SECONDS).
    """
    today = timezone.localdate(timezone=CENTRAL)  # in the key: today leaves the counted days at midnight
    key = f"smt-usage-summary:{usage.intervals_version()}:{esiid}:{meter}:{start}:{end}:{today}"
    section = cache.get(key)
    if section is None:
        days = usage.daily_summary(esiid=esiid, meter=meter, start=start, end=end)
        counted = usage.counted_days(days, first_day=usage.first_data_day(esiid=esiid, meter=meter), today=today)
        found, expected = sum(d.found for d in counted), sum(d.expected for d in counted)
        # Rendered strings and totals only: unpickling 366 DaySummary objects cost half a cached view.
        section = {
            "heatmap": charts.heatmap(days),
            "bars": bar_chart(days),
            "day_rows": charts.day_rows(days),
            "incomplete_rows": charts.day_rows([d for d in counted if d.completeness < 1]),
            "totals": {
                "kwh": sum(d.kwh for d in days),
                "found": found,
                "expected": expected,
                "completeness": found / expected if expected else 0,
                "estimated": sum(d.estimated for d in days),
                "incomplete": sum(1 for d in counted if d.completeness < 1),
                "days": len(days),
                "counted": len(counted),
            },
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
        context |= _summary_section(
            esiid=data["esiid"], meter=data["meter"] or None, start=data["start"], end=data["end"]
        )
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
