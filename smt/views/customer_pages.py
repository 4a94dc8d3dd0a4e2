"""Pages and endpoints for customers: their own uploads and usage."""

from collections.abc import Callable
from datetime import date
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from config.charts import bar_chart
from config.errors import json_error
from config.htmx import HtmxHttpRequest
from smt import (
    charts,
    customer_uploads,
    customers,
    greenbutton,
    greenbutton_export,
    ingest,
    interval_rows,
    limits,
    parser,
    storage,
    usage,
)
from smt.forms import CustomerRangeForm
from smt.models import House, RawSmtFile
from smt.views.upload import receive_file, requeued_body, upload_body

# Refusals that cost the server work (a body streamed past the limit, a file read and refused).
REFUSALS_COUNTED = (413, 422)


def customer_required(view: Callable) -> Callable:
    """Signed-in non-staff users with at least the customer role (their houses decide the rest)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            if request.method == "POST":
                return json_error(401, "sign in as a customer to upload")
            return redirect_to_login(request.get_full_path())
        if request.user.is_staff:
            raise PermissionDenied("Customer pages are for customers; staff use the SMT pages.")
        return view(request, *args, **kwargs)

    return wrapper


@csrf_exempt  # receive_file checks CSRF itself, after the upload handlers are in place
@require_http_methods(["GET", "POST"])
@customer_required
def customer_upload(request: HttpRequest) -> HttpResponse:
    houses = House.objects.visible_to(request.user)
    left = customers.customer_uploads_left(user=request.user)
    if request.method == "GET":
        return render(request, "smt/customer_upload.html", {"houses": houses, "left": left})
    if left <= 0:
        return json_error(429, "monthly upload quota used up; it renews on the 1st (Central time)", remaining=0)
    uploader = customers.customer_identity(request.user)
    if limits.upload_refusals_left(uploader=uploader) <= 0:
        return json_error(
            429,
            f"too many refused uploads: {settings.SMT_UPLOAD_REFUSALS_PER_DAY} in 24 hours "
            "(SMT_UPLOAD_REFUSALS_PER_DAY); check your files and try again tomorrow",
        )
    upload = receive_file(request)
    if isinstance(upload, JsonResponse):
        if upload.status_code in REFUSALS_COUNTED:
            limits.upload_refusal_record(uploader=uploader, reason=f"HTTP {upload.status_code}")
        return upload
    try:
        if problem := limits.upload_field_problem({"filename": upload.name or ""}):
            raise parser.FileRejected(problem)
        expected = customers.customer_expected_esiid(user=request.user, given=request.POST.get("esiid", ""))
        usage_points = interval_rows.usage_point_esiids_parse(request.POST.get("usage_point_esiids", ""))
        # Their own failed file sent again with hints it lacked: checked with those, then re-queued.
        own = customer_uploads.customer_raw_files(user=request.user).filter(sha256=upload.sha256).first()
        if own is not None and own.hints_new(esiid=expected or "", usage_points=usage_points):
            merged, usage_points = own.hints_merged(esiid=expected or "", usage_points=usage_points)
            expected = merged or None
        else:
            own = None
        with upload:
            inspection = storage.raw_file_inspect(
                fileobj=upload, size=upload.size, expected_esiid=expected, usage_points=usage_points
            )
            esiids = customers.customer_file_check(
                fileobj=upload,
                user=request.user,
                budget=limits.content_budget(size=upload.size),
                expected_esiid=expected,
                usage_points=usage_points,
            )
            if own is not None:
                return _customer_requeued(
                    request, own, uploader, expected=expected, points=usage_points, notes=inspection.notes
                )
            house = houses.filter(esiid=esiids[0]).first() if len(esiids) == 1 else None
            with customers.customer_quota_taken(user=request.user):
                stored = storage.raw_file_store(
                    fileobj=upload,
                    sha256=upload.sha256,
                    size=upload.size,
                    filename=upload.name or "",
                    source="customer-upload",
                    esiid=expected or (esiids[0] if len(esiids) == 1 else ""),
                    meter=house.meter if house else "",
                    kind=inspection.kind,
                    uploaded_by=request.user,
                    uploader=uploader,
                    origin=RawSmtFile.Origin.CUSTOMER,
                    usage_points=usage_points,
                )
    except parser.FileRejected as exc:
        upload.close()
        limits.upload_refusal_record(uploader=uploader, reason=str(exc))
        return json_error(422, f"file refused: {exc}", **_usage_points_named(exc))
    except limits.LimitReached as exc:
        return json_error(429, str(exc), remaining=0)
    if not stored.duplicate:
        ingest.raw_file_queue(raw_file=stored.raw_file)
    if stored.raw_file.uploaded_by_id == request.user.pk:
        body = upload_body(stored.raw_file, duplicate=stored.duplicate, notes=inspection.notes)
        body["statusUrl"] = reverse("smt:customer-upload-detail", args=[stored.raw_file.pk])  # polled until done
    else:
        # Someone else's file (SMT's mirror, staff, another customer) with these bytes: say only
        # that they are stored; its id, name, state and kind are not this customer's to read.
        body = {"ok": True, "duplicate": True, "sha256": upload.sha256, "size": upload.size, "notes": []}
        body["message"] = "This file is stored already: its readings show on your usage page once it is read"
    body["url"] = "/customer/usage"
    body["remaining"] = customers.customer_uploads_left(user=request.user)
    return JsonResponse(body, status=200 if stored.duplicate else 201)


def _customer_requeued(
    request: HttpRequest, raw: RawSmtFile, uploader: str, *, expected: str | None, points: dict, notes: list[str]
) -> JsonResponse:
    """A customer's own failed file, checked with its new hints, queued again (no upload is counted)."""
    changed = ingest.raw_file_hints_take(raw_file=raw, by=uploader, esiid=expected or "", usage_points=points)
    if not changed:  # another request re-queued it a moment ago
        body, status = upload_body(raw, duplicate=True), 200
    else:
        body, status = requeued_body(raw, changed, notes=notes), 202
    body |= {
        "url": "/customer/usage",
        "statusUrl": reverse("smt:customer-upload-detail", args=[raw.pk]),
        "remaining": customers.customer_uploads_left(user=request.user),
    }
    return JsonResponse(body, status=status)


def _usage_points_named(exc: parser.FileRejected) -> dict:
    """A Green Button refusal names the UsagePoints that need an ESIID, for the form to ask."""
    return {"usagePoints": exc.usage_points} if isinstance(exc, greenbutton.UsagePointsUnmapped) else {}


@require_GET
@customer_required
def customer_usage(request: HttpRequest) -> HttpResponse:
    form = CustomerRangeForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        status, chosen = 400, {}
    else:
        status, chosen = 200, {k: v for k, v in (form.cleaned_data if form.is_bound else {}).items() if v}
    cards = [_house_card(house, **chosen) for house in House.objects.visible_to(request.user)]
    context = {"cards": cards, "form": form, "left": customers.customer_uploads_left(user=request.user)}
    return render(request, "smt/customer_usage.html", context, status=status)


def _house_card(house: House, **window) -> dict:
    summary = customers.house_summary(house=house, **window)
    days = [usage.DaySummary(**d) for d in summary["days"]]
    has_data = summary["latestDay"] is not None
    day = lambda key: date.fromisoformat(summary[key]) if summary[key] else None  # noqa: E731 (templates format dates)
    return {
        "house": house,
        "summary": summary,
        "has_data": has_data,
        "months": customers.house_months(house=house),
        "in_range": any(d.found for d in days),
        "start": day("dateStart"),
        "end": day("dateEnd"),
        "range_label": customer_uploads.days_label(day("dateStart"), day("dateEnd")),
        "latest_day": day("latestDay"),
        "last_upload_day": day("lastUploadDay"),
        "bars": bar_chart(days) if has_data else "",
        "heatmap": charts.heatmap(days) if has_data else "",
    }


@require_GET
@customer_required
def customer_green_button(request: HttpRequest) -> HttpResponse:
    """Their own usage as a Green Button file: `esiid` (one of their houses) when they have several."""
    esiids = sorted(set(House.objects.visible_to(request.user).values_list("esiid", flat=True)))
    esiid = request.GET.get("esiid", "").strip()
    if esiid and esiid not in esiids:
        raise Http404("No house of yours has that ESIID.")
    if not esiid and len(esiids) != 1:
        if not esiids:
            raise Http404("No houses are linked to your account yet.")
        return HttpResponseBadRequest(
            f"You have several houses; add esiid= one of {', '.join(esiids)}.", content_type="text/plain"
        )
    esiid = esiid or esiids[0]
    try:
        first, last = greenbutton_export.greenbutton_export_range(
            start=request.GET.get("start", ""), end=request.GET.get("end", "")
        )
    except ValidationError as exc:
        return HttpResponseBadRequest("; ".join(exc.messages), content_type="text/plain")
    response = StreamingHttpResponse(
        greenbutton_export.greenbutton_export(esiid=esiid, first=first, last=last), content_type="application/atom+xml"
    )
    name = greenbutton_export.greenbutton_export_filename(esiid=esiid, first=first, last=last)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
@customer_required
def customer_upload_list(request: HtmxHttpRequest) -> HttpResponse:
    raw_files = customer_uploads.customer_raw_files(user=request.user)[:100]
    rows = [_upload_row(raw) for raw in raw_files]
    return render(request, "smt/customer_upload_list.html", {"rows": rows})


@require_GET
@customer_required
@vary_on_headers("HX-Request")
def customer_upload_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """One of the customer's own uploads; htmx polls its outcome fragment until the worker is done."""
    raw = get_object_or_404(customer_uploads.customer_raw_files(user=request.user), pk=pk)
    template = "smt/customer_upload_detail.html"
    if request.htmx:
        template += "#upload-outcome"
    return render(request, template, {"row": _upload_row(raw)})


def _upload_row(raw: RawSmtFile) -> dict:
    outcome = customer_uploads.upload_outcome(raw)
    window = customer_uploads.upload_usage_range(outcome)
    usage_url = f"{reverse('smt:customer-usage')}?start={window[0]}&end={window[1]}" if window else ""
    return {"raw": raw, "outcome": outcome, "usage_url": usage_url}
