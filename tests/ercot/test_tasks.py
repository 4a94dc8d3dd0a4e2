"""The schedules, the retry poll, and manage.py ercot_fetch."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import Schedule

from config.texas import CENTRAL
from ercot import tasks
from ercot.models import ErcotIngest
from ops.models import JobRun
from tests.ercot.conftest import MisDoc, constructed, extract_row, make_zip

pytestmark = pytest.mark.django_db


def test_setup_schedules_adds_the_daily_fetch_and_the_retry_polls():
    call_command("setup_schedules", stdout=StringIO())
    fetch = Schedule.objects.get(name="ercot-fetch")
    retry = Schedule.objects.get(name="ercot-fetch-retry")
    assert (fetch.func, fetch.cron, fetch.schedule_type) == ("ercot.tasks.ercot_fetch", "0 12 * * *", Schedule.CRON)
    assert (retry.func, retry.cron) == ("ercot.tasks.ercot_fetch_if_missing", "0 1,15 * * *")


def test_retry_poll_fetches_only_while_todays_files_are_missing(mis):
    today = timezone.localdate(timezone=CENTRAL)
    mis.docs.append(
        MisDoc("1001", constructed(str(today), "ONCOR_ELEC___DAILY"), make_zip(extract_row("10443720000000001")))
    )
    first = tasks.ercot_fetch_if_missing()
    assert first["ok"] and ErcotIngest.objects.get().file_date == today
    listed = len(mis.requests)
    assert tasks.ercot_fetch_if_missing() is None
    assert len(mis.requests) == listed  # no request at all once today's file is in
    # The run is on the Jobs page like the SMT mirror's, with what it stored.
    job = JobRun.objects.get(kind="ercot-fetch")
    assert (job.status, job.trigger, job.counts["stored"]) == ("succeeded", "schedule", 1) and "method mis" in job.log


def test_a_fetch_whose_only_file_fails_is_a_failed_job_naming_the_file(mis):
    today = timezone.localdate(timezone=CENTRAL)
    mis.docs.append(MisDoc("1001", constructed(str(today), "ONCOR_ELEC___DAILY"), b"<html>maintenance</html>"))
    tasks.ercot_fetch()
    job = JobRun.objects.get(kind="ercot-fetch")
    assert job.status == "failed" and job.counts["failed"] == 1 and "ONCOR_ELEC" in job.log


def test_command_fetches_one_day_and_prints_the_results(mis):
    mis.docs += [
        MisDoc("1001", constructed("2026-06-02", "ONCOR_ELEC___DAILY"), make_zip(extract_row("10443720000000001"))),
        MisDoc("1002", constructed("2026-06-03", "ONCOR_ELEC___DAILY"), make_zip(extract_row("10443720000000001"))),
    ]
    out = StringIO()
    call_command("ercot_fetch", "--date", "2026-06-03", "--method", "mis", "--no-load", stdout=out)
    body = json.loads(out.getvalue())
    assert body["ok"] and [r["key"][:17] for r in body["results"]] == ["ercot/2026-06-03/"]
    assert ErcotIngest.objects.get().rows_loaded is None  # --no-load


def test_command_fails_when_a_file_fails(mis):
    mis.docs.append(MisDoc("1001", constructed("2026-06-03", "ONCOR_ELEC___DAILY"), b"oops"))
    with pytest.raises(CommandError, match="some ERCOT files failed"):
        call_command("ercot_fetch", stdout=StringIO())


def test_load_task_ignores_a_failed_file():
    row = ErcotIngest.objects.create(doc_id="1", filename="x.zip", method="mis", status="failed")
    assert tasks.ingest_load(row.pk) is None
