"""A 1 GB SMT upload over loopback to the app under a real gunicorn (deploy/gunicorn.conf.py).

The server's resident memory is sampled every 20 ms while the body streams; the goal is a
peak growth under 64 MB. Beside it, the same bytes posted to a WSGI app that only reads and
drops the body, in the same gunicorn set-up: the ceiling of loopback + gunicorn.

    .venv/bin/python bench/smt_upload.py [--mb 1024]
"""

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, django_setup, free_port, log, rss_kib, table, verdict  # noqa: E402

TOKEN = "bench-upload-token"
BOUNDARY = "wattledgerbenchboundary"
GOAL_MB = 64


def sink(environ: dict, start_response) -> list[bytes]:
    """The baseline app: read the whole body in 1 MiB chunks, keep nothing."""
    stream, left = environ["wsgi.input"], int(environ.get("CONTENT_LENGTH") or 0)
    while left > 0:
        left -= len(stream.read(min(left, 1 << 20)) or b"") or left
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"ok": true}']


def csv_block() -> bytes:
    """1 MiB of valid SMT interval lines (the upload only checks the header; normalizing comes later)."""
    line = b"'10443720000000901,01/15/2024,01/16/2024 07:12:44,00:00,00:15,0.250,A,Consumption\n"
    return line * ((1 << 20) // len(line))


def start_gunicorn(app: str, port: int, tmp: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "4",
        "MEDIA_ROOT": f"{tmp}/media",
        "FILE_UPLOAD_TEMP_DIR": tmp,
        "ADMIN_TOKEN": TOKEN,
        "SMT_UPLOAD_MAX_BYTES": str(4 << 30),
        "SMT_UPLOADS_PER_DAY": "1000",
    }
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "-c",
            "deploy/gunicorn.conf.py",
            "--pythonpath",
            "bench",
            "--access-logfile",
            "/dev/null",
            app,
        ],
        cwd=ROOT,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/health")
            return server
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def server_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [master, *map(int, children)]


def post(port: int, megabytes: int, block: bytes, filename: str) -> tuple[int, dict, float]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="source"\r\n\r\nbench\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    header = b"ESIID,USAGE_DATE,REVISION_DATE,USAGE_START_TIME,USAGE_END_TIME,USAGE_KWH,ESTIMATED_ACTUAL,CONSUMPTION_SURPLUSGENERATION\n"
    header += (
        f"'10443720000000901,01/14/2024,,00:00,00:15,{time.time_ns() % 1000 / 1000:.3f},A,Consumption\n".encode()
    )  # new bytes each run
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    size = len(head) + len(header) + megabytes * len(block) + len(tail)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.putrequest("POST", "/upload")
    for name, value in {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(size),
        "x-admin-token": TOKEN,
    }.items():
        conn.putheader(name, value)
    conn.endheaders()
    start = time.perf_counter()
    conn.send(head + header)
    for _ in range(megabytes):
        conn.send(block)
    conn.send(tail)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    return response.status, json.loads(body or b"{}"), size / 1e6 / elapsed


def measure(app: str, megabytes: int, tmp: str) -> dict:
    """Upload `megabytes` MiB to a fresh gunicorn running `app`; RSS sampled during the upload."""
    port = free_port()
    server = start_gunicorn(app, port, tmp)
    try:
        block = csv_block()
        post(port, 2, block, "warm-up.csv")  # imports, connections, first-request caches
        time.sleep(0.5)
        pids = server_pids(server.pid)
        before = {pid: rss_kib(pid) for pid in pids}
        peak = dict(before)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                for pid in pids:
                    peak[pid] = max(peak[pid], rss_kib(pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        status, body, mb_s = post(port, megabytes, block, "bench-1gb.csv")
        done.set()
        sampler.join()
        growth = max(peak[pid] - before[pid] for pid in pids) / 1024
        return {"status": status, "body": body, "mb_s": mb_s, "growth_mb": growth, "rss_mb": max(peak.values()) / 1024}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def cleanup() -> None:
    from django_q.models import OrmQ

    from smt.models import RawSmtFile

    RawSmtFile.objects.filter(source="bench").delete()
    OrmQ.objects.all().delete()  # the queued normalizations of the bench files


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--mb", type=int, default=1024, help="upload size in MiB")
    opts = args.parse_args()
    django_setup()
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp:
        try:
            log(f"baseline: {opts.mb} MiB to a body-draining WSGI app")
            base = measure("smt_upload:sink", opts.mb, tmp)
            log(f"ours: {opts.mb} MiB to POST /upload")
            ours = measure("config.wsgi:application", opts.mb, tmp)
        finally:
            cleanup()
    assert ours["status"] == 201 and ours["body"]["size"] > opts.mb * len(csv_block()), ours
    print(f"### SMT upload: a {ours['body']['size'] / 1e9:.2f} GB file over loopback to gunicorn (1 worker, gthread)\n")
    print(
        table(
            ["server", "status", "MB/s", "peak RSS growth (MB)", "peak RSS (MB)"],
            [
                [
                    "ours: POST /upload (hash, temp file, storage, queue)",
                    ours["status"],
                    f"{ours['mb_s']:.0f}",
                    f"{ours['growth_mb']:.1f}",
                    f"{ours['rss_mb']:.0f}",
                ],
                [
                    "baseline: WSGI app that drains the body",
                    base["status"],
                    f"{base['mb_s']:.0f}",
                    f"{base['growth_mb']:.1f}",
                    f"{base['rss_mb']:.0f}",
                ],
            ],
        )
    )
    print()
    print(
        table(
            ["goal", "measured", "verdict"],
            [
                [
                    f"peak server RSS growth < {GOAL_MB} MB",
                    f"{ours['growth_mb']:.1f} MB",
                    verdict(ours["growth_mb"] < GOAL_MB),
                ],
            ],
        )
    )


if __name__ == "__main__":
    main()
