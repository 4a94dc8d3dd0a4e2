from django.contrib import admin

from config.admin import ReadOnlyAdmin
from ercot.models import ErcotIngest, EsiidRecord


@admin.register(ErcotIngest)
class ErcotIngestAdmin(ReadOnlyAdmin):
    list_display = ("filename", "tdsp", "kind", "status", "size_bytes", "rows_loaded", "posted_at", "method")
    list_filter = ("status", "kind", "method", "tdsp")
    search_fields = ("filename", "doc_id", "sha256")


@admin.register(EsiidRecord)
class EsiidRecordAdmin(ReadOnlyAdmin):
    list_display = ("esiid", "address", "city", "zipcode", "status", "premise_type", "tdsp", "posted_at")
    list_filter = ("status", "tdsp")
    search_fields = ("=esiid",)
    show_full_result_count = False
