"""The ops models in the read-only database explorer."""

from django.contrib import admin

from config.admin import ReadOnlyAdmin
from ops.models import JobRun


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "trigger", "esiid", "status", "created_at", "finished_at")
    list_filter = ("kind", "status", "trigger")
