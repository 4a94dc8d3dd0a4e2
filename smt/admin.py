"""Django's admin as a read-only database explorer at /admin/database/."""

from django.contrib import admin

from config.admin import ReadOnlyAdmin
from smt.models import MirroredFile, RawSmtFile, SmtBillingRead, SmtInterval


@admin.register(RawSmtFile)
class RawSmtFileAdmin(ReadOnlyAdmin):
    list_display = ("id", "filename", "source", "esiid_hint", "size_bytes", "status", "received_at")
    list_filter = ("status", "kind", "source")
    search_fields = ("filename", "sha256", "esiid_hint")


@admin.register(SmtInterval)
class SmtIntervalAdmin(ReadOnlyAdmin):
    list_display = ("esiid", "meter", "channel", "ts", "kwh", "quality", "revised_at", "raw_file")
    list_filter = ("channel", "quality")
    search_fields = ("esiid",)
    show_full_result_count = False  # counting tens of millions of rows on every page is slow


@admin.register(MirroredFile)
class MirroredFileAdmin(ReadOnlyAdmin):
    list_display = ("remote_path", "size_bytes", "mtime", "sha256", "raw_file", "mirrored_at")
    search_fields = ("remote_path", "sha256")


@admin.register(SmtBillingRead)
class SmtBillingReadAdmin(ReadOnlyAdmin):
    list_display = ("esiid", "meter", "read_date", "kwh", "start_reading", "end_reading", "revised_at", "raw_file")
    search_fields = ("esiid",)
