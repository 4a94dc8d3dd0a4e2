"""The status board, a monitor's page, pause and resume, and who may read /metrics."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ops.models import JobRun, Monitor, MonitorEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def down_monitor():
    monitor = Monitor.objects.create(
        kind="device",
        key="1",
        subject="esp-kitchen",
        state="down",
        evidence="last heard 2026-12-04 23:45 CST, 58 h ago; threshold 15 min",
    )
    MonitorEvent.objects.create(monitor=monitor, previous="late", state="down", evidence=monitor.evidence)
    Monitor.objects.create(kind="smt-data", key="10443720000000001", subject="10443720000000001", state="up")
    return monitor


def test_staff_see_problems_first_with_evidence_and_the_nav_count(staff_client, down_monitor):
    response = staff_client.get("/ops/")
    text = response.content.decode()
    assert response.status_code == 200
    assert text.index("esp-kitchen") < text.index("10443720000000001")
    assert "58 h ago; threshold 15 min" in text and 'title="monitors down">1<' in text


def test_the_board_filters_by_state_and_kind_and_htmx_gets_the_fragment(staff_client, down_monitor):
    response = staff_client.get("/ops/?state=up&kind=smt-data", headers={"HX-Request": "true"})
    text = response.content.decode()
    assert "10443720000000001" in text and "esp-kitchen" not in text
    assert "<html" not in text and "HX-Request" in response["Vary"]


def test_a_customer_gets_403(customer_client, down_monitor):
    assert customer_client.get("/ops/").status_code == 403


def test_anonymous_gets_the_login_page(anon_client, down_monitor):
    assert anon_client.get(f"/ops/monitors/{down_monitor.pk}/")["Location"].startswith("/login/")


def test_pausing_needs_a_reason_and_records_who_paused(staff_client, down_monitor):
    refused = staff_client.post(f"/ops/monitors/{down_monitor.pk}/pause", {"reason": " "})
    assert refused.status_code == 400 and "Give a reason" in refused.content.decode()
    down_monitor.refresh_from_db()
    assert down_monitor.state == "down"
    assert (
        staff_client.post(
            f"/ops/monitors/{down_monitor.pk}/pause", {"reason": "device unplugged for repair"}
        ).status_code
        == 302
    )
    down_monitor.refresh_from_db()
    assert down_monitor.state == "paused" and down_monitor.paused_reason == "device unplugged for repair"
    assert down_monitor.events.first().actor == "user:staff"
    assert staff_client.get(f"/ops/monitors/{down_monitor.pk}/pause").status_code == 405


def test_resuming_evaluates_the_monitor_again(staff_client, down_monitor):
    from telemetry.models import Device

    Device.objects.create(pk=1, name="esp-kitchen", last_seen_at=timezone.now() - timedelta(hours=2))
    staff_client.post(f"/ops/monitors/{down_monitor.pk}/pause", {"reason": "looking"})
    staff_client.post(f"/ops/monitors/{down_monitor.pk}/resume", {"reason": "still broken"})
    down_monitor.refresh_from_db()
    assert down_monitor.state == "down" and "resumed (still broken)" in down_monitor.evidence
    page = staff_client.get(f"/ops/monitors/{down_monitor.pk}/").content.decode()
    assert "still broken" in page and "user:staff" in page


def test_metrics_need_staff_the_bearer_token_or_an_allowed_address(client, staff_user, settings, down_monitor):
    settings.METRICS_TOKEN = "scrape-token"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    response = client.get("/metrics", headers={"Authorization": "Bearer scrape-token"})
    assert response.status_code == 200
    assert 'wattledger_monitors{kind="device",state="down"} 1.0' in response.content.decode()
    settings.METRICS_ALLOWED_IPS = ["127.0.0.0/8"]
    assert client.get("/metrics").status_code == 200
    settings.METRICS_ALLOWED_IPS = []
    client.force_login(staff_user)
    assert client.get("/metrics").status_code == 200


def test_only_a_failed_runs_error_is_marked_as_an_error_in_the_jobs_list(staff_client):
    JobRun.objects.create(kind="mirror", trigger="manual", status="succeeded")
    JobRun.objects.create(kind="mirror", trigger="manual", status="failed", error="SFTP refused the key")
    html = staff_client.get("/ops/jobs/").content.decode()
    assert html.count('class="job-error"') == 1
    assert '<span class="job-error">SFTP refused the key</span>' in html
