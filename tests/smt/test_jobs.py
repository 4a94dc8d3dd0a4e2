from datetime import timedelta

import pytest
from django.utils import timezone

from ops.jobs import job_run_create, job_run_record
from ops.models import JobRun
from smt import ingest, tasks
from tests.smt.conftest import sample
from tests.smt.test_ingest import store

pytestmark = pytest.mark.django_db


def test_a_run_without_failures_succeeds_with_counts_and_log():
    job = job_run_create(kind="ingest", trigger="command")
    assert job.status == "queued" and job.active
    with job_run_record(job=job) as recorder:
        assert JobRun.objects.get().status == "running"
        recorder.count("fetched", 2)
        recorder.note("fetched a.csv")
    job.refresh_from_db()
    assert job.status == "succeeded" and job.counts == {"fetched": 2} and "fetched a.csv" in job.log
    assert job.finished_at >= job.started_at and not job.active and job.error == ""


def test_an_item_failure_makes_the_run_partial():
    job = job_run_create(kind="mirror", trigger="schedule")
    with job_run_record(job=job) as recorder:
        recorder.note("b.asc: gpg: decryption failed", failed=True)
        recorder.count("fetched")  # something succeeded: a run where nothing did is failed (tests/ops/test_jobs.py)
        recorder.note("c.csv: ok")
    job.refresh_from_db()
    assert job.status == "partial" and job.error == "1 item(s) failed; see the log"
    assert "ERROR b.asc: gpg: decryption failed" in job.log


def test_an_exception_fails_the_run_and_is_raised_again():
    job = job_run_create(kind="mirror", trigger="manual")
    with pytest.raises(ConnectionError), job_run_record(job=job):
        raise ConnectionError("connection reset")
    job.refresh_from_db()
    assert job.status == "failed" and job.error == "ConnectionError: connection reset"


def test_the_log_keeps_its_latest_lines_within_the_limit():
    job = job_run_create(kind="mirror", trigger="manual")
    with job_run_record(job=job) as recorder:
        for n in range(2000):
            recorder.note(f"line {n:04d} " + "x" * 20)
    job.refresh_from_db()
    assert len(job.log) <= 20_000 and job.log.rstrip().endswith("line 1999 " + "x" * 20)


def test_a_queued_normalization_is_recorded_as_a_run():
    raw = store(sample("portal-IntervalData-2025-11-02-fall-back.csv"), esiid="10443720000000002")
    ingest.raw_file_queue(raw_file=raw)  # runs inline in tests
    job = JobRun.objects.get()
    assert (job.kind, job.trigger, job.status, job.esiid) == ("normalize", "queue", "succeeded", "10443720000000002")
    assert job.counts["intervalsInserted"] == 100


def test_the_sweep_fails_runs_whose_worker_died_and_records_itself(settings):
    dead = JobRun.objects.create(
        kind="mirror",
        trigger="schedule",
        status="running",
        started_at=timezone.now() - timedelta(seconds=settings.Q_CLUSTER["timeout"] + 60),
    )
    alive = JobRun.objects.create(kind="mirror", trigger="schedule", status="running", started_at=timezone.now())
    tasks.raw_files_requeue_stranded()
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == "failed" and "the worker stopped" in dead.error and alive.status == "running"
    sweep = JobRun.objects.get(kind="sweep")
    assert sweep.counts == {"filesRequeued": 0, "runsFailed": 1} and sweep.status == "succeeded"


def test_a_sweep_with_nothing_to_do_records_nothing():
    tasks.raw_files_requeue_stranded()
    assert JobRun.objects.count() == 0
