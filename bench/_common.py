"""Shared set-up for the bench/*.py scripts: Django on the bench database, timers, tables.

bin/bench.sh runs each script with DATABASE_URL pointing at a dedicated, freshly migrated
PostgreSQL database (dropped afterwards); a script run by hand needs the same.
"""

import os
import socket
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "false",
    "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
    "ALLOWED_HOSTS": "*",
    "SECURE_SSL_REDIRECT": "false",
    "STATIC_MANIFEST": "false",
    "LOG_LEVEL": "WARNING",
}


def django_setup() -> None:
    """Django on DATABASE_URL (PostgreSQL required: the figures are about PostgreSQL)."""
    for name, value in BENCH_ENV.items():
        os.environ.setdefault(name, value)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL bench database (bin/bench.sh does)")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def timed(fn: Callable) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median_ms(fn: Callable, runs: int) -> float:
    """Median wall time of `runs` calls, in milliseconds, after one warm-up call."""
    fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def rss_kib(pid: int) -> int:
    """Resident set size of a process (KiB), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def smt_retention(*, first_kept: date) -> dict:
    """SMT retention as production runs it (smt.partitions.intervals_prune under SMT_RETENTION_DAYS),
    its cutoff at first_kept's local midnight: every month before it goes whole. Returns its result."""
    from django.test import override_settings  # imported here: Django is set up after this module loads

    from smt import partitions

    kept_days = 30
    now = datetime.combine(first_kept + timedelta(days=kept_days), clock(12), tzinfo=partitions.ZONE)
    with override_settings(SMT_RETENTION_DAYS=kept_days):
        return partitions.intervals_prune(now=now)


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def log(message: str) -> None:
    """Progress on stderr; stdout carries the markdown only."""
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
