"""Device telemetry: raw events stored once, an append-only energy ledger, local-day totals, costs."""

# One module, ~350 lines: Django keeps an app's models in one place, and the stay history (Stay, stays_of) serves Device and Location alike.

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import models
from django.utils import timezone


class Location(models.Model):
    """A room or building a device measures (the API calls it a classroom)."""

    name = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def stays(self, first: date, last: date) -> list["Stay"]:
        """The devices' stays here that overlap the local days first..last, by device name."""
        rows = DeviceAssignment.objects.filter(device_id__in=self.assignments.values("device_id")).select_related(
            "device", "location"
        )
        here = [s for s in stays_of(rows) if s.assignment.location_id == self.pk and s.overlaps(first, last)]
        return sorted(here, key=lambda s: (s.device.name, s.first or date.min))


class DeviceQuerySet(models.QuerySet):
    def silent_since(self, since) -> "DeviceQuerySet":
        """Devices heard before `since` (or never): no reading, heartbeat or status after it."""
        return self.filter(models.Q(last_seen_at__lt=since) | models.Q(last_seen_at__isnull=True))


class Device(models.Model):
    class Status(models.TextChoices):
        UNKNOWN = "unknown"
        ONLINE = "online"
        OFFLINE = "offline"

    name = models.CharField(max_length=120, unique=True)
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="devices")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UNKNOWN)
    status_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_reading_at = models.DateTimeField(null=True, blank=True)
    # Not indexed: every stored batch rewrites it on each device, and without an index on a
    # changed column PostgreSQL can update the row in place (HOT). Thousands of devices scan fast.
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_power_w = models.FloatField(null=True, blank=True)
    duplicates = models.BigIntegerField(default=0, help_text="Readings received again and dropped.")
    # sha256 of the per-device API token; the token itself is shown once and never stored.
    token_sha256 = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    # How the device's own messages are read (telemetry/routes.py): a device time without an
    # offset is wall time in `time_zone` (empty: TELEMETRY_TIME_ZONE), and the native format's
    # counter is in `counter_unit` (firmware that counts kWh, like Tasmota, sent natively).
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="For device times without an offset; empty: TELEMETRY_TIME_ZONE.",
    )
    counter_unit = models.CharField(
        max_length=3,
        choices=[("Wh", "Wh"), ("kWh", "kWh")],
        default="Wh",
        help_text="Unit of energy_wh_total in the device's native messages.",
    )

    objects = DeviceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def last_contact_at(self) -> datetime | None:
        """The last reading or heartbeat. A status message ("online", a last will) is not contact:
        a device that says "online" and then sends nothing is silent all the same."""
        return max(filter(None, (self.last_reading_at, self.last_heartbeat_at)), default=None)

    def is_silent(self, *, now: datetime, after: timedelta) -> bool:
        return self.last_contact_at is None or now - self.last_contact_at > after

    def token_issue(self) -> str:
        token = secrets.token_urlsafe(32)
        self.token_sha256 = hashlib.sha256(token.encode()).hexdigest()
        self.save(update_fields=["token_sha256"])
        return token

    def token_matches(self, token: str | None) -> bool:
        if not token or not self.token_sha256:
            return False
        return hmac.compare_digest(hashlib.sha256(token.encode()).hexdigest(), self.token_sha256)

    def stays(self) -> list["Stay"]:
        """The device's assignment history, oldest first."""
        return stays_of(self.assignments.select_related("location"))


class DeviceAssignment(models.Model):
    """Where a device was from a local day on (TELEMETRY_TIME_ZONE) until its next assignment.

    Written only by telemetry.assign.device_assign, which also keeps Device.location (the
    current location) in step. An empty effective_from covers the device's whole history."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="assignments")
    # PROTECT: deleting a location would silently move its past days to "unassigned".
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT, related_name="assignments")
    effective_from = models.DateField(null=True, blank=True, help_text="First local day; empty: all history.")
    assigned_by = models.CharField(max_length=160, blank=True, default="")
    assigned_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = [models.F("effective_from").asc(nulls_first=True), "id"]
        constraints = [
            models.UniqueConstraint(fields=["device", "effective_from"], name="assignment_once_per_day"),
            # Only the first assignment may cover all history (NULLs are distinct to the one above).
            models.UniqueConstraint(
                fields=["device"], condition=models.Q(effective_from__isnull=True), name="assignment_one_since_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.device} in {self.location or 'no location'} from {self.effective_from or 'the start'}"


@dataclass(frozen=True)
class Stay:
    """An assignment with the day the next one starts: the device was at assignment.location on
    the local days first..until-1 (first None: since its first reading; until None: still)."""

    assignment: DeviceAssignment
    until: date | None

    @property
    def device(self) -> Device:
        return self.assignment.device

    @property
    def first(self) -> date | None:
        return self.assignment.effective_from

    @property
    def last(self) -> date | None:
        """The last local day at this location (None: still there)."""
        return self.until - timedelta(days=1) if self.until else None

    def overlaps(self, first: date, last: date) -> bool:
        return (self.first is None or self.first <= last) and (self.until is None or self.until > first)

    def clip(self, first: date, last: date) -> tuple[date, date]:
        """The stay's days within first..last (call only when it overlaps them)."""
        return max(self.first or first, first), min(self.last or last, last)

    def moved_in(self, first: date) -> bool:
        return self.first is not None and self.first > first

    def moved_out(self, last: date) -> bool:
        return self.until is not None and self.until <= last


def stays_of(assignments: Iterable[DeviceAssignment]) -> list[Stay]:
    """Pair each assignment with the next one of the same device."""
    by_device: dict[int, list[DeviceAssignment]] = {}
    for row in sorted(assignments, key=lambda a: (a.device_id, a.effective_from or date.min)):
        by_device.setdefault(row.device_id, []).append(row)
    return [
        Stay(row, following.effective_from if following else None)
        for rows in by_device.values()
        for row, following in zip(rows, [*rows[1:], None], strict=True)
    ]


# HOT_PATH_FK: raw events and ledger entries, thousands a second, carry their device without a
# database constraint, whose check costs about 10 us a row (EXPLAIN ANALYZE). Only the ingest
# path writes them, after creating the device and locking its row in the same transaction, and
# nothing in the site deletes a device (the database explorer is read-only), so the reference
# always holds; the ORM still cascades a deletion made by hand.


class RawEvent(models.Model):
    """One telemetry reading as received; stored once (duplicates are counted on the device)."""

    # No index of its own: the (device, ts, energy_wh) unique index serves every lookup by
    # device, and each index costs every one of thousands of inserts a second. No database
    # constraint either (see HOT_PATH_FK above).
    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="events", db_index=False, db_constraint=False
    )
    ts = models.DateTimeField(help_text="Device time (received time when the device sent none).")
    # Indexed by BRIN on PostgreSQL (migration 0006): rows arrive in received order, so a few
    # block ranges answer "the last hour", for nearly nothing per insert; a b-tree cost every insert.
    received_at = models.DateTimeField(default=timezone.now)
    energy_wh = models.BigIntegerField()
    power_w = models.FloatField(null=True, blank=True)
    switch_state = models.CharField(max_length=16, blank=True, default="")
    seq = models.BigIntegerField(null=True, blank=True)
    boot_id = models.CharField(max_length=64, blank=True, default="")
    source = models.CharField(max_length=8, default="mqtt")
    processed = models.BooleanField(default=False)

    class Meta:
        ordering = ["device_id", "ts", "id"]
        constraints = [
            # seq restarts with a reboot, so it is unique per boot. On PostgreSQL the table is
            # partitioned by ts (migration 0008) and this key lives in telemetry_rawevent_seq
            # instead (a resent reading may come back with a new ts); SQLite keeps it here.
            models.UniqueConstraint(
                fields=["device", "boot_id", "seq"], name="rawevent_once_per_seq", condition=models.Q(seq__isnull=False)
            ),
            models.UniqueConstraint(fields=["device", "ts", "energy_wh"], name="rawevent_once_per_ts_counter"),
        ]
        indexes = [
            # The ledger looks up each device's earliest unprocessed reading: a small partial index.
            models.Index(fields=["device", "ts"], condition=models.Q(processed=False), name="rawevent_unprocessed"),
        ]


class LedgerEntryQuerySet(models.QuerySet):
    def current(self) -> "LedgerEntryQuerySet":
        return self.filter(superseded_at__isnull=True)


class LedgerEntry(models.Model):
    """The energy between two readings of one device. Never edited: a later entry supersedes it."""

    class Kind(models.TextChoices):
        NORMAL = "normal"
        GAP = "gap"
        RESET = "reset"
        GLITCH = "glitch"

    class Confidence(models.TextChoices):
        HIGH = "high"
        MEDIUM = "medium"
        LOW = "low"

    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="entries", db_constraint=False
    )  # HOT_PATH_FK
    # Provenance pointers without a database constraint or index: the check at commit looked up
    # and locked both raw events of every new entry, about 10 us each (EXPLAIN ANALYZE on 5,000
    # entries), and each b-tree cost every insert again. Only the ledger code writes them, from
    # rows it just read under the device lock. An entry's times are its events' times, so
    # retention finds the pointers to clear by start_ts / end_ts, through a BRIN index on
    # PostgreSQL (migration 0006; it also serves the rebuild's time ranges).
    start_event = models.ForeignKey(
        RawEvent, null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False, db_index=False
    )
    end_event = models.ForeignKey(
        RawEvent, null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False, db_index=False
    )
    start_ts = models.DateTimeField()
    end_ts = models.DateTimeField()
    start_wh = models.BigIntegerField()
    end_wh = models.BigIntegerField()
    delta_wh = models.BigIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.NORMAL)
    confidence = models.CharField(max_length=8, choices=Confidence.choices, default=Confidence.HIGH)
    reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    # Current while superseded_at is empty. superseded_by names the first replacement (none when a
    # re-derivation simply drops the entry, e.g. a reading removed by retention never re-derives).
    # Never looked up by: no index (it would take an entry, mostly NULL, on every insert).
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    superseded_at = models.DateTimeField(null=True, blank=True)
    superseded_reason = models.CharField(max_length=200, blank=True, default="")

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "ledger entries"
        ordering = ["device_id", "end_ts", "id"]
        indexes = [
            models.Index(
                fields=["device", "end_ts"], condition=models.Q(superseded_at__isnull=True), name="ledger_current_end"
            ),
            models.Index(
                fields=["device", "start_ts"],
                condition=models.Q(superseded_at__isnull=True),
                name="ledger_current_start",
            ),
        ]


class DailyTotalQuerySet(models.QuerySet):
    def placed(self) -> "DailyTotalQuerySet":
        """Annotate `placed_id`: the location the device was assigned to on the row's day (NULL
        when unassigned), so location totals keep history where it happened."""
        in_effect = (
            DeviceAssignment.objects.filter(device=models.OuterRef("device"))
            .filter(models.Q(effective_from__isnull=True) | models.Q(effective_from__lte=models.OuterRef("day")))
            .order_by(models.F("effective_from").desc(nulls_last=True))
            .values("location_id")[:1]
        )
        return self.annotate(placed_id=models.Subquery(in_effect))

    def at_location(self, location: Location) -> "DailyTotalQuerySet":
        return self.placed().filter(placed_id=location.pk)


class DailyTotal(models.Model):
    """Energy and cost of one device on one local day in TELEMETRY_TIME_ZONE."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="daily_totals")
    day = models.DateField()
    wh = models.BigIntegerField(default=0)
    # Wh x price (6 places) / 1000 has at most 9 places: stored exactly, so pieces always add up.
    cost = models.DecimalField(max_digits=24, decimal_places=9, default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = DailyTotalQuerySet.as_manager()

    class Meta:
        ordering = ["device_id", "day"]
        constraints = [models.UniqueConstraint(fields=["device", "day"], name="dailytotal_once")]
        indexes = [models.Index(fields=["day"])]


class CostVersion(models.Model):
    """A price per kWh in force from `effective_from` until the next version's."""

    cost_per_kwh = models.DecimalField(max_digits=12, decimal_places=6)
    effective_from = models.DateTimeField(unique=True)
    notes = models.TextField(blank=True, default="")
    created_by = models.CharField(max_length=160, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    recalculation = models.JSONField(default=dict, blank=True, help_text="What creating this version changed.")

    class Meta:
        ordering = ["-effective_from"]


class AggregationRun(models.Model):
    """One rebuild of daily totals (a cost version, a recalculation request, reconciliation)."""

    kind = models.CharField(max_length=32)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]


class ReviewTicket(models.Model):
    class Kind(models.TextChoices):
        COUNTER_SPAN = "counter_span", "Counter span vs ledger"
        TOTAL_MISMATCH = "total_mismatch", "Daily total vs ledger"
        SILENT_DEVICE = "silent_device", "Silent device"
        UNPROCESSED = "unprocessed", "Unprocessed readings"

    class Status(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.CASCADE, related_name="tickets")
    day = models.DateField(null=True, blank=True)
    evidence = models.JSONField(default=dict)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.OPEN, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.CharField(max_length=160, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One ticket per problem while it is not resolved: the nightly run does not pile up copies.
            models.UniqueConstraint(
                fields=["kind", "device", "day"], name="ticket_once_while_open", condition=~models.Q(status="resolved")
            ),
        ]


class MalformedMessage(models.Model):
    """A message we could not read, kept for inspection."""

    topic = models.CharField(max_length=255)
    payload = models.TextField()
    error = models.CharField(max_length=255)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]
