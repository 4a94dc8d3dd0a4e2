"""Prometheus metrics read from the database at scrape time, so every gunicorn and q2 worker
agrees (no per-process counters to merge)."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Max, Q
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from ops.evaluate import oldest_queued_task
from ops.models import Monitor


class DatabaseCollector:
    def collect(self):
        from smt.models import RawSmtFile, SmtInterval
        from telemetry.models import Device, MalformedMessage, RawEvent

        now = timezone.now()
        yield _gauge("wattledger_smt_intervals_stored", "SMT intervals stored (planner estimate on PostgreSQL)",
                     [((), _estimated_rows("smt_interval"))])
        files = RawSmtFile.objects.values_list("status").annotate(n=Count("pk"))
        yield _gauge("wattledger_smt_raw_files", "Raw SMT files by status", files, ["status"])
        monitors = Monitor.objects.values_list("kind", "state").annotate(n=Count("pk"))
        yield _gauge("wattledger_monitors", "Monitors by kind and state", monitors, ["kind", "state"])
        silent = now - timedelta(minutes=settings.TELEMETRY_SILENT_MINUTES)
        heard = Device.objects.aggregate(all=Count("pk"), silent=Count("pk", filter=~_seen_after(silent)))
        yield _gauge("wattledger_devices", "Telemetry devices by health", [(("silent",), heard["silent"]),
                     (("online",), heard["all"] - heard["silent"])], ["health"])
        yield _gauge("wattledger_telemetry_messages_stored", "Telemetry readings stored (estimate on PostgreSQL)",
                     [((), _estimated_rows(RawEvent._meta.db_table))])
        yield _gauge("wattledger_telemetry_messages_malformed", "Telemetry messages kept as malformed",
                     [((), MalformedMessage.objects.count())])
        oldest = oldest_queued_task()
        yield _gauge("wattledger_oldest_queued_task_age_seconds", "Age of the oldest waiting task or overdue schedule",
                     [((), (now - oldest).total_seconds() if oldest else 0)])
        newest_ts = SmtInterval.objects.aggregate(t=Max("ts"))["t"]
        yield _gauge("wattledger_smt_newest_interval_age_seconds", "Age of the newest SMT interval",
                     [((), (now - newest_ts).total_seconds() if newest_ts else 0)])


def _seen_after(moment) -> Q:
    return Q(last_seen_at__gte=moment)


def _gauge(name: str, doc: str, rows, labels: list[str] | None = None) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, doc, labels=labels or [])
    for row in rows:
        *values, value = row if labels else (*row[0], row[1])
        gauge.add_metric([str(v) for v in values], value)
    return gauge


def _estimated_rows(table: str) -> int:
    """An exact count of a 100 M-row table takes seconds; PostgreSQL's estimate is free."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE relname = %s", [table])
            row = cursor.fetchone()
            if row and row[0] >= 100_000:
                return row[0]
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
        return cursor.fetchone()[0]


def metrics_render() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    return generate_latest(registry)
