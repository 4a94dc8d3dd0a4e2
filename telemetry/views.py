"""Staff pages: device health, locations with charts, cost versions, review tickets, malformed messages."""

from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_tables2 import RequestConfig

from config.auth import request_identity, staff_required
from config.htmx import HtmxHttpRequest
from telemetry import assign, charts, reconcile, reports, totals
from telemetry.forms import AssignForm, CostVersionForm, DayRangeForm, DeviceReadingForm, LocationForm
from telemetry.models import CostVersion, Device, Location, MalformedMessage, ReviewTicket, Stay
from telemetry.tables import MalformedTable, ReviewTicketTable


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def device_health(request: HtmxHttpRequest) -> HttpResponse:
    now = timezone.now()
    silent_after = timedelta(minutes=settings.TELEMETRY_SILENT_MINUTES)
    devices = list(Device.objects.select_related("location").order_by("location__name", "name"))
    per_hour = reports.readings_per_device(now - timedelta(hours=1))
    rows = [
        {"device": d, "silent": d.is_silent(now=now, after=silent_after), "events_hour": per_hour.get(d.pk, 0)}
        for d in devices
    ]
    context = {
        "rows": rows,
        "now": now,
        "silent_minutes": settings.TELEMETRY_SILENT_MINUTES,
        "locations": Location.objects.all(),
        "health": reports.health_snapshot(now, totals_too=False),
        "unassigned": sum(1 for d in devices if d.location_id is None),
        "open_tickets": ReviewTicket.objects.filter(status="open").count(),
        "zone": settings.TELEMETRY_TIME_ZONE,
    }
    template = "telemetry/device_health.html"
    if request.htmx:
        template += "#device-health"
    return render(request, template, context)


@require_GET
@staff_required
def device_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    device = get_object_or_404(Device.objects.select_related("location"), pk=pk)
    return _device_page(request, device, AssignForm(initial={"location": device.location_id}))


def _device_page(
    request: HtmxHttpRequest,
    device: Device,
    form: AssignForm,
    status: int = 200,
    reading_form: DeviceReadingForm | None = None,
) -> HttpResponse:
    stays = device.stays()[::-1]  # newest first
    context = {
        "device": device,
        "form": form,
        "stays": stays,
        "zone": settings.TELEMETRY_TIME_ZONE,
        "reading_form": reading_form or DeviceReadingForm(instance=device),
    }
    return render(request, "telemetry/device_detail.html", context, status=status)


@require_POST
@staff_required
def device_assign(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """From the device health row or the device page; bad input re-shows the device page (400)."""
    device = get_object_or_404(Device, pk=pk)
    form = AssignForm(request.POST)
    if form.is_valid():
        try:
            current = assign.device_assign(
                device=device,
                location=form.cleaned_data["location"],
                effective_from=form.cleaned_data["effective_from"],
                assigned_by=request_identity(request) or "",
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
    if form.errors:
        device.refresh_from_db()
        return _device_page(request, device, form, status=400)
    since = f"from {current.effective_from}" if current.effective_from else "for all its history"
    messages.success(request, f"{device.name} is in {current.location or 'no location'} {since}.")
    if request.POST.get("back") == "device":
        return redirect("telemetry:device-detail", pk=device.pk)
    return redirect("telemetry:device-health")


@require_POST
@staff_required
def device_reading(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The device's time zone and counter unit; bad input re-shows the device page (400), unchanged."""
    device = get_object_or_404(Device, pk=pk)
    form = DeviceReadingForm(request.POST, instance=device)
    if not form.is_valid():
        device.refresh_from_db()
        return _device_page(request, device, AssignForm(initial={"location": device.location_id}), 400, form)
    form.save()
    messages.success(
        request,
        f"{device.name}: times without an offset read in {device.time_zone or settings.TELEMETRY_TIME_ZONE}, "
        f"its counter in {device.counter_unit}.",
    )
    return redirect("telemetry:device-detail", pk=device.pk)


@require_POST
@staff_required
def device_token(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A new per-device API token, shown once (only its hash is kept)."""
    device = get_object_or_404(Device, pk=pk)
    return render(request, "telemetry/_device_token.html", {"device": device, "token": device.token_issue()})


@require_http_methods(["GET", "POST"])
@staff_required
def location_list(request: HtmxHttpRequest) -> HttpResponse:
    form = LocationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        location = form.save()
        messages.success(request, f"Location {location.name} added.")
        return redirect("telemetry:location-list")
    wh = reports.location_wh_since(totals.local_day(timezone.now()) - timedelta(days=29))
    locations = list(Location.objects.annotate(device_count=Count("devices")))
    for location in locations:
        location.wh_30d = wh.get(location.pk)
    return render(
        request,
        "telemetry/location_list.html",
        {"locations": locations, "form": form},
        status=400 if form.errors else 200,
    )


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def location_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    location = get_object_or_404(Location, pk=pk)
    form = DayRangeForm(request.GET or None)
    today = totals.local_day(timezone.now())
    data = form.cleaned_data if form.is_valid() else {}
    end = data.get("end") or today
    start = data.get("start") or end - timedelta(days=29)
    if start > end or (end - start).days > 366:
        start = end - timedelta(days=29)
    stays = location.stays(start, end)
    devices = list({s.device.pk: s.device for s in stays}.values())
    device = next((d for d in devices if str(d.pk) == request.GET.get("device")), None)
    rows = reports.daily_rows(location=location, device=device, first=start, last=end)
    day = data.get("day") or end
    shown = [s for s in stays if device in (None, s.device)]
    context = {
        "location": location,
        "form": form,
        "devices": devices,
        "device": device,
        "rows": rows,
        "bars": charts.daily_bars(rows),
        "day": day,
        "total_kwh": sum(r.kwh for r in rows),
        "total_cost": sum(r.cost for r in rows),
        "first": start,
        "last": end,
        "zone": settings.TELEMETRY_TIME_ZONE,
        "stays": [_stay_row(s, start, end) for s in shown],
        "timelines": _timeline_charts([s.device for s in location.stays(day, day) if device in (None, s.device)], day),
    }
    template = "telemetry/location_detail.html"
    if request.htmx:
        template += "#location-charts"
    return render(request, template, context)


def _stay_row(stay: Stay, first: date, last: date) -> dict:
    return {
        "stay": stay,
        "moved_in": stay.moved_in(first),
        "moved_out": stay.moved_out(last),
        "kwh": reports.stay_wh(stay=stay, first=first, last=last) / 1000,
    }


def _timeline_charts(devices: list[Device], day: date) -> list[dict]:
    start, end = totals.day_bounds(day)
    zone = totals.local_zone()
    return [
        {
            "device": t.device,
            "kwh": t.kwh,
            "readings": t.readings,
            "svg": charts.timeline(t.points, start=start.astimezone(zone), end=end.astimezone(zone)),
        }
        for t in reports.device_day_timelines(devices=devices, day=day)
    ]


@require_http_methods(["GET", "POST"])
@staff_required
def cost_version_list(request: HtmxHttpRequest) -> HttpResponse:
    form = CostVersionForm(request.POST or None, zone=totals.local_zone())
    if request.method == "POST" and form.is_valid():
        if CostVersion.objects.filter(effective_from=form.cleaned_data["effective_from"]).exists():
            form.add_error("effective_from", "A version already starts at that moment.")
        else:
            version = totals.cost_version_create(**form.cleaned_data, created_by=request_identity(request) or "")
            return redirect("telemetry:cost-version-detail", pk=version.pk)
    context = {"form": form, "versions": CostVersion.objects.all(), "zone": settings.TELEMETRY_TIME_ZONE}
    return render(request, "telemetry/cost_version_list.html", context, status=400 if form.errors else 200)


@require_GET
@staff_required
def cost_version_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(CostVersion, pk=pk)
    result = version.recalculation or {}
    days = [d | {"change": Decimal(d["new_cost"]) - Decimal(d["old_cost"])} for d in result.get("days_changed", [])]
    change = Decimal(result.get("new_cost") or 0) - Decimal(result.get("old_cost") or 0)
    context = {
        "version": version,
        "result": result,
        "days": days,
        "change": change,
        "zone": settings.TELEMETRY_TIME_ZONE,
    }
    return render(request, "telemetry/cost_version_detail.html", context)


def _ticket_page(request: HtmxHttpRequest, status: str, *, fragment: bool) -> HttpResponse:
    tickets = ReviewTicket.objects.select_related("device")
    if status in ReviewTicket.Status.values:
        tickets = tickets.filter(status=status)
    table = ReviewTicketTable(tickets)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    template = "telemetry/ticket_list.html" + ("#ticket-table" if fragment else "")
    context = {"table": table, "status": status, "statuses": ["all", *ReviewTicket.Status.values]}
    return render(request, template, context)


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def ticket_list(request: HtmxHttpRequest) -> HttpResponse:
    return _ticket_page(request, request.GET.get("status", "open"), fragment=bool(request.htmx))


@require_POST
@staff_required
def ticket_update(request: HtmxHttpRequest, pk: int, action: str) -> HttpResponse:
    ticket = get_object_or_404(ReviewTicket, pk=pk)
    try:
        reconcile.ticket_transition(ticket=ticket, action=action, by=request_identity(request) or "")
    except reconcile.TicketMovedOn as exc:
        return HttpResponse(exc.messages[0], status=409, content_type="text/plain; charset=utf-8")
    except ValidationError as exc:
        return HttpResponse(exc.messages[0], status=400, content_type="text/plain; charset=utf-8")
    if request.htmx:
        return _ticket_page(request, request.POST.get("status", "open"), fragment=True)
    messages.success(request, f"Ticket {ticket.pk} {ticket.status}.")
    return redirect("telemetry:ticket-list")


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def malformed_list(request: HtmxHttpRequest) -> HttpResponse:
    table = MalformedTable(MalformedMessage.objects.all())
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    template = "telemetry/malformed_list.html"
    if request.htmx:
        template += "#malformed-table"
    return render(request, template, {"table": table})
