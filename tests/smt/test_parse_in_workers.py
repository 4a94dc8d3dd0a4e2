"""A big file's parse split across processes inside a real `manage.py qcluster` worker: it runs
there unless Q_DAEMONIZE_WORKERS asks for daemonic workers, gives the serial rows either way, and
leaves no process behind when the cluster stops or a worker is killed in the middle of a parse."""

import hashlib
import io
import os
import signal
from datetime import date
from pathlib import Path

import pytest

from ops.models import JobRun
from smt import ingest, normalize, storage
from smt.demo import interval_csv_lines
from smt.models import RawSmtFile, SmtInterval
from tests.conftest import cluster_start, cluster_stop, wait_for

# The cmdline of a spawn-started pool process and of the resource tracker spawn starts beside it.
POOL_MARKER = "from multiprocessing."


def session_processes(session: int) -> dict[int, tuple[int, str]]:
    """Every live process of a session (cluster_start gives the cluster its own): pid to (ppid, cmdline).

    An orphan keeps its session when it is handed to init, so this finds it where ppid cannot."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # ended while we looked
            continue
        state, ppid, _pgrp, sid = stat[stat.rindex(")") + 2 :].split()[:4]
        if int(sid) == session and state != "Z":
            found[int(entry.name)] = (int(ppid), cmdline)
    return found


def pool_processes(session: int) -> dict[int, tuple[int, str]]:
    return {pid: info for pid, info in session_processes(session).items() if POOL_MARKER in info[1]}


def cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    utime, stime = stat[stat.rindex(")") + 2 :].split()[11:13]
    return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")


def parsing(session: int) -> bool:
    """Both parse processes past their start-up (a few tenths of a second of CPU) and into the ranges."""
    parsers = [pid for pid, (_, cmdline) in pool_processes(session).items() if "spawn_main" in cmdline]
    return len(parsers) == 2 and all(cpu_seconds(pid) >= 0.25 for pid in parsers)


def stored_file(esiids: int, days: int):
    names = [f"104437200000004{n:02d}" for n in range(esiids)]
    data = "".join(interval_csv_lines(esiids=names, start=date(2025, 1, 1), days=days)).encode()
    return storage.raw_file_store(
        fileobj=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename="export.csv",
        origin="staff",
    ).raw_file


def stored_rows() -> list[tuple]:
    return list(
        SmtInterval.objects.order_by("esiid", "channel", "ts").values_list(
            "esiid", "channel", "ts", "kwh", "quality", "revised_at", "raw_file_id", "row_number"
        )
    )


@pytest.fixture
def cluster_env(transactional_db, monkeypatch):
    """This process queues (the ORM broker), the cluster it starts parses: any file is big enough."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setenv("SMT_PARSE_PARALLEL_MIN_BYTES", "1")
    monkeypatch.setenv("SMT_PARSE_WORKERS", "2")
    return monkeypatch


def cluster_ready(log: Path) -> bool:
    return log.exists() and "running." in log.read_text()


@pytest.mark.parametrize(("daemonize", "workers"), [("false", 2), ("true", 1)])
def test_cluster_worker_parses_across_processes_unless_daemonized_with_the_serial_rows(
    settings, tmp_path, cluster_env, daemonize, workers
):
    cluster_env.setenv("Q_DAEMONIZE_WORKERS", daemonize)
    raw = stored_file(esiids=2, days=365)  # about 5.7 MB: two ranges of parallel_parse.RANGE_BYTES
    log = tmp_path / "qcluster.log"
    cluster = cluster_start(settings, log)
    try:
        ingest.raw_file_queue(raw_file=raw)
        done = lambda: RawSmtFile.objects.get(pk=raw.pk).status == RawSmtFile.Status.NORMALIZED
        assert wait_for(done, 45, 0.2), log.read_text()[-2000:]
    finally:
        cluster_stop(cluster)
    raw.refresh_from_db()
    assert raw.stats["parseWorkers"] == workers
    run = JobRun.objects.get(kind=JobRun.Kind.NORMALIZE)
    assert f"parsed by {workers} process(es)" in run.log
    in_cluster = stored_rows()

    # The reference: this process reads the same file serially.
    settings.SMT_PARSE_PARALLEL_MIN_BYTES = 1 << 40
    SmtInterval.objects.all().delete()
    serial = normalize.raw_file_normalize(raw_file=raw)
    assert serial["parseWorkers"] == 1
    assert in_cluster == stored_rows() and len(in_cluster) == 2 * 365 * 96  # DST days: 92 + 100 rows
    assert raw.stats | {"parseWorkers": 1} == serial


def test_cluster_stopped_while_idle_leaves_no_process(settings, tmp_path, cluster_env):
    log = tmp_path / "qcluster.log"
    cluster = cluster_start(settings, log)
    try:
        assert wait_for(lambda: cluster_ready(log), 20), log.read_text()
        # The main process, its sentinel, the monitor, the pusher and the (undaemonized) worker.
        assert len(session_processes(cluster.pid)) >= 5
        os.kill(cluster.pid, signal.SIGTERM)  # the main process alone, as systemd's KillMode=mixed does
        cluster.wait(20)
        assert wait_for(lambda: not session_processes(cluster.pid), 5), session_processes(cluster.pid)
    finally:
        cluster_stop(cluster)


def test_worker_killed_mid_parse_leaves_no_pool_process(settings, tmp_path, cluster_env):
    raw = stored_file(esiids=6, days=365)  # about 17 MB: a few seconds of parsing and COPY
    log = tmp_path / "qcluster.log"
    cluster = cluster_start(settings, log)
    try:
        assert wait_for(lambda: cluster_ready(log), 20), log.read_text()
        ingest.raw_file_queue(raw_file=raw)
        assert wait_for(lambda: parsing(cluster.pid), 30, 0.05), log.read_text()[-2000:]
        pool = pool_processes(cluster.pid)  # the two parse processes and spawn's resource tracker
        assert len(pool) == 3, pool
        (worker,) = {ppid for ppid, _ in pool.values()}
        assert RawSmtFile.objects.get(pk=raw.pk).status == RawSmtFile.Status.NORMALIZING
        os.kill(worker, signal.SIGKILL)
        left = lambda: not (set(pool) & set(pool_processes(cluster.pid)))
        # Mid-range, a pool process would parse on to its range's end; its parent-watch ends it sooner.
        assert wait_for(left, 3), pool_processes(cluster.pid)
        # The sentinel replaced the worker; the file waits for the stranded-file sweep.
        assert wait_for(lambda: "reincarnated worker" in log.read_text(), 5), log.read_text()[-2000:]
    finally:
        cluster_stop(cluster)
    assert RawSmtFile.objects.get(pk=raw.pk).status == RawSmtFile.Status.NORMALIZING
    assert SmtInterval.objects.count() == 0
