"""Prometheus metrics for /metrics.

Two sources. Gauges read from the database at scrape time (ops's own, and those each source
app registers in its monitors.py through ops.registry), so every gunicorn and q2 worker agrees
with no per-process counters to merge. And the request counters of ops.middleware, which live
in each web process: with PROMETHEUS_MULTIPROC_DIR set (gunicorn, docs/OPERATIONS.md) every
worker writes them to a shared directory and a scrape sums all workers' files.
"""

import os
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db import connection
from django.db.models import Count
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from ops import registry
from ops.evaluate import oldest_queued_task
from ops.models import JobRun, Monitor

NORMALIZE_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)


class DatabaseCollector:
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        monitors = Monitor.objects.values_list("kind", "state").annotate(n=Count("pk"))
        yield gauge("wattledger_monitors", "Monitors by kind and state", monitors, ["kind", "state"])
        oldest = oldest_queued_task()
        yield gauge(
            "wattledger_oldest_queued_task_age_seconds",
            "Age of the oldest waiting task or overdue schedule",
            [((), (now - oldest).total_seconds() if oldest else 0)],
        )
        yield normalize_histogram()
        yield from registry.metrics_collect(now)


def normalize_histogram() -> HistogramMetricFamily:
    """Normalize run durations as a histogram, from the runs' own start and finish times: one
    query at scrape time, the same answer from every process, and no worker has to record it."""
    buckets = ", ".join(f"count(*) FILTER (WHERE d <= {bound})" for bound in NORMALIZE_BUCKETS)
    seconds = (
        "EXTRACT(EPOCH FROM finished_at - started_at)"
        if connection.vendor == "postgresql"
        else "(julianday(finished_at) - julianday(started_at)) * 86400"
    )
    sql = f"""SELECT {buckets}, count(*), COALESCE(sum(d), 0) FROM (
                SELECT {seconds} AS d FROM {JobRun._meta.db_table}
                WHERE kind = %s AND started_at IS NOT NULL AND finished_at IS NOT NULL) AS runs"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [JobRun.Kind.NORMALIZE])
        *counts, total, total_seconds = cursor.fetchone()
    histogram = HistogramMetricFamily("wattledger_smt_normalize_seconds", "Duration of finished normalize runs")
    histogram.add_metric(
        [],
        [(str(float(b)), c) for b, c in zip(NORMALIZE_BUCKETS, counts, strict=True)] + [("+Inf", total)],
        float(total_seconds),
    )
    return histogram


def gauge(name: str, doc: str, rows: Iterable, labels: list[str] | None = None) -> GaugeMetricFamily:
    """A gauge from (label values..., value) rows, or ((), value) rows when unlabelled."""
    family = GaugeMetricFamily(name, doc, labels=labels or [])
    for row in rows:
        *values, value = row if labels else (*row[0], row[1])
        family.add_metric([str(v) for v in values], value)
    return family


def estimated_rows(table: str) -> int:
    """An exact count of a 100 M-row table takes seconds; PostgreSQL's estimate is free."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A partitioned parent has no estimate of its own (-1: autovacuum analyses its
            # partitions only), so its partitions' estimates are summed.
            cursor.execute(
                "SELECT sum(GREATEST(reltuples, 0))::bigint FROM pg_class WHERE oid = to_regclass(%s)"
                " OR oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = to_regclass(%s))",
                [table, table],
            )
            row = cursor.fetchone()
            if row and row[0] >= 100_000:
                return row[0]
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
        return cursor.fetchone()[0]


class RequestCollector:
    """This process's request metrics (ops.middleware), when not in multiprocess mode."""

    def collect(self) -> Iterator[Metric]:
        from ops.middleware import REQUEST_METRICS

        for metric in REQUEST_METRICS:
            yield from metric.collect()


def metrics_render(*, now: datetime | None = None) -> bytes:
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(DatabaseCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(scrape)
    else:
        scrape.register(RequestCollector())
    return generate_latest(scrape)
