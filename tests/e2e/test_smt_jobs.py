"""The trigger page, a real worker running the mirror against a real sshd, the run page refreshing itself."""

import re

import pytest
from playwright.sync_api import Page, expect

from ops.models import JobRun
from smt.models import SmtBillingRead
from tests.conftest import ROOT, cluster_start, cluster_stop
from tests.e2e.test_smt_raw_files import sign_in
from tests.smt.conftest import build_tree, keyring, sshd  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e]
SHOTS = ROOT / "var" / "screenshots"


@pytest.fixture
def mirror_cluster(transactional_db, settings, sshd, keyring, tmp_path, monkeypatch):  # noqa: F811
    """A django-q2 cluster whose environment points the mirror at the loopback sshd."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    env = {
        "SMT_HOST": "127.0.0.1",
        "SMT_PORT": str(sshd.port),
        "SMT_USER": "root",
        "SMT_KEY": str(sshd.client_key),
        "SMT_KNOWN_HOSTS": str(sshd.known_hosts),
        "SMT_REMOTE_DIR": str(sshd.root),
        "SMT_GNUPG_HOME": keyring.home,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
        setattr(settings, name, int(value) if name == "SMT_PORT" else value)
    build_tree(sshd.root, keyring)
    cluster = cluster_start(settings, tmp_path / "qcluster.log")
    yield sshd
    cluster_stop(cluster)


def test_staff_triggers_the_mirror_for_an_esiid_and_watches_the_run(
    page: Page, live_server, staff_user, mirror_cluster
):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1360, "height": 900})
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}/admin/smt/trigger")
    expect(page.locator("#mirror-config")).to_contain_text(f"root@127.0.0.1:{mirror_cluster.port}")
    expect(page.locator("#job-table")).to_contain_text("No job runs yet")
    page.screenshot(path=SHOTS / "smt-trigger.png", full_page=True)

    page.fill("input[name=esiid]", "10443720000000002")
    page.click("#trigger-button")
    expect(page).to_have_url(re.compile(r"/ops/jobs/\d+/$"))
    expect(page.locator(".messages")).to_contain_text("queued for ESIID 10443720000000002")
    # The worker picks the run up; the page refreshes itself until it is done.
    expect(page.locator("#job-status-badge")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("#job-counts")).to_contain_text("intervals for the ESIID")
    expect(page.locator("#job-log")).to_contain_text("DailyMeterUsage20251216073000CSV.134642922.asc")
    page.screenshot(path=SHOTS / "smt-job-detail.png", full_page=True)
    job = JobRun.objects.get()
    assert (job.trigger, job.esiid, job.counts["esiidIntervals"]) == ("manual", "10443720000000002", 384)
    assert SmtBillingRead.objects.count() == 2

    page.click("text=Jobs")
    expect(page.locator("#job-runs tbody tr").first).to_contain_text("succeeded")
    page.screenshot(path=SHOTS / "smt-jobs.png", full_page=True)
    page.click("text=Billing reads")
    expect(page.locator("#billing-reads tbody tr")).to_have_count(2)
    expect(page.locator("tr[data-day='2025-11-02']")).to_have_class(re.compile(r"\bdiff\b"))
    page.screenshot(path=SHOTS / "smt-billing-reads.png", full_page=True)
    page.locator(
        "#billing-reads a", has_text="file #"
    ).first.click()  # the source row of a read: the DailyMeterUsage member
    expect(page.locator("#bundle-link")).to_contain_text("DailyMeterUsage20251216073000CSV.134642922.asc")
    page.click("#bundle-link a")
    expect(page.locator("#bundle-members tbody tr")).to_have_count(2)
    expect(page.locator("#bundle-members")).to_contain_text("92 intervals inserted")
    page.screenshot(path=SHOTS / "smt-bundle.png", full_page=True)


def test_a_failing_run_shows_its_reason_on_the_jobs_page(page: Page, live_server, staff_user, mirror_cluster):
    mirror_cluster.known_hosts.write_text("")  # the server's key is no longer trusted
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}/admin/smt/trigger")
    page.click("#trigger-button")
    expect(page.locator("#job-status-badge")).to_have_text("failed", timeout=60_000)
    expect(page.locator("#job-error")).to_contain_text("is unknown (not in SMT_KNOWN_HOSTS)")
    page.goto(f"{live_server.url}/smt/jobs/")
    expect(page.locator("#job-runs tbody tr").first).to_contain_text("is unknown (not in SMT_KNOWN_HOSTS)")
    page.screenshot(path=SHOTS / "smt-jobs-failed.png", full_page=True)
