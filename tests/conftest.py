import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SMT_SAMPLES = FIXTURES / "smt"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, seconds: float, step: float = 0.1) -> bool:
    """Poll until predicate() holds or the deadline passes; its last answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def wait_for_url(url: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def cluster_start(settings, log_path) -> subprocess.Popen:
    """A real django-q2 cluster (own process group) on the test database and storage."""
    from django.db import connection

    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "MEDIA_ROOT": str(settings.STORAGES["default"]["OPTIONS"]["location"]),
        "Q_SYNC": "false",
        "Q_WORKERS": "1",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=open(log_path, "a"),
        stderr=subprocess.STDOUT,
    )


def cluster_ready(log_path, seconds: float = 60) -> None:
    """Until a cluster started with a fresh `log_path` logs its worker and its pusher started: a
    process start takes seconds on a busy machine, and a task queued before its pusher listens
    goes to whichever cluster already does."""
    deadline = time.monotonic() + seconds
    while True:
        log = log_path.read_text()
        if "ready for work" in log and "pushing tasks" in log:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the qcluster logging to {log_path.name} did not start: {log[-1500:]}")
        time.sleep(0.1)


def cluster_stop(cluster: subprocess.Popen) -> None:
    """SIGTERM to the main process, as systemd's KillMode=mixed sends it (a SIGTERM to the whole
    group kills the sentinel under the main process, which then hangs until it is killed);
    SIGKILL to whatever is left of the group if a busy worker does not finish in time."""
    import signal

    try:
        cluster.send_signal(signal.SIGTERM)
        cluster.wait(20)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(cluster.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    cluster.wait(5)


@pytest.fixture
def qcluster(transactional_db, settings, tmp_path, monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)  # this process queues; the cluster runs the tasks
    cluster = cluster_start(settings, tmp_path / "qcluster.log")
    try:
        cluster_ready(tmp_path / "qcluster.log")
        yield cluster
    finally:
        cluster_stop(cluster)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path, monkeypatch):
    """Each test writes its stored files to a fresh folder."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }
    # Queued tasks run inline; django-q2 reads its settings once, so patch its Conf too.
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
    settings.ADMIN_TOKEN = "test-admin-token"
    settings.SMT_UPLOAD_TOKEN = "test-upload-token"
    # Never reach the real ERCOT: port 9 (discard) on loopback refuses at once.
    settings.ERCOT_MIS_BASE_URL = "http://127.0.0.1:9"
    settings.CRON_SECRET, settings.CRON_HEADER = "test-cron-secret", "X-Test-Cron: yes"
    settings.SMT_USAGE_CACHE_SECONDS = 0  # tests write intervals directly too; test_usage_cache.py turns it on


@pytest.fixture(scope="session")
def moto_server():
    """moto's S3 API server on a loopback port, stopped after the session."""
    port = free_port()
    binary = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_url(f"http://127.0.0.1:{port}/moto-api/")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def s3_storage(settings, moto_server):
    """Point the default storage at a fresh bucket on the moto server."""
    import boto3

    bucket = f"test-{time.time_ns()}"
    client = boto3.client(
        "s3", endpoint_url=moto_server, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": moto_server,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
                "addressing_style": "path",
                "file_overwrite": False,
            },
        },
    }
    return client, bucket


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user("staff", password="staff-pass-123", is_staff=True)


@pytest.fixture
def customer_user(db):
    return get_user_model().objects.create_user("customer", password="customer-pass-123")


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def customer_client(client, customer_user):
    client.force_login(customer_user)
    return client


@pytest.fixture
def anon_client(client):
    return client


@pytest.fixture
def sample():
    def read(name: str) -> bytes:
        return (SMT_SAMPLES / name).read_bytes()

    return read
