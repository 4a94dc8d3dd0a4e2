"""Monitors (one watched subject each), their state changes, and every alert delivery."""

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
