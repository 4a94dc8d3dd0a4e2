"""Reads of GET requests go to a streaming replica (DATABASE_REPLICA_URL), everything else to
the primary. Shared layer: imports no app.

- Only GET and HEAD requests read from the replica (ReplicaMiddleware marks them); workers,
  commands and POSTs read the primary, so they always see their own writes.
- A write in a request sends that request's later reads to the primary too: a replica may not
  have replayed the write yet.
- A replica that does not answer, or lags more than DATABASE_REPLICA_MAX_LAG_SECONDS, is
  skipped; a request asks once, at its first read (one small query on a kept connection).
"""

import logging
from collections.abc import Callable
from contextvars import ContextVar

from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

REPLICA = "replica"
_reads_allowed: ContextVar[bool] = ContextVar("replica_reads_allowed", default=False)
_wrote: ContextVar[bool] = ContextVar("replica_wrote", default=False)
_usable: ContextVar[bool | None] = ContextVar("replica_usable", default=None)

# Caught up with what it received: no lag. Else the age of the last transaction it replayed.
LAG_SQL = (
    "SELECT CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END"
)


def replica_lag_seconds() -> float:
    """Seconds the replica is behind (0 when it has replayed all it received); raises if it is down."""
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(LAG_SQL)
        lag = cursor.fetchone()[0]
    return float(lag if lag is not None else float("inf"))


def replica_usable() -> bool:
    """Asked once per request, at its first read: a replica that stopped is skipped from the next
    request on, not after a timeout."""
    if (usable := _usable.get()) is not None:
        return usable
    try:
        lag = replica_lag_seconds()
        usable = lag <= settings.DATABASE_REPLICA_MAX_LAG_SECONDS
        if not usable:
            log.warning(
                "database replica lags %.1f s (over %s s): reading from the primary",
                lag,
                settings.DATABASE_REPLICA_MAX_LAG_SECONDS,
            )
    except DatabaseError as exc:
        log.warning("database replica unreachable, reading from the primary: %s", exc)
        connections[REPLICA].close()  # a fresh connection next time, not the broken one
        usable = False
    _usable.set(usable)
    return usable


class ReplicaRouter:
    def db_for_read(self, model, **hints) -> str:
        if _reads_allowed.get() and not _wrote.get() and replica_usable():
            return REPLICA
        return "default"

    def db_for_write(self, model, **hints) -> str:
        _wrote.set(True)
        return "default"  # explicit: an object read from the replica is still saved to the primary

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # the same data on both

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool:
        return db != REPLICA


def ReplicaMiddleware(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        tokens = (_reads_allowed.set(request.method in ("GET", "HEAD")), _wrote.set(False), _usable.set(None))
        try:
            return get_response(request)
        finally:
            for token in tokens:
                token.var.reset(token)

    return middleware
