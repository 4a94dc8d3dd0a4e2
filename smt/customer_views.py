"""Pages and endpoints for customers: their own uploads and usage."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from smt import charts, customers, ingest, parser, usage
from smt.models import House, RawSmtFile
from smt.upload import error_response, receive_file, upload_body


def customer_required(view: Callable) -> Callable:
    """Signed-in non-staff users with at least the customer role (their houses decide the rest)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            if request.method == "POST":
                return error_response(401, "sign in as a customer to upload")
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
        return error_response(429, "monthly upload quota used up; it renews on the 1st (Central time)", remaining=0)
    upload = receive_file(request)
    if isinstance(upload, JsonResponse):
        return upload
    try:
        with upload:
            kind = ingest.raw_file_precheck(fileobj=upload, size=upload.size)
            esiids = customers.customer_file_check(fileobj=upload, user=request.user)
            house = houses.filter(esiid=esiids[0]).first() if len(esiids) == 1 else None
            stored = ingest.raw_file_store(
                fileobj=upload, sha256=upload.sha256, size=upload.size, filename=upload.name or "",
                source="customer-upload", esiid=esiids[0] if len(esiids) == 1 else "",
                meter=house.meter if house else "", kind=kind, uploaded_by=request.user,
                origin=RawSmtFile.Origin.CUSTOMER,
                uploader=customers.customer_identity(request.user),
            )
    except parser.FileRejected as exc:
        return error_response(422, f"file refused: {exc}")
    if not stored.duplicate:
        ingest.raw_file_queue(raw_file=stored.raw_file)
    body = upload_body(stored.raw_file, duplicate=stored.duplicate)
    body["url"] = "/customer/usage"
    body["remaining"] = customers.customer_uploads_left(user=request.user)
    return JsonResponse(body, status=200 if stored.duplicate else 201)


@require_GET
@customer_required
def customer_usage(request: HttpRequest) -> HttpResponse:
    cards = []
    for house in House.objects.visible_to(request.user):
        summary = customers.house_summary(house=house)
        days = [usage.DaySummary(**d) for d in summary["days"]]
        cards.append({"house": house, "summary": summary, "bars": charts.bar_chart(days), "heatmap": charts.heatmap(days)})
    return render(request, "smt/customer_usage.html", {"cards": cards, "left": customers.customer_uploads_left(user=request.user)})
