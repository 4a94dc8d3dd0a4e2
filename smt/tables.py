import django_tables2 as tables
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html

from smt.models import RawSmtFile


class RawSmtFileTable(tables.Table):
    filename = tables.Column(linkify=True, attrs={"td": {"class": "filename"}})
    esiid_hint = tables.Column(verbose_name="ESIID")
    size_bytes = tables.Column(verbose_name="Size")
    received_at = tables.DateTimeColumn(verbose_name="Received", format="Y-m-d H:i")
    status = tables.Column()
    inserted = tables.Column(verbose_name="Inserted", accessor="stats__intervalsInserted", orderable=False, default="–")
    errors = tables.Column(verbose_name="Errors", accessor="stats__invalidCount", orderable=False, default="–")

    class Meta:
        model = RawSmtFile
        fields = ("filename", "source", "esiid_hint", "size_bytes", "received_at", "status", "inserted", "errors")
        attrs = {"class": "table", "id": "raw-files"}
        order_by = "-received_at"

    def render_size_bytes(self, value: int) -> str:
        return filesizeformat(value)

    def render_status(self, value: str, record: RawSmtFile) -> str:
        return format_html('<span class="badge badge-{}" title="{}">{}</span>', record.status, record.error, value)
