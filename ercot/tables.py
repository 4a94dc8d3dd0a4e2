from urllib.parse import urlencode

import django_tables2 as tables
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from config.texas import CENTRAL
from config.timestamps import ZonedDateTimeColumn
from ercot.models import ErcotIngest, EsiidRecord


class ErcotIngestTable(tables.Table):
    filename = tables.Column(verbose_name="File", attrs={"td": {"class": "filename"}})
    file_date = tables.DateColumn(verbose_name="Date (CT)", format="Y-m-d", attrs={"td": {"class": "nowrap"}})
    posted_at = ZonedDateTimeColumn(verbose_name="Posted", zone=CENTRAL)
    size_bytes = tables.Column(verbose_name="Size")
    rows_loaded = tables.Column(verbose_name="Rows", attrs={"td": {"class": "num"}})
    download = tables.Column(empty_values=(), orderable=False, verbose_name="")

    class Meta:
        model = ErcotIngest
        fields = (
            "filename",
            "tdsp",
            "kind",
            "file_date",
            "posted_at",
            "size_bytes",
            "method",
            "status",
            "rows_loaded",
            "download",
        )
        attrs = {"class": "table", "id": "ercot-files"}
        order_by = ("-posted_at",)

    def render_filename(self, value: str, record: ErcotIngest) -> str:
        sha = (
            format_html('<br><code class="muted" title="sha256">{}</code>', record.sha256[:16]) if record.sha256 else ""
        )
        # A break opportunity after each dot: the 70-character names wrap at their segments.
        parts = format_html_join(mark_safe(".<wbr>"), "{}", ((part,) for part in value.split(".")))
        return format_html("{}{}", parts, sha)

    def render_size_bytes(self, value: int, record: ErcotIngest) -> str:
        return filesizeformat(value)

    def render_rows_loaded(self, value: int, record: ErcotIngest) -> str:
        # "0" alone read as a failure for a DAILY loaded before the FUL it follows: say what was read.
        if record.rows_read is None:  # loaded before rows read were recorded
            return intcomma(value)
        return f"{intcomma(record.rows_read)} read, {intcomma(value)} newer than stored"

    def render_status(self, value: str, record: ErcotIngest) -> str:
        badge = format_html('<span class="badge badge-{}">{}</span>', record.status, value)
        if record.error:
            return format_html('{}<div class="error small">{}</div>', badge, record.error[:300])
        return badge

    def render_download(self, record: ErcotIngest) -> str:
        if record.status == ErcotIngest.Status.FAILED:
            return "–"
        return format_html('<a href="{}">Download</a>', record.get_download_url())


class EsiidRecordTable(tables.Table):
    address_overflow = tables.Column(verbose_name="Unit")
    zipcode = tables.Column(verbose_name="ZIP")
    posted_at = ZonedDateTimeColumn(verbose_name="As of", zone=CENTRAL)

    class Meta:
        model = EsiidRecord
        fields = (
            "esiid",
            "address",
            "address_overflow",
            "city",
            "zipcode",
            "tdsp",
            "status",
            "premise_type",
            "meter_read_cycle",
            "posted_at",
        )
        attrs = {"class": "table", "id": "esiids"}
        orderable = False

    def render_status(self, value: str) -> str:
        return format_html('<span class="badge badge-esiid-{}">{}</span>', value.lower(), value)

    def render_esiid(self, value: str) -> str:
        # By URL name only: the usage page is SMT's, and ercot imports nothing of smt.
        return format_html(
            '<a href="{}?{}" title="Usage of this ESIID">{}</a>',
            reverse("smt:usage-summary"),
            urlencode({"esiid": value}),
            value,
        )
