"""django-q2 entry points: thin wrappers around telemetry.reconcile."""

from django.utils import timezone

from telemetry import reconcile
from telemetry.models import AggregationRun


def ledger_reconcile() -> dict | None:
    """Runs hourly; does the work at 02:00 in TELEMETRY_TIME_ZONE, whatever zone the cluster
    keeps and across DST changes, once per local day."""
    from telemetry.totals import local_zone

    local = timezone.now().astimezone(local_zone())
    if local.hour != 2:
        return None
    today_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if AggregationRun.objects.filter(kind="reconcile", started_at__gte=today_start).exists():
        return None
    return reconcile.ledger_reconcile()


def events_prune() -> int:
    return reconcile.events_prune()
