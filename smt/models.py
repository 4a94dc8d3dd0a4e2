from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class RawSmtFileQuerySet(models.QuerySet):
    def pending(self) -> "RawSmtFileQuerySet":
        """Files queued for a worker or being normalized now (pages poll while there are any)."""
        return self.filter(status__in=RawSmtFile.PENDING_STATUSES)

    def stranded(self) -> "RawSmtFileQuerySet":
        """Files a worker should have finished by now (it died, or the queue lost the task)."""
        cutoff = timezone.now() - timedelta(seconds=settings.SMT_STRANDED_AFTER_SECONDS)
        return self.pending().filter(status_changed_at__lt=cutoff)

    def claim_for_normalize(self, pk: int) -> bool:
        """Take a file for one worker with a conditional UPDATE: with several clusters (or a
        stranded-file sweep racing a slow worker) a file queued twice is still normalized once.
        A file another worker took less than SMT_STRANDED_AFTER_SECONDS ago is left to it."""
        now = timezone.now()
        cutoff = now - timedelta(seconds=settings.SMT_STRANDED_AFTER_SECONDS)
        free = ~models.Q(status=RawSmtFile.Status.NORMALIZING) | models.Q(status_changed_at__lt=cutoff)
        taken = self.filter(free, pk=pk).exclude(status=RawSmtFile.Status.NORMALIZED)
        return taken.update(status=RawSmtFile.Status.NORMALIZING, status_changed_at=now) == 1

    def uploads_since(self, *, uploader: str, since) -> int:
        return self.filter(uploader=uploader, received_at__gte=since).count()


class RawSmtFile(models.Model):
    class Kind(models.TextChoices):
        INTERVAL = "interval"
        BILLING = "billing"
        BUNDLE = "bundle"
        GREENBUTTON = "greenbutton", "Green Button (ESPI XML)"
        UNKNOWN = "unknown"

    class Origin(models.TextChoices):
        """Which channel the bytes came through; it decides what the worker may make of them."""

        CUSTOMER = "customer"
        STAFF = "staff"
        TOKEN = "token", "upload or admin token"
        MIRROR = "mirror", "SFTP mirror"
        MEMBER = "member", "bundle member"
        COMMAND = "command", "command line"

    class Status(models.TextChoices):
        RECEIVED = "received"
        NORMALIZING = "normalizing"
        NORMALIZED = "normalized"
        FAILED = "failed"

    filename = models.CharField(max_length=255, help_text="As sent; never used as a path.")
    sha256 = models.CharField(max_length=64, unique=True)
    size_bytes = models.BigIntegerField()
    storage_key = models.CharField(max_length=512)
    source = models.CharField(max_length=64, blank=True, default="")
    esiid_hint = models.CharField(max_length=22, blank=True, default="")
    meter_hint = models.CharField(max_length=64, blank=True, default="")
    # Green Button files: the ESIID of each UsagePoint (its link path), as given with the upload,
    # so the worker reads the file with the same mapping the upload was checked with.
    usage_point_esiids = models.JSONField(default=dict, blank=True)
    # Who gave the ESIID / UsagePoint mapping a failed file was normalized again with, and when
    # (an identity like "user:<name>", "token:upload", "customer:<name>"); the origin stays as it was.
    hints_set_by = models.CharField(max_length=160, blank=True, default="")
    hints_set_at = models.DateTimeField(null=True, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.UNKNOWN)
    # The least trusted origin by default: a row created without saying where it came from gets
    # a customer's limits (plain CSV, the uploader's own ESIIDs, never above SMT's data).
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.CUSTOMER)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # "user:<name>" or "token:<kind>": who to count against the daily upload limit.
    uploader = models.CharField(max_length=160, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    error = models.TextField(blank=True, default="")
    stats = models.JSONField(default=dict, blank=True)
    normalized_at = models.DateTimeField(null=True, blank=True)
    # A member extracted from a PGP-armored bundle points at the bundle's raw file.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="members")

    objects = RawSmtFileQuerySet.as_manager()
    PENDING_STATUSES = (Status.RECEIVED, Status.NORMALIZING)

    class Meta:
        verbose_name = "raw SMT file"
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["uploader", "received_at"])]

    def __str__(self) -> str:
        return f"{self.filename} ({self.sha256[:12]})"

    def get_absolute_url(self) -> str:
        return reverse("smt:raw-file-detail", args=[self.pk])

    @property
    def pending(self) -> bool:
        """Queued for a worker or being normalized now."""
        return self.status in self.PENDING_STATUSES

    @property
    def esiids(self) -> list[str]:
        """The ESIIDs the file holds once normalized, else the one given at upload (if any)."""
        found = (self.stats or {}).get("esiids") or []
        return found or ([self.esiid_hint] if self.esiid_hint else [])

    @property
    def official(self) -> bool:
        """Came through one of SMT's own channels (SFTP, staff, tokens, the command line, a bundle)."""
        return self.origin != self.Origin.CUSTOMER

    def hints_merged(self, *, esiid: str = "", usage_points: Mapping[str, str] | None = None) -> tuple[str, dict]:
        """The ESIID and UsagePoint mapping the file would be read with: each one given replaces the stored one."""
        return esiid or self.esiid_hint, dict(usage_points or {}) or dict(self.usage_point_esiids or {})

    def hints_new(self, *, esiid: str = "", usage_points: Mapping[str, str] | None = None) -> bool:
        """Whether a failed file is given hints it did not have: worth reading again with them.

        Only a failed file: a pending one is being read with the old hints, and one that
        normalized fine would write its rows again under other ESIIDs.
        """
        if self.status != self.Status.FAILED:
            return False
        return self.hints_merged(esiid=esiid, usage_points=usage_points) != (
            self.esiid_hint,
            dict(self.usage_point_esiids or {}),
        )

    def set_status(self, status: str, *, error: str = "", stats: dict | None = None) -> None:
        self.status = status
        self.status_changed_at = timezone.now()
        self.error = error
        fields = ["status", "status_changed_at", "error"]
        if stats is not None:
            self.stats = stats
            fields.append("stats")
        if status == self.Status.NORMALIZED:
            self.normalized_at = self.status_changed_at
            fields.append("normalized_at")
        self.save(update_fields=fields)

    def as_json(self) -> dict:
        return {
            "rawId": self.pk,
            "filename": self.filename,
            "sha256": self.sha256,
            "size": self.size_bytes,
            "source": self.source,
            "esiid": self.esiid_hint,
            "meter": self.meter_hint,
            "kind": self.kind,
            "origin": self.origin,
            "status": self.status,
            "error": self.error,
            "receivedAt": self.received_at.isoformat(),
            "stats": self.stats,
        }


class SmtInterval(models.Model):
    class Channel(models.TextChoices):
        CONSUMPTION = "consumption"
        GENERATION = "generation"

    class Quality(models.TextChoices):
        ACTUAL = "actual"
        ESTIMATED = "estimated"
        UNKNOWN = "unknown"

    esiid = models.CharField(max_length=22)
    meter = models.CharField(max_length=64, default="unknown")
    channel = models.CharField(max_length=12, choices=Channel.choices)
    ts = models.DateTimeField(help_text="Interval start, UTC.")
    kwh = models.DecimalField(max_digits=12, decimal_places=3)
    quality = models.CharField(max_length=10, choices=Quality.choices)
    revised_at = models.DateTimeField(null=True, blank=True)
    raw_file = models.ForeignKey(RawSmtFile, null=True, on_delete=models.SET_NULL)
    row_number = models.IntegerField(help_text="Line number in the raw file (header = 1).")

    class Meta:
        verbose_name = "SMT interval"
        db_table = "smt_interval"
        constraints = [models.UniqueConstraint(fields=["esiid", "meter", "channel", "ts"], name="smt_interval_key")]
        # Covering: the daily summary and its gap query read only these columns, so PostgreSQL
        # answers them from the index alone (an index-only scan) once the visibility map is set.
        indexes = [
            models.Index(
                fields=["esiid", "ts"], include=["meter", "channel", "kwh", "quality"], name="smt_interval_esiid_ts_cov"
            )
        ]

    def __str__(self) -> str:
        return f"{self.esiid} {self.channel} {self.ts:%Y-%m-%dT%H:%MZ} {self.kwh}"


class HouseQuerySet(models.QuerySet):
    def visible_to(self, user) -> "HouseQuerySet":
        """Staff see every house; a customer only their own (others get a 404)."""
        if user.is_staff:
            return self
        return self.filter(customer=user)


class House(models.Model):
    """A customer's premise, identified by its ESIID. Staff manage these."""

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="houses")
    name = models.CharField(max_length=120, help_text="e.g. 12 Oak St")
    esiid = models.CharField(max_length=22, db_index=True)
    meter = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    objects = HouseQuerySet.as_manager()

    class Meta:
        ordering = ["customer__username", "name"]
        constraints = [models.UniqueConstraint(fields=["customer", "esiid"], name="smt_house_customer_esiid")]

    def __str__(self) -> str:
        return f"{self.name} ({self.esiid})"


class IntervalDeletion(models.Model):
    """The audit trail of interval deletions: who removed what, when and why."""

    deleted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    actor = models.CharField(max_length=160, help_text="user:<name> or token:admin")
    deleted_at = models.DateTimeField(default=timezone.now, db_index=True)
    esiid = models.CharField(max_length=22)
    meter = models.CharField(max_length=64)
    range_start = models.DateTimeField(help_text="UTC, inclusive")
    range_end = models.DateTimeField(help_text="UTC, exclusive")
    deleted_count = models.IntegerField()
    reason = models.TextField(blank=True, default="")
    raw_file_ids = models.JSONField(default=list, help_text="Raw files whose re-normalization rebuilds the range")

    class Meta:
        ordering = ["-deleted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.deleted_count} intervals of {self.esiid}/{self.meter} by {self.actor}"


class SmtBillingRead(models.Model):
    """One daily register read from a DailyMeterUsage file; stored as given, never derived."""

    esiid = models.CharField(max_length=22)
    meter = models.CharField(max_length=64, default="unknown")
    read_date = models.DateField(help_text="Local Central service date.")
    revised_at = models.DateTimeField(null=True, blank=True)
    start_reading = models.DecimalField(max_digits=15, decimal_places=3, null=True, blank=True)
    end_reading = models.DecimalField(max_digits=15, decimal_places=3, null=True, blank=True)
    kwh = models.DecimalField(max_digits=12, decimal_places=3)
    raw_file = models.ForeignKey(RawSmtFile, null=True, on_delete=models.SET_NULL, related_name="billing_reads")
    row_number = models.IntegerField(help_text="Line number in the raw file (header = 1).")

    class Meta:
        verbose_name = "SMT billing read"
        ordering = ["esiid", "-read_date"]
        constraints = [models.UniqueConstraint(fields=["esiid", "meter", "read_date"], name="smt_billing_read_key")]

    def __str__(self) -> str:
        return f"{self.esiid} {self.read_date} {self.kwh} kWh"


class MirroredFile(models.Model):
    """A remote SFTP file already fetched: path, size and mtime say whether to fetch it again."""

    remote_path = models.CharField(max_length=1024, unique=True)
    size_bytes = models.BigIntegerField()
    mtime = models.BigIntegerField(help_text="Remote modification time, seconds since the epoch.")
    sha256 = models.CharField(max_length=64)
    raw_file = models.ForeignKey(RawSmtFile, null=True, on_delete=models.SET_NULL, related_name="mirrored_as")
    mirrored_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["remote_path"]

    def __str__(self) -> str:
        return self.remote_path

    def matches(self, *, size: int, mtime: int) -> bool:
        return self.size_bytes == size and self.mtime == mtime


class UploadRefusal(models.Model):
    """One refused upload: refusals cost the server work, so they count against a daily limit."""

    uploader = models.CharField(max_length=160)
    at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["uploader", "at"])]

    def __str__(self) -> str:
        return f"{self.uploader} at {self.at:%Y-%m-%d %H:%M}: {self.reason[:60]}"
