"""Two real qcluster processes on one Redis queue and one PostgreSQL database (two worker hosts in
all but name): uploads spread over both, each file is normalized once with exact rows, a
schedule fires once, and a cluster killed mid-normalize leaves its file to the other."""

import hashlib
import io
import os
import signal
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
import redis
from django.db.models import Sum
from django.utils import timezone
from django_q.models import Schedule, Task

from ops.models import JobRun
from smt import ingest, storage
from smt.demo import interval_csv_lines
from smt.models import RawSmtFile, SmtInterval
from tests.conftest import cluster_ready, cluster_start, cluster_stop, wait_for

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN = {"HTTP_X_SMT_UPLOAD_TOKEN": "test-upload-token"}


def csv_bytes(esiids: list[str], days: int, seed: int = 1) -> bytes:
    return "".join(interval_csv_lines(esiids=esiids, start=date(2025, 1, 1), days=days, seed=seed)).encode()


def file_wh(data: bytes) -> int:
    lines = data.decode().splitlines()[1:]
    return sum(int(line.split(",")[5].replace(".", "")) for line in lines if line.split(",")[5])


@pytest.fixture
def redis_queue(transactional_db, monkeypatch):
    """A queue name of its own on the shared Redis (parallel runs never meet), for this process
    (which queues) and for the clusters it starts; its keys are deleted afterwards."""
    from django_q.conf import Conf

    name = f"wl-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("Q_BROKER", REDIS_URL)
    monkeypatch.setenv("Q_CLUSTER_NAME", name)
    for attribute, value in {
        "SYNC": False,
        "REDIS": REDIS_URL,
        "ORM": None,
        "PREFIX": name,
        "CLUSTER_NAME": name,
    }.items():
        monkeypatch.setattr(Conf, attribute, value)
    yield name
    connection = redis.from_url(REDIS_URL)
    keys = list(connection.scan_iter(f"django_q:{name}:*"))
    if keys:
        connection.delete(*keys)


def two_clusters(settings, tmp_path) -> list:
    """Both started and listening: work queued while one still starts would all go to the other."""
    clusters = [cluster_start(settings, tmp_path / f"host-{n}.log") for n in (1, 2)]
    try:
        for n in (1, 2):
            cluster_ready(tmp_path / f"host-{n}.log")
    except AssertionError:
        for cluster in clusters:
            cluster_stop(cluster)
        raise
    return clusters


def test_two_clusters_share_uploads_normalize_each_once_and_fire_a_schedule_once(
    client, settings, tmp_path, redis_queue
):
    schedule = Schedule.objects.create(
        name="scale-test-once",
        func="django.utils.timezone.now",
        schedule_type=Schedule.MINUTES,
        minutes=60,
        repeats=-1,
        next_run=timezone.now() - timedelta(seconds=1),
    )
    clusters = two_clusters(settings, tmp_path)
    files = [csv_bytes([f"1044372000000{n:04d}"], days=60, seed=n) for n in range(8)]
    try:
        raw_ids = []
        for n, data in enumerate(files):
            upload = io.BytesIO(data)
            upload.name = f"export-{n}.csv"
            response = client.post("/upload", {"file": upload, "source": "smt-inline", "meter": "M1"}, **TOKEN)
            assert response.status_code == 201, response.content
            raw_ids.append(response.json()["rawId"])
        done = lambda: RawSmtFile.objects.filter(pk__in=raw_ids, status="normalized").count() == len(raw_ids)
        assert wait_for(done, 90), [(tmp_path / f"host-{n}.log").read_text()[-1500:] for n in (1, 2)]
        # Both schedulers look ~30 s after start, at about the same moment: the race to fire twice.
        assert wait_for(lambda: Task.objects.filter(group=schedule.name).exists(), 60)
        time.sleep(3)
    finally:
        for cluster in clusters:
            cluster_stop(cluster)
    logs = [(tmp_path / f"host-{n}.log").read_text() for n in (1, 2)]
    per_host = [
        sum(f"smt-normalize-{pk}" in line and "processing" in line for line in log.splitlines() for pk in raw_ids)
        for log in logs
    ]
    assert sorted(per_host) != [0, len(raw_ids)] and sum(per_host) == len(raw_ids), per_host
    assert JobRun.objects.filter(kind=JobRun.Kind.NORMALIZE).count() == len(raw_ids)
    assert set(JobRun.objects.filter(kind=JobRun.Kind.NORMALIZE).values_list("status", flat=True)) == {"succeeded"}
    assert SmtInterval.objects.count() == len(files) * 60 * 96  # January and February: no DST day
    assert SmtInterval.objects.aggregate(total=Sum("kwh"))["total"] == Decimal(sum(map(file_wh, files))) / 1000
    assert Task.objects.filter(group=schedule.name).count() == 1
    assert sum(log.count("from schedule [scale-test-once]") for log in logs) == 1
    schedule.refresh_from_db()
    assert schedule.next_run > timezone.now() + timedelta(minutes=50)


def test_cluster_killed_mid_normalize_leaves_the_file_to_the_other_which_ends_exact(settings, tmp_path, redis_queue):
    esiids = [f"104437200000003{n:02d}" for n in range(6)]
    data = csv_bytes(esiids, days=365)
    raw = storage.raw_file_store(
        fileobj=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename="year.csv",
        origin="staff",
    ).raw_file
    clusters = two_clusters(settings, tmp_path)
    logs = [tmp_path / f"host-{n}.log" for n in (1, 2)]
    try:
        ingest.raw_file_queue(raw_file=raw)
        assert wait_for(lambda: RawSmtFile.objects.get(pk=raw.pk).status == "normalizing", 30)
        working = next(n for n, log in enumerate(logs) if f"processing smt-normalize-{raw.pk}" in log.read_text())
        time.sleep(0.3)
        os.killpg(clusters[working].pid, signal.SIGKILL)  # the whole host, mid-COPY or mid-upsert
        clusters[working].wait(10)
        assert RawSmtFile.objects.get(pk=raw.pk).status == "normalizing"
        assert SmtInterval.objects.count() == 0  # one transaction: nothing half-written

        # What the smt-requeue-stranded schedule does on the surviving host, made due at once.
        settings.SMT_STRANDED_AFTER_SECONDS = 0
        assert ingest.raw_files_requeue_stranded() == 1
        survivor = logs[1 - working]
        assert wait_for(lambda: RawSmtFile.objects.get(pk=raw.pk).status == "normalized", 90, 0.2), (
            survivor.read_text()[-2000:]
        )
    finally:
        for cluster in clusters:
            cluster_stop(cluster)
    assert f"processing smt-normalize-{raw.pk}" in survivor.read_text()
    assert SmtInterval.objects.count() == len(esiids) * 365 * 96
    assert SmtInterval.objects.aggregate(total=Sum("kwh"))["total"] == Decimal(file_wh(data)) / 1000
    runs = JobRun.objects.filter(kind=JobRun.Kind.NORMALIZE)
    assert sorted(runs.values_list("status", flat=True)) == ["running", "succeeded"]  # the killed one, then the finish
