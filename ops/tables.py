"""django-tables2 tables of the ops pages."""

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from config.texas import CENTRAL
from config.timestamps import ZonedDateTimeColumn
from ops.models import JobRun


class JobRunTable(tables.Table):
    id = tables.Column(verbose_name="Run", linkify=True)
    started_by = tables.Column(verbose_name="Started by", empty_values=())
    esiid = tables.Column(verbose_name="ESIID")
    created_at = ZonedDateTimeColumn(verbose_name="Queued", zone=CENTRAL, seconds=True)
    duration = tables.Column(orderable=False, empty_values=())
    counts = tables.Column(orderable=False)

    class Meta:
        model = JobRun
        fields = ("id", "kind", "started_by", "esiid", "status", "created_at", "duration", "counts", "error")
        attrs = {"class": "table", "id": "job-runs"}
        row_attrs = {"data-status": lambda record: record.status}
        order_by = "-created_at"

    def render_id(self, value: int) -> str:
        return f"#{value}"

    def render_status(self, value: str, record: JobRun) -> str:
        spinner = mark_safe(' <span class="spinner" aria-label="running"></span>') if record.active else ""
        return format_html('<span class="badge badge-job-{}">{}</span>{}', record.status, record.status, spinner)

    def render_started_by(self, record: JobRun) -> str:
        return record.started_by or record.trigger  # the field is empty only on rows no migration filled

    def render_duration(self, record: JobRun) -> str:
        seconds = record.duration.total_seconds() if record.duration is not None else None
        return "–" if seconds is None else f"{seconds:.1f} s"

    def render_error(self, value: str) -> str:
        # Only a real error is red; an empty one is the ordinary muted dash (render_* is skipped for it).
        return format_html('<span class="job-error">{}</span>', value)

    def render_counts(self, record: JobRun) -> str:
        return ", ".join(f"{label} {value}" for label, value, _ in record.counts_display()) or "–"
