"""Job runs of every source, monitors (one watched subject each), their state changes, and every alert delivery."""

from datetime import timedelta

from django.db import models
from django.urls import reverse
from django.utils import timezone


class Monitor(models.Model):
    class Kind(models.TextChoices):
        SMT_DATA = "smt-data", "SMT meter data"
        SMT_FILE = "smt-file", "SMT file failed"
        SMT_MIRROR = "smt-mirror", "SFTP mirror"
        ERCOT_DAILY = "ercot-daily", "ERCOT daily extract"
        ERCOT_FETCH = "ercot-fetch", "ERCOT fetch"
        DEVICE = "device", "Telemetry device"
        SUBSCRIBER = "subscriber", "Telemetry subscriber"
        TICKETS = "tickets", "Reconciliation tickets"
        WORKERS = "workers", "Workers"

    class State(models.TextChoices):
        UP = "up"
        LATE = "late"
        DOWN = "down"
        PAUSED = "paused"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(max_length=100, help_text="The subject's id within its kind: an ESIID, a device id, 'sftp'.")
    subject = models.CharField(max_length=200)
    state = models.CharField(max_length=8, choices=State.choices, default=State.UP, db_index=True)
    since = models.DateTimeField(default=timezone.now)
    evidence = models.TextField(blank=True, default="")
    paused_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "subject"]
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="monitor_once_per_subject")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("ops:monitor-detail", args=[self.pk])


class MonitorEvent(models.Model):
    """One change of a monitor's state, with the evidence a person can act on."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    previous = models.CharField(max_length=8, choices=Monitor.State.choices)
    state = models.CharField(max_length=8, choices=Monitor.State.choices)
    evidence = models.TextField(blank=True, default="")
    actor = models.CharField(max_length=160, default="check", help_text="check, or user:<name> for pause and resume")

    class Meta:
        ordering = ["-at", "-id"]


class Delivery(models.Model):
    """One notification of one event on one channel; retried with backoff until it is sent or gives up."""

    class Channel(models.TextChoices):
        EMAIL = "email", "e-mail"
        WEBHOOK = "webhook"
        APPRISE = "apprise"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"

    event = models.ForeignKey(MonitorEvent, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # Which configured URL (by position) and a display without credentials: URLs may carry tokens.
    target_index = models.IntegerField(default=0)
    target = models.CharField(max_length=200)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    error = models.TextField(blank=True, default="")
    response_status = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class KindCheck(models.Model):
    """When each monitor kind was last evaluated (the board's "last check")."""

    kind = models.CharField(max_length=16, primary_key=True, choices=Monitor.Kind.choices)
    checked_at = models.DateTimeField()
    seconds = models.FloatField(default=0)


class JobRunQuerySet(models.QuerySet):
    def active(self) -> "JobRunQuerySet":
        return self.filter(status__in=[JobRun.Status.QUEUED, JobRun.Status.RUNNING])

    def stalled(self, *, seconds: int) -> "JobRunQuerySet":
        """Running longer than a worker may run a task: its worker was killed or restarted."""
        return self.filter(status=JobRun.Status.RUNNING, started_at__lt=timezone.now() - timedelta(seconds=seconds))


COUNT_LABELS = [
    ("listed", "listed"),
    ("unchanged", "unchanged"),
    ("fetched", "fetched"),
    ("bytes", "fetched size"),
    ("duplicates", "same bytes as before"),
    ("ingested", "ingested"),
    ("intervalsInserted", "intervals inserted"),
    ("billingReadsInserted", "billing reads inserted"),
    ("esiidIntervals", "intervals for the ESIID"),
    ("esiidBillingReads", "billing reads for the ESIID"),
    ("failed", "fetch failed"),
    ("ingestFailed", "ingest failed"),
    ("membersFailed", "bundle members failed"),
    ("filesRequeued", "stranded files queued again"),
    ("runsFailed", "stalled runs marked failed"),
]


class JobRun(models.Model):
    """One run of a background job (mirror, ingest), as an admin needs to see it."""

    class Kind(models.TextChoices):
        MIRROR = "mirror"
        INGEST = "ingest"
        NORMALIZE = "normalize"
        SWEEP = "sweep"
        # The other apps' scheduled jobs, so the Jobs page shows every background run.
        ERCOT_FETCH = "ercot-fetch", "ERCOT fetch"
        RECONCILE = "reconcile", "telemetry reconcile"
        PRUNE = "prune", "telemetry prune"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule"
        MANUAL = "manual"
        WEBHOOK = "webhook"
        COMMAND = "command"
        QUEUE = "queue", "queue (upload or button)"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        PARTIAL = "partial"
        FAILED = "failed"
        SKIPPED = "skipped"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    esiid = models.CharField(max_length=22, blank=True, default="", help_text="Set for an ESIID trigger.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True, default="", help_text="The last lines of the run's log.")
    error = models.TextField(blank=True, default="")
    task_id = models.CharField(max_length=64, blank=True, default="")
    started_by = models.CharField(
        max_length=160,
        blank=True,
        default="",
        help_text='Who started the run: "schedule", "command", "webhook", "staff: <name>".',
    )

    objects = JobRunQuerySet.as_manager()

    class Meta:
        # The table kept its name when the model moved here from smt (migration ops 0002).
        db_table = "smt_jobrun"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("ops:job-detail", args=[self.pk])

    @property
    def active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def duration(self):
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at

    def error_lines(self, limit: int = 10) -> list[str]:
        """The log's per-item failures (the recorder marks them ERROR), newest last."""
        return [line for line in self.log.splitlines() if " ERROR " in line][-limit:]

    def counts_display(self) -> list[tuple[str, str, bool]]:
        """(label, value, is a failure count) in a fixed order, known counts first; bytes humanized."""
        from django.template.defaultfilters import filesizeformat

        order = {name: index for index, (name, _) in enumerate(COUNT_LABELS)}
        labels = dict(COUNT_LABELS)
        rows = []
        for name in sorted(self.counts, key=lambda n: (order.get(n, len(order)), n)):
            value = self.counts[name]
            shown = filesizeformat(value) if name == "bytes" else str(value)
            rows.append((labels.get(name, name), shown, "ailed" in name and bool(value)))
        return rows

    def as_json(self) -> dict:
        return {
            "jobId": self.pk,
            "kind": self.kind,
            "trigger": self.trigger,
            "startedBy": self.started_by,
            "esiid": self.esiid,
            "status": self.status,
            "startedAt": self.started_at and self.started_at.isoformat(),
            "finishedAt": self.finished_at and self.finished_at.isoformat(),
            "counts": self.counts,
            "error": self.error,
            "url": self.get_absolute_url(),
        }


class Heartbeat(models.Model):
    """The last sign of life of a long-running process (ops.heartbeat)."""

    # `<family>:<member>` in a group, the member an MQTT client id (brokers allow long ones).
    name = models.CharField(max_length=200, primary_key=True)
    at = models.DateTimeField(help_text="The last beat.")
    connected = models.BooleanField(default=True)
    since = models.DateTimeField(help_text="When `connected` last changed.")
    detail = models.CharField(max_length=300, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
