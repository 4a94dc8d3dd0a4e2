from datetime import date, timedelta

from django.db import models
from django.urls import reverse
from django.utils import timezone


class ErcotIngestQuerySet(models.QuerySet):
    def done(self) -> "ErcotIngestQuerySet":
        """Documents that need no more fetching (stored now, or found already in storage)."""
        return self.filter(status__in=[ErcotIngest.Status.STORED, ErcotIngest.Status.SKIPPED])

    def presence(self, *, end: date, days: int = 31) -> dict[str, dict[date, str]]:
        """{tdsp: {day: "FUL" | "DAILY" | "FUL+DAILY"}} for the `days` Central days ending at `end`."""
        start = end - timedelta(days=days - 1)
        found: dict[str, dict[date, set]] = {}
        for tdsp, day, kind in (
            self.done().filter(file_date__range=(start, end)).values_list("tdsp", "file_date", "kind")
        ):
            found.setdefault(tdsp, {}).setdefault(day, set()).add(kind)
        return {
            tdsp: {day: "+".join(sorted(kinds, key=len, reverse=True)) for day, kinds in by_day.items()}
            for tdsp, by_day in found.items()
        }


class ErcotIngest(models.Model):
    """One ERCOT TDSP ESIID extract zip: where it came from, where it is stored, what it held."""

    class Kind(models.TextChoices):
        FUL = "FUL", "FUL"
        DAILY = "DAILY", "DAILY"

    class Status(models.TextChoices):
        STORED = "stored"
        SKIPPED = "skipped"
        FAILED = "failed"

    class Method(models.TextChoices):
        EWS = "ews", "EWS"
        API = "api", "Public API"
        MIS = "mis", "MIS"
        DEMO = "demo", "Demo data"

    doc_id = models.CharField(max_length=32, unique=True, help_text="ERCOT DocID")
    filename = models.CharField(max_length=200, help_text="ERCOT's ConstructedName")
    storage_key = models.CharField(max_length=300, blank=True, default="")
    size_bytes = models.BigIntegerField(null=True, blank=True)
    content_size = models.BigIntegerField(null=True, blank=True, help_text="Size announced by the listing")
    sha256 = models.CharField(max_length=64, blank=True, default="")
    source_url = models.CharField(max_length=500, blank=True, default="")
    method = models.CharField(max_length=8, choices=Method.choices)
    tdsp = models.CharField(max_length=40, blank=True, default="", db_index=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, blank=True, default="")
    file_date = models.DateField(null=True, blank=True, db_index=True, help_text="Central date in the file name")
    posted_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, db_index=True)
    error = models.TextField(blank=True, default="")
    rows_loaded = models.BigIntegerField(null=True, blank=True, help_text="Records written (newer than stored)")
    rows_read = models.BigIntegerField(
        null=True, blank=True, help_text="Data rows read from the file, refused ones too"
    )
    row_errors = models.JSONField(default=list, blank=True, help_text="First few rows refused by the loader")
    fetched_at = models.DateTimeField(default=timezone.now, db_index=True)
    loaded_at = models.DateTimeField(null=True, blank=True)

    objects = ErcotIngestQuerySet.as_manager()

    class Meta:
        verbose_name = "ERCOT ingest"
        ordering = ["-posted_at", "-doc_id"]

    def __str__(self) -> str:
        return self.filename

    def get_download_url(self) -> str:
        return reverse("ercot:ingest-download", args=[self.pk])

    def as_json(self) -> dict:
        return {
            "docId": self.doc_id,
            "filename": self.filename,
            "key": self.storage_key,
            "bytes": self.size_bytes,
            "sha256": self.sha256,
            "method": self.method,
            "tdsp": self.tdsp,
            "kind": self.kind,
            "postedAt": self.posted_at.isoformat() if self.posted_at else None,
            "status": self.status,
            "error": self.error,
            "rowsLoaded": self.rows_loaded,
            "rowsRead": self.rows_read,
        }


class EsiidRecordQuerySet(models.QuerySet):
    def estimated_count(self) -> int:
        """PostgreSQL's own estimate for a big table (an exact count scans 13 M rows); exact elsewhere."""
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [self.model._meta.db_table])
                row = cursor.fetchone()
            if row and row[0] >= 100_000:  # small or never analysed: counting is cheap
                return row[0]
        return self.count()


class EsiidRecord(models.Model):
    """The latest known state of one ESIID from the TDSP extracts (all 22 columns as text)."""

    # On PostgreSQL migration 0002 gives esiid and zipcode the "C" collation: byte-order compares
    # keep the 13 M-row load fast and let prefix searches (LIKE '1044%') use the plain indexes, so
    # it drops Django's extra varchar_pattern_ops copy of the key. (SQLite has no "C" collation.)
    esiid = models.CharField(max_length=22, primary_key=True)
    address = models.CharField(max_length=200, blank=True, default="")
    address_overflow = models.CharField(max_length=200, blank=True, default="")
    city = models.CharField(max_length=100, blank=True, default="")
    state = models.CharField(max_length=8, blank=True, default="")
    zipcode = models.CharField(max_length=10, blank=True, default="")
    county = models.CharField(max_length=100, blank=True, default="")
    duns = models.CharField(max_length=20, blank=True, default="")
    meter_read_cycle = models.CharField(max_length=20, blank=True, default="")
    status = models.CharField(max_length=20, blank=True, default="")
    premise_type = models.CharField(max_length=40, blank=True, default="")
    power_region = models.CharField(max_length=20, blank=True, default="")
    station_code = models.CharField(max_length=40, blank=True, default="")
    station_name = models.CharField(max_length=100, blank=True, default="")
    metered = models.CharField(max_length=4, blank=True, default="")
    open_service_orders = models.TextField(blank=True, default="")
    polr_customer_class = models.CharField(max_length=60, blank=True, default="")
    settlement_ams_indicator = models.CharField(max_length=4, blank=True, default="")
    tdsp_ams_indicator = models.CharField(max_length=20, blank=True, default="")
    switch_hold_indicator = models.CharField(max_length=4, blank=True, default="")
    premise_subtype_code = models.CharField(max_length=20, blank=True, default="")
    premise_subtype_desc = models.CharField(max_length=100, blank=True, default="")
    tdsp = models.CharField(max_length=40, blank=True, default="", help_text="From the file's FriendlyName")
    posted_at = models.DateTimeField(help_text="Posting time of the extract this state came from")
    # No FK constraint or index: both would slow a 13 M-row load and nothing joins this way often.
    ingest = models.ForeignKey(
        ErcotIngest, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False
    )

    objects = EsiidRecordQuerySet.as_manager()

    class Meta:
        verbose_name = "ESIID record"
        db_table = "ercot_esiid_record"
        ordering = ["esiid"]
        indexes = [models.Index(fields=["zipcode"], name="ercot_esiid_zipcode")]

    def __str__(self) -> str:
        return f"{self.esiid} {self.status} {self.address}"

    @property
    def is_active(self) -> bool:
        return self.status == "Active"
