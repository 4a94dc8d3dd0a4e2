"""Alert deliveries: one row per event and channel, sent by a task, retried with backoff.

The check only creates rows and queues tasks, so a refused or slow channel never holds it up.
A delivery is claimed with a conditional UPDATE (pending and due → sending), so two workers
never send the same one.
"""

import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from ops import notify
from ops.models import Delivery, Monitor, MonitorEvent

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
BACKOFF_SECONDS = [60, 120, 300, 900, 1800]


def _redacted(url: str) -> str:
    """scheme://host, nothing after: webhook and apprise URLs often carry their token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}"[:200]


def channel_targets() -> list[tuple[str, int, str]]:
    """(channel, index of the configured URL, display) for every configured channel."""
    targets = [(Delivery.Channel.EMAIL, 0, ", ".join(settings.ALERT_EMAILS))] if settings.ALERT_EMAILS else []
    targets += [(Delivery.Channel.WEBHOOK, i, _redacted(url)) for i, url in enumerate(settings.ALERT_WEBHOOK_URLS)]
    targets += [(Delivery.Channel.APPRISE, i, _redacted(url)) for i, url in enumerate(settings.ALERT_APPRISE_URLS)]
    return targets


def deliveries_create(*, events: list[MonitorEvent]) -> list[Delivery]:
    """Rows for every channel, queued after the caller's transaction commits."""
    targets = channel_targets()
    rows = Delivery.objects.bulk_create(
        [
            Delivery(event=event, channel=channel, target_index=index, target=shown)
            for event in events
            for channel, index, shown in targets
        ]
    )
    ids = [row.pk for row in rows]
    if ids:
        transaction.on_commit(lambda: [async_task("ops.tasks.delivery_send", pk) for pk in ids])
    return rows


def deliveries_retry_due(*, now: datetime) -> list[int]:
    """Queue retries whose backoff has passed (the check calls this each minute)."""
    due = list(
        Delivery.objects.filter(status=Delivery.Status.PENDING, attempts__gt=0, next_attempt_at__lte=now).values_list(
            "pk", flat=True
        )[:500]
    )
    for pk in due:
        async_task("ops.tasks.delivery_send", pk)
    return due


def delivery_send(*, delivery_id: int) -> Delivery | None:
    """Send one delivery if this process claims it; record the outcome (and the next try)."""
    claimed = Delivery.objects.filter(
        pk=delivery_id, status=Delivery.Status.PENDING, next_attempt_at__lte=timezone.now()
    ).update(status=Delivery.Status.SENDING, attempts=F("attempts") + 1)
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("event__monitor").get(pk=delivery_id)
    try:
        delivery.response_status = _send(delivery)
    except notify.DeliveryError as exc:
        return _failed(delivery, str(exc), exc.status)
    delivery.status, delivery.sent_at, delivery.error = Delivery.Status.SENT, timezone.now(), ""
    delivery.save(update_fields=["status", "sent_at", "error", "response_status"])
    log.info("alert delivery %s sent by %s to %s", delivery.pk, delivery.channel, delivery.target)
    return delivery


def _failed(delivery: Delivery, error: str, status: int | None) -> Delivery:
    delivery.error, delivery.response_status = error[:2000], status
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = Delivery.Status.FAILED
    else:
        delivery.status = Delivery.Status.PENDING
        wait = BACKOFF_SECONDS[min(delivery.attempts, len(BACKOFF_SECONDS)) - 1]
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=wait)
    delivery.save(update_fields=["status", "error", "response_status", "next_attempt_at"])
    log.warning(
        "alert delivery %s by %s to %s failed (attempt %s): %s",
        delivery.pk,
        delivery.channel,
        delivery.target,
        delivery.attempts,
        error,
    )
    return delivery


def _send(delivery: Delivery) -> int | None:
    message = alert_message(event=delivery.event)
    if delivery.channel == Delivery.Channel.EMAIL:
        notify.email_send(subject=message["subject"], body=message["body"], to=settings.ALERT_EMAILS)
        return None
    urls = settings.ALERT_WEBHOOK_URLS if delivery.channel == Delivery.Channel.WEBHOOK else settings.ALERT_APPRISE_URLS
    if delivery.target_index >= len(urls):
        raise notify.DeliveryError("this URL is no longer configured")
    url = urls[delivery.target_index]
    if delivery.channel == Delivery.Channel.WEBHOOK:
        return notify.webhook_post(url=url, payload=message["json"], secret=settings.ALERT_WEBHOOK_SECRET)
    notify.apprise_send(url=url, title=message["subject"], body=message["body"])
    return None


def alert_message(*, event: MonitorEvent) -> dict:
    """Subject, plain-text body and webhook JSON of one state change."""
    monitor: Monitor = event.monitor
    url = settings.SITE_URL.rstrip("/") + monitor.get_absolute_url()
    subject = f"[Wattledger] {monitor.get_kind_display()} {monitor.subject} is {event.state.upper()}"
    body = (
        f"{monitor.get_kind_display()}: {monitor.subject}\nNow {event.state} (was {event.previous}) "
        f"since {timezone.localtime(event.at):%Y-%m-%d %H:%M %Z}.\n\n{event.evidence}\n\n{url}\n"
    )
    payload = {
        "monitor": monitor.pk,
        "kind": monitor.kind,
        "subject": monitor.subject,
        "state": event.state,
        "previous": event.previous,
        "since": event.at.isoformat(),
        "summary": event.evidence,
        "url": url,
    }
    return {"subject": subject, "body": body, "json": payload}
