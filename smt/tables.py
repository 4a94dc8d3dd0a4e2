import django_tables2 as tables
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime

from config.texas import CENTRAL
from config.timestamps import ZonedDateTimeColumn
from smt.models import IntervalDeletion, RawSmtFile, SmtBillingRead, SmtInterval


class RawSmtFileTable(tables.Table):
    filename = tables.Column(linkify=True, attrs={"td": {"class": "filename"}})
    esiid_hint = tables.Column(verbose_name="ESIID", empty_values=())
    size_bytes = tables.Column(verbose_name="Size")
    received_at = ZonedDateTimeColumn(verbose_name="Received", zone=CENTRAL)
    status = tables.Column()
    inserted = tables.Column(verbose_name="Inserted", accessor="stats__intervalsInserted", orderable=False, default="–")
    updated = tables.Column(verbose_name="Updated", accessor="stats__intervalsUpdated", orderable=False, default="–")
    errors = tables.Column(verbose_name="Errors", accessor="stats__invalidCount", orderable=False, default="–")

    class Meta:
        model = RawSmtFile
        fields = (
            "filename",
            "source",
            "esiid_hint",
            "size_bytes",
            "received_at",
            "status",
            "inserted",
            "updated",
            "errors",
        )
        attrs = {"class": "table", "id": "raw-files"}
        order_by = "-received_at"

    def render_esiid_hint(self, record: RawSmtFile) -> str:
        esiids = record.esiids
        if not esiids:
            return "—"
        more = f" +{len(esiids) - 1} more" if len(esiids) > 1 else ""
        return format_html('<span title="{}">{}{}</span>', ", ".join(esiids[:50]), esiids[0], more)

    def render_size_bytes(self, value: int) -> str:
        return filesizeformat(value)

    def render_status(self, value: str, record: RawSmtFile) -> str:
        return format_html('<span class="badge badge-{}" title="{}">{}</span>', record.status, record.error, value)


class IntervalTable(tables.Table):
    local = tables.Column(accessor="ts", verbose_name="Local (Central)", order_by=("ts", "esiid", "channel"))
    ts = tables.Column(verbose_name="UTC", order_by=("ts", "esiid", "channel"))
    kwh = tables.Column(verbose_name="kWh", attrs={"td": {"class": "num"}, "th": {"class": "num"}})
    quality = tables.Column()
    revised_at = ZonedDateTimeColumn(verbose_name="Revision (Central)", zone=CENTRAL)
    source = tables.Column(accessor="raw_file_id", verbose_name="Source row", orderable=False)

    class Meta:
        model = SmtInterval
        fields = ("esiid", "meter", "channel", "local", "ts", "kwh", "quality", "revised_at", "source")
        attrs = {"class": "table", "id": "intervals"}
        row_attrs = {"class": lambda record: "estimated" if record.quality == "estimated" else ""}
        template_name = "smt/_interval_table.html"  # rows from body_html()

    def render_local(self, value) -> str:
        # From UTC, so the repeated fall-back hour shows CDT then CST (Django's "T" is blank there).
        return value.astimezone(CENTRAL).strftime("%Y-%m-%d %H:%M %Z")

    def render_ts(self, value) -> str:
        return value.strftime("%Y-%m-%d %H:%MZ")

    def render_quality(self, value: str, record) -> str:
        return format_html('<span class="badge badge-q-{}">{}</span>', record.quality, value)

    def render_source(self, value: int, record) -> str:
        return format_html(
            '<a href="{}">file #{} row {}</a>', reverse("smt:raw-file-detail", args=[value]), value, record.row_number
        )

    def body_html(self) -> SafeString:
        """The page's rows in one pass, through the render_* methods above.

        django-tables2 renders every cell through signature inspection and a template node:
        on a 100-row page that was most of the page's time (bench/smt_usage.py).
        """
        rows = []
        for index, bound in enumerate(self.page.object_list):
            r, parity = bound.record, "odd" if index % 2 else "even"
            revised = localtime(r.revised_at, CENTRAL).strftime("%Y-%m-%d %H:%M %Z") if r.revised_at else "—"
            rows.append(
                format_html(
                    '<tr class="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td>'
                    "<td>{}</td><td>{}</td><td>{}</td></tr>",
                    f"estimated {parity}" if r.quality == "estimated" else parity,
                    r.esiid,
                    r.meter,
                    r.get_channel_display(),
                    self.render_local(r.ts),
                    self.render_ts(r.ts),
                    r.kwh,
                    self.render_quality(r.get_quality_display(), r),
                    revised,
                    self.render_source(r.raw_file_id, r) if r.raw_file_id else "—",
                )
            )
        return mark_safe("".join(rows))


class DeletionTable(tables.Table):
    deleted_at = ZonedDateTimeColumn(verbose_name="When (Central)", zone=CENTRAL)
    actor = tables.Column(verbose_name="Who")
    range_start = ZonedDateTimeColumn(verbose_name="From (Central)", zone=CENTRAL)
    range_end = ZonedDateTimeColumn(verbose_name="To, exclusive (Central)", zone=CENTRAL)
    deleted_count = tables.Column(verbose_name="Intervals")
    raw_file_ids = tables.Column(verbose_name="Rebuild from", orderable=False)

    class Meta:
        model = IntervalDeletion
        fields = (
            "deleted_at",
            "actor",
            "esiid",
            "meter",
            "range_start",
            "range_end",
            "deleted_count",
            "reason",
            "raw_file_ids",
        )
        attrs = {"class": "table", "id": "deletions"}

    def render_raw_file_ids(self, value: list) -> str:
        links = [format_html('<a href="{}">#{}</a>', reverse("smt:raw-file-detail", args=[pk]), pk) for pk in value]
        return format_html_join(", ", "{}", ((link,) for link in links)) if links else "–"


def billing_difference_class(difference) -> str:
    """Highlight: any difference; strong when it passes 1 kWh or 2 % of the read."""
    if difference is None:
        return "diff-missing"
    return "" if difference["kwh"] == 0 else ("diff-big" if difference["big"] else "diff")


class BillingReadTable(tables.Table):
    esiid = tables.Column(verbose_name="ESIID")
    kwh = tables.Column(verbose_name="Billing kWh", attrs={"td": {"class": "num"}})
    interval_kwh = tables.Column(
        verbose_name="Intervals kWh", empty_values=(), orderable=False, attrs={"td": {"class": "num"}}
    )
    difference = tables.Column(
        verbose_name="Difference", empty_values=(), orderable=False, attrs={"td": {"class": "num"}}
    )
    start_reading = tables.Column(verbose_name="Start register", attrs={"td": {"class": "num"}})
    end_reading = tables.Column(verbose_name="End register", attrs={"td": {"class": "num"}})
    revised_at = ZonedDateTimeColumn(verbose_name="Revision", zone=CENTRAL)
    source = tables.Column(accessor="raw_file_id", verbose_name="Source row", orderable=False)

    class Meta:
        model = SmtBillingRead
        fields = (
            "esiid",
            "meter",
            "read_date",
            "kwh",
            "interval_kwh",
            "difference",
            "start_reading",
            "end_reading",
            "revised_at",
            "source",
        )
        attrs = {"class": "table", "id": "billing-reads"}
        row_attrs = {
            "class": lambda table, record: billing_difference_class(table.differences.get(record.pk)),
            "data-day": lambda record: record.read_date.isoformat(),
        }
        order_by = ("esiid", "-read_date")

    differences: dict = {}

    def render_interval_kwh(self, record: SmtBillingRead) -> str:
        found = self.differences.get(record.pk)
        return "no intervals" if found is None else f"{found['interval']:.3f} ({found['count']} intervals)"

    def render_difference(self, record: SmtBillingRead) -> str:
        found = self.differences.get(record.pk)
        return "–" if found is None else f"{found['kwh']:+.3f}"

    def render_source(self, value: int, record: SmtBillingRead) -> str:
        if value is None:
            return "–"
        return format_html(
            '<a href="{}">file #{} row {}</a>', reverse("smt:raw-file-detail", args=[value]), value, record.row_number
        )
