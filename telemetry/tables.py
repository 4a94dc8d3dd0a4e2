import django_tables2 as tables
from django.conf import settings
from django.utils.html import format_html

from config.timestamps import ZonedDateTimeColumn
from telemetry.models import MalformedMessage, ReviewTicket


def telemetry_zone() -> str:
    """Telemetry pages show the devices' zone, read per render (tests change the setting)."""
    return settings.TELEMETRY_TIME_ZONE


class ReviewTicketTable(tables.Table):
    created_at = ZonedDateTimeColumn(verbose_name="Opened", zone=telemetry_zone)
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
    received_at = ZonedDateTimeColumn(verbose_name="Received", zone=telemetry_zone, seconds=True)
    payload = tables.Column(attrs={"td": {"class": "filename"}})

    class Meta:
        model = MalformedMessage
        fields = ("received_at", "topic", "error", "payload")
        attrs = {"class": "table", "id": "malformed"}
