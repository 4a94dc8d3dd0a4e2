import django_tables2 as tables
from django.utils.html import format_html

from telemetry.models import MalformedMessage, ReviewTicket


class ReviewTicketTable(tables.Table):
    created_at = tables.DateTimeColumn(verbose_name="Opened", format="Y-m-d H:i")
    device = tables.Column(accessor="device__name", verbose_name="Device", default="–")
    evidence = tables.JSONColumn(orderable=False)
    status = tables.Column()
    actions = tables.TemplateColumn(template_name="telemetry/_ticket_actions.html", orderable=False, verbose_name="")

    class Meta:
        model = ReviewTicket
        fields = ("created_at", "kind", "device", "day", "evidence", "status", "updated_by", "actions")
        attrs = {"class": "table", "id": "tickets"}
        row_attrs = {"id": lambda record: f"ticket-{record.pk}"}

    def render_status(self, value: str, record: ReviewTicket) -> str:
        return format_html('<span class="badge badge-t-{}">{}</span>', record.status, value)


class MalformedTable(tables.Table):
    received_at = tables.DateTimeColumn(verbose_name="Received", format="Y-m-d H:i:s")
    payload = tables.Column(attrs={"td": {"class": "filename"}})

    class Meta:
        model = MalformedMessage
        fields = ("received_at", "topic", "error", "payload")
        attrs = {"class": "table", "id": "malformed"}
