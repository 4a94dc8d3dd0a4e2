"""Job runs say who started them and fail when nothing in them succeeded."""

import pytest
from django.utils import timezone

from ops.jobs import job_run_create, job_run_outcome, job_run_record
from ops.models import JobRun

pytestmark = pytest.mark.django_db


def test_a_run_where_every_item_failed_is_failed_not_partial():
    job = job_run_create(kind="mirror", trigger="schedule")
    with job_run_record(job=job) as recorder:
        recorder.count("listed", 2)  # looked at, not done: no success
        recorder.count("failed", 2)
        recorder.note("a.csv: refused", failed=True)
        recorder.note("b.csv: refused", failed=True)
    job.refresh_from_db()
    assert job.status == "failed" and job.error == "2 item(s) failed; see the log"


def test_a_run_with_one_success_beside_failures_is_partial():
    job = job_run_create(kind="mirror", trigger="schedule")
    with job_run_record(job=job) as recorder:
        recorder.note("a.csv: refused", failed=True)
        recorder.count("fetched")
    job.refresh_from_db()
    assert job.status == "partial"


def test_the_outcome_rule_reads_failures_against_successes():
    assert job_run_outcome(failures=0, successes=0) == "succeeded"
    assert job_run_outcome(failures=1, successes=0) == "failed"
    assert job_run_outcome(failures=1, successes=3) == "partial"


@pytest.mark.parametrize("trigger", ["schedule", "command", "webhook"])
def test_a_run_started_without_a_person_is_started_by_its_trigger(trigger):
    assert job_run_create(kind="mirror", trigger=trigger).started_by == trigger


def test_the_jobs_pages_show_who_started_each_run(staff_client):
    clicked = job_run_create(kind="mirror", trigger="manual", started_by="staff: alice")
    job_run_create(kind="sweep", trigger="schedule")
    listing = staff_client.get("/ops/jobs/").content.decode()
    assert "Started by" in listing and "staff: alice" in listing and ">schedule<" in listing
    assert "Trigger</th>" not in listing
    detail = staff_client.get(clicked.get_absolute_url()).content.decode()
    assert '<dd id="job-started-by">staff: alice' in detail


def test_the_run_mirror_now_button_records_the_staff_user(staff_client, staff_user, settings):
    settings.SMT_HOST = ""
    staff_client.post("/admin/smt/trigger", {"esiid": ""})
    assert JobRun.objects.get(kind="mirror").started_by == f"staff: {staff_user.username}"


def test_the_ercot_fetch_now_button_records_the_staff_user(staff_client, staff_user):
    # The fetch itself (inline in tests) finds no configured path here; who started it is what is tested.
    staff_client.post("/ercot/fetch")
    assert JobRun.objects.get(kind="ercot-fetch").started_by == f"staff: {staff_user.username}"


def test_the_ercot_page_shows_the_last_fetch_its_errors_and_a_link_to_the_run(staff_client):
    JobRun.objects.create(kind="ercot-fetch", trigger="schedule", started_by="schedule", status="succeeded")
    failed = JobRun.objects.create(
        kind="ercot-fetch",
        trigger="schedule",
        started_by="staff: alice",
        status="failed",
        finished_at=timezone.now(),
        error="1 item(s) failed; see the log",
        counts={"failed": 1},
        log="12:00:01 method mis\n12:00:02 ERROR ONCOR_ELEC___DAILY.zip: not a zip file\n",
    )
    text = staff_client.get("/ercot/").content.decode()
    assert 'id="last-fetch-status">failed<' in text and f'href="/ops/jobs/{failed.pk}/"' in text
    assert "started by staff: alice" in text and "ONCOR_ELEC___DAILY.zip: not a zip file" in text
    assert "method mis" not in text.split('id="last-fetch-errors"')[1].split("</pre>")[0]


def test_the_normalize_button_records_the_staff_user(staff_client, staff_user, sample):
    from tests.smt.test_ingest import store

    raw = store(sample("portal-IntervalData-2025-11-02-fall-back.csv"), esiid="10443720000000002")
    staff_client.post(f"/smt/raw-files/{raw.pk}/normalize")
    job = JobRun.objects.get(kind="normalize")
    assert job.started_by == f"staff: {staff_user.username}" and job.status == "succeeded"


def test_a_hint_in_the_log_is_a_link_to_the_page(staff_client):
    job = JobRun.objects.create(
        kind="ercot-fetch",
        trigger="schedule",
        status="failed",
        finished_at=timezone.now(),
        log="12:00:00 ERROR no ERCOT fetch path worked; /api/admin/ercot/cron/health names what is missing\n",
    )
    text = staff_client.get(job.get_absolute_url()).content.decode()
    assert '<a href="/api/admin/ercot/cron/health">/api/admin/ercot/cron/health</a>' in text
