import re

import pytest
from django.core.management import call_command
from django.utils import timezone

from ops.models import JobRun
from smt import ingest
from tests.smt.conftest import DAILY_HEADER, sample
from tests.smt.test_ingest import store

pytestmark = pytest.mark.django_db


def make_run(**fields) -> JobRun:
    defaults = {
        "kind": "mirror",
        "trigger": "schedule",
        "status": "succeeded",
        "started_at": timezone.now(),
        "finished_at": timezone.now(),
        "counts": {"listed": 3, "fetched": 2},
        "log": "12:00:00 fetched a.csv\n",
    }
    return JobRun.objects.create(**(defaults | fields))


def test_job_list_shows_runs_with_counts_and_errors(staff_client):
    make_run()
    make_run(status="partial", error="1 item(s) failed; see the log", trigger="webhook", esiid="10443720000000002")
    response = staff_client.get("/smt/jobs/")
    html = response.content.decode()
    assert response.status_code == 200 and "<h1>Jobs</h1>" in html
    assert "listed 3, fetched 2" in html and "1 item(s) failed" in html and "10443720000000002" in html
    assert 'hx-trigger="every 15s"' in html  # nothing active: a slow poll for new runs
    assert "HX-Request" in response["Vary"]


def test_job_list_polls_every_two_seconds_while_a_run_is_active(staff_client):
    make_run(status="running", finished_at=None)
    html = staff_client.get("/smt/jobs/").content.decode()
    assert 'hx-trigger="every 2s"' in html and "A run is active" in html


def test_job_list_fragment_for_htmx_and_filters(staff_client):
    make_run(status="failed", error="SftpError: host key CHANGED")
    make_run(status="succeeded", kind="ingest", trigger="command")
    response = staff_client.get("/smt/jobs/?status=failed", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="job-table"') and "<html" not in html
    assert "host key CHANGED" in html and "command" not in html


def test_job_detail_shows_the_log_and_refreshes_only_while_active(staff_client):
    done = make_run(counts={"fetched": 1, "ingestFailed": 1}, log="12:00:01 ERROR b.asc: gpg: decryption failed\n")
    html = staff_client.get(f"/smt/jobs/{done.pk}/").content.decode()
    assert "gpg: decryption failed" in html and 'id="job-counts"' in html and "every 2s" not in html
    active = make_run(status="running", finished_at=None)
    fragment = staff_client.get(f"/smt/jobs/{active.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<div id="job-status"') and 'hx-trigger="every 2s"' in fragment


def test_job_detail_404_for_an_unknown_run(staff_client):
    assert staff_client.get("/smt/jobs/999999/").status_code == 404


def test_trigger_page_shows_the_setup_without_secrets(staff_client, settings):
    settings.SMT_HOST, settings.SMT_USER, settings.SMT_KEY = "ftp.smartmetertexas.biz", "csp", "/secret/key/path"
    html = staff_client.get("/admin/smt/trigger").content.decode()
    assert "csp@ftp.smartmetertexas.biz:22" in html and "/secret/key/path" not in html
    assert "not set" in html  # known hosts and keyring are missing here


def test_trigger_for_an_esiid_runs_the_mirror_and_redirects_to_the_run(staff_client, smt_sftp):
    (smt_sftp.root / "portal.csv").write_bytes(sample("portal-IntervalData-2025-11-02-fall-back.csv"))
    response = staff_client.post("/admin/smt/trigger", {"esiid": "10443720000000002"})
    job = JobRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/ops/jobs/{job.pk}/"
    assert (job.trigger, job.esiid, job.status) == ("manual", "10443720000000002", "succeeded")
    assert job.counts["esiidIntervals"] == 100
    page = staff_client.get(response["Location"]).content.decode()
    assert f"run #{job.pk} queued for ESIID 10443720000000002" in page and "intervals for the ESIID" in page


def test_trigger_with_htmx_answers_a_client_redirect(staff_client):
    response = staff_client.post("/admin/smt/trigger", {"esiid": ""}, headers={"HX-Request": "true"})
    job = JobRun.objects.get()
    assert response["HX-Redirect"] == f"/ops/jobs/{job.pk}/"
    assert job.status == "failed" and "SMT_HOST" in job.error  # not configured in tests: recorded, not raised


def test_trigger_with_a_bad_esiid_is_400_and_queues_nothing(staff_client):
    response = staff_client.post("/admin/smt/trigger", {"esiid": "12ab"})
    assert response.status_code == 400 and "An ESIID is 17 or 22 digits." in response.content.decode()
    assert JobRun.objects.count() == 0


def test_customer_cannot_trigger(customer_client):
    assert customer_client.post("/admin/smt/trigger", {"esiid": ""}).status_code == 403
    assert JobRun.objects.count() == 0


def test_trigger_put_is_405(staff_client):
    assert staff_client.put("/admin/smt/trigger").status_code == 405


def test_billing_reads_sit_beside_the_days_interval_sum_with_differences_highlighted(staff_client):
    ingest.raw_file_ingest(raw_file=store(sample("portal-IntervalData-2025-11-02-fall-back.csv")))  # 52.788
    ingest.raw_file_ingest(raw_file=store(sample("portal-IntervalData-2025-12-14-estimated.csv")))  # 85.947
    ingest.raw_file_ingest(
        raw_file=store(sample("IntervalMeterUsage202512012104421513F4F9339E4024C89B21685CA1223B8AEEML.CSV"))
    )  # 11/30: 57.087
    reads = (
        DAILY_HEADER + "'10443720000000002,12/14/2025,,1,2,85.947\n'10443720000000002,11/02/2025,,1,2,52.000\n"
        "'10443720000000002,11/30/2025,,1,2,50.000\n'10443720000000002,12/20/2025,,1,2,40.000\n"
    )
    ingest.raw_file_ingest(raw_file=store(reads.encode(), name="DailyMeterUsage1.csv"))
    html = staff_client.get("/smt/billing-reads/?esiid=10443720000000002").content.decode()
    by_day = {
        day: re.search(rf'<tr class="([^"]*)" data-day="{day}">(.*?)</tr>', html, re.S).groups()
        for day in ("2025-12-14", "2025-11-02", "2025-11-30", "2025-12-20")
    }
    assert by_day["2025-12-14"][0] in ("even", "odd") and "+0.000" in by_day["2025-12-14"][1]  # equal: no highlight
    assert by_day["2025-11-02"][0].startswith("diff ") and "+0.788" in by_day["2025-11-02"][1]
    assert by_day["2025-11-30"][0].startswith("diff-big ") and "+7.087" in by_day["2025-11-30"][1]
    assert "96 intervals" in by_day["2025-11-30"][1]
    assert by_day["2025-12-20"][0].startswith("diff-missing ") and "no intervals" in by_day["2025-12-20"][1]


def test_billing_page_lists_files_with_an_unknown_header(staff_client):
    ingest.raw_file_ingest(raw_file=store(b"ACCOUNT,DAY,VALUE\n1,2,3\n", name="DailyMeterUsage9.csv"))
    html = staff_client.get("/smt/billing-reads/").content.decode()
    assert 'id="billing-failures"' in html and "columns found: &#x27;ACCOUNT,DAY,VALUE&#x27;" in html


def test_billing_page_fragment_for_htmx(staff_client):
    response = staff_client.get("/smt/billing-reads/", headers={"HX-Request": "true"})
    assert response.content.decode().lstrip().startswith('<div id="billing-table"')
    assert "HX-Request" in response["Vary"]


def test_bundle_page_lists_its_members_and_a_member_links_back(staff_client, tmp_path, keyring):
    from smt.models import RawSmtFile
    from tests.smt.conftest import DAILY_CSV, zip_bytes

    path = tmp_path / "DailyMeterUsage2CSV.1.asc"
    path.write_bytes(
        keyring.armor(
            zip_bytes(
                {
                    "DailyMeterUsage2.csv": DAILY_CSV.encode(),
                    "IntervalMeterUsage.csv": sample("portal-IntervalData-2025-11-02-fall-back.csv"),
                }
            )
        )
    )
    call_command("smt_ingest", str(path))
    bundle = RawSmtFile.objects.get(kind="bundle")
    html = staff_client.get(f"/smt/raw-files/{bundle.pk}/").content.decode()
    assert 'id="bundle-members"' in html and "2 billing reads inserted" in html and "100 intervals inserted" in html
    member = bundle.members.get(kind="billing")
    html = staff_client.get(f"/smt/raw-files/{member.pk}/").content.decode()
    assert f'href="/smt/raw-files/{bundle.pk}/"' in html and 'id="billing-stats"' in html


def test_run_mirror_now_is_disabled_with_the_reason_while_the_mirror_is_not_configured(staff_client, settings):
    settings.SMT_HOST, settings.SMT_KEY = "", "/secret/key/path"
    html = staff_client.get("/admin/smt/trigger").content.decode()
    assert 'id="trigger-button" disabled' in html
    assert "The mirror is not configured: set SMT_HOST" in html
    settings.SMT_HOST, settings.SMT_USER, settings.SMT_KNOWN_HOSTS = "sftp.example.test", "csp", "/etc/known"
    html = staff_client.get("/admin/smt/trigger").content.decode()
    assert 'id="trigger-button" disabled' not in html and "mirror-not-configured" not in html
