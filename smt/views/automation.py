"""Staff pages for SMT automation: job runs, the trigger page, billing reads beside intervals."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect
from django_tables2 import RequestConfig

from config.auth import staff_required
from config.htmx import HtmxHttpRequest
from ops.jobs import started_by_staff
from ops.models import JobRun
from ops.tables import JobRunTable
from smt import billing, mirror
from smt.filters import BillingReadFilter
from smt.forms import EsiidField
from smt.models import RawSmtFile, SmtBillingRead
from smt.tables import BillingReadTable


class TriggerForm(forms.Form):
    esiid = EsiidField(
        label="ESIID",
        max_length=23,
        required=False,
        help_text="Leave empty to mirror everything now; an ESIID tags the run and reports what arrived for it.",
    )


@require_http_methods(["GET", "POST"])
@staff_required
@vary_on_headers("HX-Request")
def smt_trigger(request: HtmxHttpRequest) -> HttpResponse:
    form = TriggerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        job = mirror.mirror_queue(
            trigger=JobRun.Trigger.MANUAL,
            esiid=form.cleaned_data["esiid"] or "",
            started_by=started_by_staff(request.user),
        )
        messages.success(
            request, f"Mirror run #{job.pk} queued" + (f" for ESIID {job.esiid}" if job.esiid else "") + "."
        )
        return HttpResponseClientRedirect(job.get_absolute_url()) if request.htmx else redirect(job)
    runs = JobRun.objects.filter(kind=JobRun.Kind.MIRROR)
    table = JobRunTable(runs)
    RequestConfig(request, paginate={"per_page": 10}).configure(table)
    template = "smt/smt_trigger.html"
    if request.htmx and request.method == "GET":
        template += "#job-table"
    context = {"form": form, "table": table, "busy": runs.active().exists(), "config": _mirror_config()}
    return render(request, template, context, status=400 if form.errors else 200)


def _mirror_config() -> dict:
    """What an admin needs to see about the set-up; no secrets."""
    return {
        "server": f"{settings.SMT_USER}@{settings.SMT_HOST}:{settings.SMT_PORT}" if settings.SMT_HOST else "",
        "remote_dir": settings.SMT_REMOTE_DIR,
        "known_hosts": bool(settings.SMT_KNOWN_HOSTS),
        "keyring": bool(settings.SMT_GNUPG_HOME),
        "missing": mirror.mirror_missing_settings(),
    }


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def billing_read_list(request: HtmxHttpRequest) -> HttpResponse:
    reads = BillingReadFilter(request.GET, queryset=SmtBillingRead.objects.all())
    table = BillingReadTable(reads.qs)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    table.differences = billing.billing_reads_compare(row.record for row in table.page.object_list)
    template = "smt/billing_read_list.html"
    if request.htmx:
        template += "#billing-table"
    failed = RawSmtFile.objects.filter(
        Q(kind=RawSmtFile.Kind.BILLING) | Q(filename__icontains="DailyMeterUsage"), status=RawSmtFile.Status.FAILED
    )[:10]
    return render(request, template, {"filter": reads, "table": table, "failed": failed})
