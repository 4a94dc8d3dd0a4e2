"""SFTP mirror throughput: our mirror (paramiko, into storage, registered) vs OpenSSH's `sftp` client.

Both fetch the same tree from the same loopback sshd in the same run. Our side is
`smt.mirror.mirror_run(ingest_files=False)`: list, stream each file into storage while hashing,
register a RawSmtFile and a MirroredFile; ingest is left out because the bench files are
random bytes (ingest is measured by the SMT ingest benchmark). Run from the repository root:

    .venv/bin/python bench/smt_mirror.py [--files 200] [--mb 5] [--rounds 2]

Under bin/bench.sh it uses the bench database that script made (a DATABASE_URL naming a
database with "bench" in it) and removes only the rows it created; run alone it makes a
throwaway PostgreSQL database (`wattledger_bench_smt_mirror` on 127.0.0.1:5432, dropped at the
end) when that server answers, else a throwaway SQLite file. Media go to a throwaway folder.
Prints a markdown table.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_tree(root: Path, files: int, size: int) -> None:
    block = os.urandom(size)
    for n in range(files):
        folder = root / "adhocusage" / f"batch{n // 50:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        # Each file differs (its own sha256) without paying for 1 GB of fresh randomness.
        (folder / f"IntervalMeterUsage{n:04d}.CSV").write_bytes(n.to_bytes(8, "big") + block[8:])


def openssh_fetch(server, dest: Path) -> float:
    batch = dest.parent / "sftp-batch"
    batch.write_text(f"get -R {server.root}/adhocusage {dest}\n")
    command = [
        "sftp",
        "-q",
        "-b",
        str(batch),
        "-P",
        str(server.port),
        "-i",
        str(server.client_key),
        "-o",
        f"UserKnownHostsFile={server.known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "root@127.0.0.1",
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def ours_fetch(settings_media: Path) -> tuple[float, dict]:
    from ops.models import JobRun
    from smt.mirror import mirror_run

    started = time.perf_counter()
    job = mirror_run(trigger=JobRun.Trigger.COMMAND, ingest_files=False)
    elapsed = time.perf_counter() - started
    assert job.status == "succeeded", job.error
    return elapsed, job.counts


def reset_ours(media: Path, first_raw_id: int, first_job_id: int) -> None:
    """Forget what earlier rounds fetched: only rows this script created."""
    from ops.models import JobRun
    from smt.models import MirroredFile, RawSmtFile

    MirroredFile.objects.filter(raw_file_id__gte=first_raw_id).delete()
    RawSmtFile.objects.filter(pk__gte=first_raw_id).delete()
    JobRun.objects.filter(pk__gte=first_job_id).delete()
    shutil.rmtree(media, ignore_errors=True)
    media.mkdir()


def next_ids() -> tuple[int, int]:
    from django.db.models import Max

    from ops.models import JobRun
    from smt.models import RawSmtFile

    return (
        (RawSmtFile.objects.aggregate(m=Max("pk"))["m"] or 0) + 1,
        (JobRun.objects.aggregate(m=Max("pk"))["m"] or 0) + 1,
    )


BENCH_DB = "wattledger_bench_smt_mirror"


def bench_database(work: Path) -> str:
    """bin/bench.sh's database, else a fresh PostgreSQL one when the local server answers (as in
    production), else SQLite."""
    import socket

    given = os.environ.get("DATABASE_URL", "")
    if "bench" in given.rsplit("/", 1)[-1]:
        return given
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
    except OSError:
        return f"sqlite:///{work}/bench.sqlite3"
    admin_sql(f"DROP DATABASE IF EXISTS {BENCH_DB}", f"CREATE DATABASE {BENCH_DB}")
    return f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"


def admin_sql(*statements: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--files", type=int, default=200)
    args.add_argument("--mb", type=float, default=5)
    args.add_argument("--rounds", type=int, default=2)
    opts = args.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-smt-mirror-"))
    media = work / "media"
    media.mkdir()
    os.environ.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-secret-key-0123456789abcdef0123456789",
            "MEDIA_ROOT": str(media),
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": bench_database(work),
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from tests.sshd import sshd_start

    server = sshd_start(work / "sshd")
    try:
        import django
        from django.conf import settings
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        settings.SMT_HOST, settings.SMT_PORT, settings.SMT_USER = "127.0.0.1", server.port, "root"
        settings.SMT_KEY, settings.SMT_KNOWN_HOSTS = str(server.client_key), str(server.known_hosts)
        settings.SMT_REMOTE_DIR = str(server.root / "adhocusage")
        size = int(opts.mb * 1024 * 1024)
        make_tree(server.root, opts.files, size)
        total_mb = opts.files * size / 1e6
        first_ids = next_ids()
        theirs, ours = [], []
        for _ in range(opts.rounds):
            dest = work / "openssh"
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir()
            theirs.append(openssh_fetch(server, dest / "tree"))
            fetched = sum(1 for p in (dest / "tree").rglob("*") if p.is_file())
            assert fetched == opts.files, f"sftp fetched {fetched} files"
            shutil.rmtree(dest)
            reset_ours(media, *first_ids)
            seconds, counts = ours_fetch(media)
            assert counts["fetched"] == opts.files and counts["bytes"] == opts.files * size, counts
            ours.append(seconds)
        reset_ours(media, *first_ids)
        report(opts, total_mb, theirs, ours)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
        if os.environ["DATABASE_URL"].endswith(f"/{BENCH_DB}"):
            from django.db import connections

            connections.close_all()
            admin_sql(f"DROP DATABASE IF EXISTS {BENCH_DB}")


def report(opts, total_mb: float, theirs: list[float], ours: list[float]) -> None:
    their, our = statistics.median(theirs), statistics.median(ours)
    print(
        f"SFTP mirror: {opts.files} files × {opts.mb:g} MB ({total_mb:.0f} MB) from a loopback OpenSSH sshd, "
        f"median of {opts.rounds} rounds\n"
    )
    print("| Client | Seconds | MB/s | vs OpenSSH |")
    print("|---|---:|---:|---:|")
    print(f"| OpenSSH `sftp -b` (`get -R`) | {their:.2f} | {total_mb / their:.1f} | 1.00× |")
    from django.conf import settings

    print(
        f"| Wattledger mirror (paramiko → storage, sha256, registered), {settings.SMT_SFTP_CONNECTIONS} connections | {our:.2f} | {total_mb / our:.1f} | {their / our:.2f}× |"
    )
    print(f"\nRounds (s): OpenSSH {', '.join(f'{t:.2f}' for t in theirs)}; ours {', '.join(f'{t:.2f}' for t in ours)}")


if __name__ == "__main__":
    main()
