"""/metrics: request counts and durations per view, summed across gunicorn workers; a real
Prometheus scrapes our live server with the bearer token and answers queries on our gauges."""

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from ops.models import JobRun
from smt.models import RawSmtFile
from tests.conftest import ROOT, free_port, wait_for_url

TOKEN = "metrics-test-token-0123456789"


def scrape(url: str) -> str:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def sample_value(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in the scrape")


@pytest.mark.django_db
def test_requests_are_counted_by_method_status_and_view_name_not_path(staff_client):
    staff_client.get("/ops/")
    staff_client.get("/ops/monitors/8675309/")
    text = staff_client.get("/metrics").content.decode()
    assert sample_value(text, 'wattledger_http_requests_total{method="GET",status="200",view="ops:monitor-list"}') >= 1
    assert (
        sample_value(text, 'wattledger_http_requests_total{method="GET",status="404",view="ops:monitor-detail"}') >= 1
    )
    assert 'wattledger_http_request_duration_seconds_bucket{le="0.01",view="ops:monitor-list"}' in text
    # The path's id is in no label (a duration's digits may hold any number, so labels only).
    assert not [line for line in text.splitlines() if "{" in line and "8675309" in line.split("}")[0]]


@pytest.mark.django_db
def test_normalize_durations_form_a_histogram(staff_client):
    from datetime import timedelta

    from django.utils import timezone

    start = timezone.now()
    for seconds in (0.2, 3, 45):
        JobRun.objects.create(
            kind="normalize",
            trigger="queue",
            status="succeeded",
            started_at=start,
            finished_at=start + timedelta(seconds=seconds),
        )
    text = staff_client.get("/metrics").content.decode()
    assert sample_value(text, 'wattledger_smt_normalize_seconds_bucket{le="0.5"}') == 1
    assert sample_value(text, 'wattledger_smt_normalize_seconds_bucket{le="5.0"}') == 2
    assert sample_value(text, 'wattledger_smt_normalize_seconds_bucket{le="+Inf"}') == 3
    assert sample_value(text, "wattledger_smt_normalize_seconds_sum") == pytest.approx(48.2)


def test_two_gunicorn_workers_counts_are_summed_in_one_scrape(transactional_db, tmp_path):
    db = connection.settings_dict
    port, metrics_dir = free_port(), tmp_path / "prom"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "METRICS_TOKEN": TOKEN,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "config.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_url(f"{base}/health", seconds=60)  # probes /health; the counted requests go to /login/ alone
        # Concurrent requests, so both sync workers take some.
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: urllib.request.urlopen(f"{base}/login/", timeout=30).read(), range(200)))
        pids = {path.stem.split("_")[1] for path in metrics_dir.glob("counter_*.db")}
        assert len(pids) == 2, "both workers should have served requests"
        assert (
            sample_value(
                scrape(f"{base}/metrics"), 'wattledger_http_requests_total{method="GET",status="200",view="login"}'
            )
            == 200
        )
    finally:
        server.terminate()
        server.wait(20)


def test_a_real_prometheus_scrapes_our_gauges_with_the_bearer_token(live_server, settings, tmp_path):
    settings.METRICS_TOKEN = TOKEN
    for n, status in enumerate(["failed", "failed", "normalized"]):
        RawSmtFile.objects.create(
            filename=f"f{n}.csv", sha256=f"{n}" * 64, size_bytes=1, storage_key=f"k{n}", status=status
        )
    target = urllib.parse.urlsplit(live_server.url).netloc
    port = free_port()
    (tmp_path / "token").write_text(TOKEN)
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: wattledger\n    authorization: {{credentials_file: {tmp_path / 'token'}}}\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
    )
    prometheus = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        query = urllib.parse.urlencode({"query": 'wattledger_smt_raw_files{status="failed"}'})
        deadline, result = time.monotonic() + 40, []
        while time.monotonic() < deadline and not result:
            time.sleep(1)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?{query}", timeout=5) as response:
                    result = json.load(response)["data"]["result"]
            except OSError:
                continue  # Prometheus still starting
        assert result, "Prometheus never stored the gauge: was the scrape refused?"
        assert result[0]["value"][1] == "2" and result[0]["metric"]["job"] == "wattledger"
    finally:
        prometheus.terminate()
        prometheus.wait(20)
