"""The telemetry subscriber's writer processes (telemetry.mqtt.Subscriber runs them): each reads
and stores the batch parts it is handed. Functions of their own module, importable before Django
is set up (Django and the models are imported inside them), as a spawned process needs."""

import signal
from datetime import datetime


def writer_init() -> None:
    # The subscriber process orchestrates the stop: it stores what it received, then shuts its
    # writers down, so Ctrl-C in a terminal (SIGINT to the whole group) must not kill one
    # mid-batch. SIGTERM stays: the pool ends its other writers with it when one has died, and
    # systemd sends it to the subscriber alone (KillMode=mixed).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import django

    django.setup()


def batch_store(messages: list[tuple[str, bytes, datetime]]) -> dict:
    """(topic, payload, received_at) messages, read and stored in one transaction."""
    from django.db import close_old_connections

    from telemetry import ingest

    # A writer may sit idle for hours: a connection the server dropped meanwhile is replaced.
    close_old_connections()
    result = ingest.messages_record(messages)
    return {
        "stored": result.stored,
        "duplicates": result.duplicates,
        "malformed": result.malformed,
        "statuses": result.statuses,
    }
