"""A real streaming replica on loopback: a throwaway primary (wal_level=replica), a standby made
by `pg_basebackup -R`, and the site served against both (DATABASE_REPLICA_URL). The usage page
is read from the standby; it falls back to the primary when the standby lags or is stopped.
Each server logs its statements, which shows where a page's reads went."""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from tests.conftest import ROOT, free_port, wait_for_url

ESIID = "10443720000000555"
USAGE = f"/smt/usage/?esiid={ESIID}&start=2025-03-01&end=2025-03-03"
SETUP = f"""
from datetime import datetime, timedelta, timezone
from django.contrib.auth import get_user_model
from django.test import Client
from smt.models import SmtInterval
user = get_user_model().objects.create_user("ops", password="x", is_staff=True)
start = datetime(2025, 3, 1, 6, tzinfo=timezone.utc)
SmtInterval.objects.bulk_create([SmtInterval(esiid="{ESIID}", channel="consumption", ts=start + timedelta(minutes=15 * n),
                                              kwh=1, quality="actual", row_number=n + 2) for n in range(96)])
client = Client()
client.force_login(user)
print(client.cookies["sessionid"].value)
"""


def pg(*args: str, check: bool = True) -> None:
    """A PostgreSQL program as the postgres user (initdb refuses root), newest version installed."""
    pgbin = max(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(Path(path).parent.name.split(".")[0]))
    subprocess.run(
        ["runuser", "-u", "postgres", "--", f"{pgbin}/{args[0]}", *args[1:]], check=check, capture_output=True
    )


def server_start(data: Path, port: int, folder: Path) -> Path:
    log = folder / f"{port}.log"
    pg(
        "pg_ctl",
        "-D",
        str(data),
        "-l",
        str(log),
        "-w",
        "start",
        "-o",
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c wal_level=replica"
        " -c max_wal_senders=4 -c log_statement=all",
    )
    return log


class Cluster:
    """The primary and its standby in one temporary folder, stopped and removed afterwards."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="wl-replica-"))
        shutil.chown(self.folder, "postgres")
        self.primary, self.standby = self.folder / "primary", self.folder / "standby"
        self.primary_port, self.standby_port = free_port(), free_port()
        pg("initdb", "-D", str(self.primary), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self.primary_log = server_start(self.primary, self.primary_port, self.folder)
        # initdb's pg_hba.conf trusts replication connections from 127.0.0.1.
        pg(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary_port),
            "-U",
            "postgres",
            "-D",
            str(self.standby),
            "-R",
            "-X",
            "stream",
            "--no-sync",
        )
        self.standby_log = server_start(self.standby, self.standby_port, self.folder)

    def url(self, port: int, db: str = "wl") -> str:
        return f"postgres://postgres@127.0.0.1:{port}/{db}"

    def sql(self, port: int, query: str, db: str = "wl") -> list[tuple]:
        with psycopg.connect(self.url(port, db), autocommit=True) as conn:
            cursor = conn.execute(query)
            return cursor.fetchall() if cursor.description else []

    def stop(self, data: Path) -> None:
        pg("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        for data in (self.standby, self.primary):
            pg("pg_ctl", "-D", str(data), "-m", "immediate", "stop", check=False)  # either may be stopped already
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def cluster():
    cluster = Cluster()
    yield cluster
    cluster.close()


def caught_up(cluster: Cluster) -> None:
    lsn = cluster.sql(cluster.primary_port, "SELECT pg_current_wal_lsn()")[0][0]
    deadline = time.monotonic() + 20
    while cluster.sql(cluster.standby_port, f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'")[0][0] is not True:
        assert time.monotonic() < deadline, "the standby did not catch up"
        time.sleep(0.1)


def get(base: str, path: str, session: str) -> int:
    request = urllib.request.Request(base + path, headers={"Cookie": f"sessionid={session}"})
    with urllib.request.urlopen(request, timeout=20) as response:
        return response.status


def read_on(log: Path, since: int) -> bool:
    """Whether the server ran the usage page's day-totals read after byte `since` of its log."""
    return "FROM smt_interval_day" in log.read_text()[since:]


def test_usage_page_reads_from_the_replica_and_falls_back_when_it_lags_or_stops(cluster, tmp_path):
    cluster.sql(cluster.primary_port, "CREATE DATABASE wl", db="postgres")
    env = {
        **os.environ,
        "DATABASE_URL": cluster.url(cluster.primary_port),
        "DATABASE_REPLICA_URL": cluster.url(cluster.standby_port),
        "DATABASE_REPLICA_MAX_LAG_SECONDS": "1",
        "SMT_USAGE_CACHE_SECONDS": "0",
        "MEDIA_ROOT": str(tmp_path),
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    session = subprocess.run(
        [*manage, "shell", "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.split()[-1]
    port = free_port()
    web_log = open(tmp_path / "web.log", "w")  # noqa: SIM115  closed in the finally below
    web = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=web_log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_url(base + "/health", 30)
        caught_up(cluster)

        marks = cluster.primary_log.stat().st_size, cluster.standby_log.stat().st_size
        assert get(base, USAGE, session) == 200
        assert read_on(cluster.standby_log, marks[1]) and not read_on(cluster.primary_log, marks[0])

        # Lagging: replay paused while the primary writes; past 1 s behind, the primary serves.
        cluster.sql(cluster.standby_port, "SELECT pg_wal_replay_pause()")
        cluster.sql(cluster.primary_port, "CREATE TABLE lag_marker (id int)")
        time.sleep(1.5)
        marks = cluster.primary_log.stat().st_size, cluster.standby_log.stat().st_size
        assert get(base, USAGE, session) == 200
        assert read_on(cluster.primary_log, marks[0]) and not read_on(cluster.standby_log, marks[1])
        cluster.sql(cluster.standby_port, "SELECT pg_wal_replay_resume()")
        caught_up(cluster)
        marks = cluster.primary_log.stat().st_size, cluster.standby_log.stat().st_size
        assert get(base, USAGE, session) == 200
        assert read_on(cluster.standby_log, marks[1])  # back on the replica once it caught up

        # Stopped: the next request reads from the primary, no error.
        cluster.stop(cluster.standby)
        marks = cluster.primary_log.stat().st_size
        assert get(base, USAGE, session) == 200
        assert read_on(cluster.primary_log, marks)
    finally:
        web.terminate()
        web.wait(10)
        web_log.close()


def test_a_request_that_wrote_reads_its_own_write_from_the_primary():
    """The router: once a request wrote, its reads go to the primary (the replica may not have it yet)."""
    from config import replica

    router = replica.ReplicaRouter()
    tokens = replica._reads_allowed.set(True), replica._usable.set(True), replica._wrote.set(False)
    try:
        assert router.db_for_read(None) == "replica"
        assert router.db_for_write(None) == "default"
        assert router.db_for_read(None) == "default"
    finally:
        for token in tokens:
            token.var.reset(token)
    assert router.db_for_read(None) == "default"  # outside a GET request: workers, commands
