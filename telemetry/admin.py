"""Telemetry tables in the read-only database explorer (/admin/database/)."""

from django.contrib import admin

from config.admin import ReadOnlyAdmin
from telemetry.models import (
    CostVersion,
    DailyTotal,
    Device,
    DeviceAssignment,
    LedgerEntry,
    Location,
    MalformedMessage,
    RawEvent,
    ReviewTicket,
)


@admin.register(Device)
class DeviceAdmin(ReadOnlyAdmin):
    list_display = ("name", "location", "status", "last_seen_at", "duplicates")
    list_filter = ("status", "location")
    search_fields = ("name",)
    exclude = ("token_sha256",)


@admin.register(DeviceAssignment)
class DeviceAssignmentAdmin(ReadOnlyAdmin):
    list_display = ("device", "location", "effective_from", "assigned_by", "assigned_at", "note")
    search_fields = ("device__name",)
    raw_id_fields = ("device",)


@admin.register(RawEvent)
class RawEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "device", "ts", "energy_wh", "power_w", "seq", "boot_id", "processed", "received_at")
    list_filter = ("processed",)
    search_fields = ("device__name",)
    raw_id_fields = ("device",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "device", "start_ts", "end_ts", "delta_wh", "kind", "confidence", "superseded_at")
    list_filter = ("kind", "confidence")
    search_fields = ("device__name",)
    raw_id_fields = ("device", "start_event", "end_event", "superseded_by")


@admin.register(DailyTotal)
class DailyTotalAdmin(ReadOnlyAdmin):
    list_display = ("device", "day", "wh", "cost", "updated_at")
    search_fields = ("device__name",)
    raw_id_fields = ("device",)


for model in (Location, CostVersion, ReviewTicket, MalformedMessage):
    admin.site.register(model, ReadOnlyAdmin)
