"""Gunicorn settings for deploy/wattledger-web.service (read with `-c`).

Threaded workers: a 512 MB upload streams at the client's pace through nginx (which does not
buffer it), and a thread waiting on a slow client must not block the others or trip the
worker timeout, which for gthread workers watches the worker, not the request.
"""

import os
import sys
from pathlib import Path

from gunicorn.glogging import Logger

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from config.logscrub import scrub_secrets

bind = os.environ.get("GUNICORN_BIND", "unix:/run/wattledger/gunicorn.sock")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# A worker whose threads are all busy accepts no more connections: a request waits in the socket
# backlog for a worker with a free thread, not in a busy worker's queue behind slow uploads.
# nginx opens a fresh upstream connection per request, so no keep-alive slots are needed.
worker_connections = threads
keepalive = 0
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 60
# Recycle workers now and then so a slow leak in any library never grows without bound.
max_requests = 2000
max_requests_jitter = 200
# nginx on the same machine sets X-Forwarded-Proto; Django trusts it (SECURE_PROXY_SSL_HEADER).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# No runtime control socket (gunicornc): systemd's signals are the control, and several
# gunicorns on one machine would otherwise share $HOME/.gunicorn/gunicorn.ctl.
control_socket_disable = True
accesslog = "-"


class ScrubbedLogger(Logger):
    """Access lines with ?token= (the cron secret) scrubbed from the request line, query and referer."""

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "q", "f"):
            atoms[key] = scrub_secrets(atoms[key] or "")
        return atoms


logger_class = ScrubbedLogger
errorlog = "-"
