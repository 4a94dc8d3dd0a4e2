"""The MQTT subscriber process: its own systemd unit, never a q2 task (it runs forever)."""

import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from telemetry import ingest, mqtt

log = logging.getLogger(__name__)


def batch_store(messages: list[ingest.ReadingIn | ingest.StatusIn | ingest.MalformedIn]) -> None:
    """Messages as ingest.message_prepare read them on the subscriber's network thread."""
    # The subscriber may sit idle for hours: a connection the server dropped meanwhile is replaced.
    close_old_connections()
    result = ingest.prepared_record(messages)
    log.debug("stored %d readings (%d duplicates, %d malformed, %d statuses)",
              result.stored, result.duplicates, result.malformed, result.statuses)


class Command(BaseCommand):
    help = "Subscribe to <MQTT_TOPIC_PREFIX>/+/(telemetry|status|heartbeat) and store what arrives, until SIGTERM."

    def subscriber(self) -> mqtt.Subscriber:
        if not settings.MQTT_URL:
            raise CommandError("MQTT_URL is not set (e.g. mqtt://127.0.0.1:1883)")
        filters = mqtt.topic_filters(settings.MQTT_TOPIC_PREFIX, settings.MQTT_SHARED_GROUP)
        try:
            config = mqtt.broker_config(settings.MQTT_URL, client_id=settings.MQTT_CLIENT_ID, ca_file=settings.MQTT_CA_FILE,
                                        session_expiry=settings.MQTT_SESSION_EXPIRY_SECONDS)
            return mqtt.Subscriber(config, filters, batch_store, prepare=ingest.message_prepare,
                                   batch_size=settings.TELEMETRY_BATCH_SIZE, batch_seconds=settings.TELEMETRY_BATCH_SECONDS)
        except ValueError as exc:
            raise CommandError(str(exc)) from None

    def handle(self, *args, **options) -> None:
        subscriber = self.subscriber()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: subscriber.stop())
        self.stdout.write(f"subscribing to {', '.join(subscriber.filters)} as {subscriber.config.client_id}")
        subscriber.run()
        self.stdout.write("subscriber stopped: buffered readings stored")
