"""Django's admin as a read-only database explorer at /admin/database/."""

from django.contrib import admin

from smt.models import RawSmtFile, SmtInterval


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff


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
