"""A worker killed in the middle of a normalization leaves nothing half-written, and the file
still ends normalized with exact rows once the cluster is back (the stranded-file sweep)."""

import hashlib
import os
import signal
import time
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum

from smt import ingest, storage
from smt.demo import interval_csv_lines
from smt.models import RawSmtFile, SmtInterval
from tests.conftest import cluster_start, cluster_stop

ESIIDS = [f"104437200000002{n:02d}" for n in range(6)]


def wait_for(predicate, seconds: float, step: float = 0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_normalize_then_restarted_ends_exact(settings, tmp_path, monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    path = tmp_path / "year.csv"
    with open(path, "w") as handle:
        handle.writelines(interval_csv_lines(esiids=ESIIDS, start=date(2025, 1, 1), days=365))
    data = path.read_bytes()
    expected_wh = sum(
        int(line.split(",")[5].replace(".", "")) for line in data.decode().splitlines()[1:] if line.split(",")[5]
    )
    with open(path, "rb") as handle:
        raw = storage.raw_file_store(
            fileobj=handle, sha256=hashlib.sha256(data).hexdigest(), size=len(data), filename="year.csv", origin="staff"
        ).raw_file

    cluster = cluster_start(settings, tmp_path / "q.log")
    try:
        ingest.raw_file_queue(raw_file=raw)
        assert wait_for(lambda: RawSmtFile.objects.get(pk=raw.pk).status == "normalizing", 30)
        time.sleep(0.3)
        os.killpg(cluster.pid, signal.SIGKILL)  # the whole cluster, mid-COPY or mid-upsert
        cluster.wait(10)
        raw.refresh_from_db()
        assert raw.status == "normalizing"
        assert SmtInterval.objects.count() == 0  # one transaction: nothing half-written

        cluster = cluster_start(settings, tmp_path / "q.log")
        settings.SMT_STRANDED_AFTER_SECONDS = 0
        assert ingest.raw_files_requeue_stranded() == 1
        assert wait_for(lambda: RawSmtFile.objects.get(pk=raw.pk).status == "normalized", 60, 0.2), (
            tmp_path / "q.log"
        ).read_text()[-2000:]
    finally:
        cluster_stop(cluster)
    assert SmtInterval.objects.count() == len(ESIIDS) * 365 * 96
    assert SmtInterval.objects.aggregate(total=Sum("kwh"))["total"] == Decimal(expected_wh) / 1000
    raw.refresh_from_db()
    assert raw.stats["intervalsInserted"] == len(ESIIDS) * 365 * 96
