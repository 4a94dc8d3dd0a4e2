"""The MQTT subscriber process: its own systemd unit, never a q2 task (it runs forever)."""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops.heartbeat import SUBSCRIBER, heartbeat_member_name, heartbeats_prune
from telemetry import mqtt, routes, writer


class Command(BaseCommand):
    help = (
        "Subscribe to <MQTT_TOPIC_PREFIX>/+/(telemetry|status|heartbeat) and the topics of the other "
        "TELEMETRY_ADAPTERS, and store what arrives, until SIGTERM."
    )

    def subscriber(self) -> mqtt.Subscriber:
        if not settings.MQTT_URL:
            raise CommandError("MQTT_URL is not set (e.g. mqtt://127.0.0.1:1883)")
        configured = routes.routes_configured()
        filters = mqtt.filters_shared(routes.subscription_filters(configured), settings.MQTT_SHARED_GROUP)
        try:
            config = mqtt.broker_config(
                settings.MQTT_URL,
                client_id=settings.MQTT_CLIENT_ID,
                ca_file=settings.MQTT_CA_FILE,
                session_expiry=settings.MQTT_SESSION_EXPIRY_SECONDS,
                protocol=settings.MQTT_PROTOCOL,
            )
            return mqtt.Subscriber(
                config,
                filters,
                writer.batch_store,
                writers=settings.TELEMETRY_WRITERS,
                initializer=writer.writer_init,
                batch_size=settings.TELEMETRY_BATCH_SIZE,
                batch_seconds=settings.TELEMETRY_BATCH_SECONDS,
                key=routes.partition_key(configured),
                beat_name=self.beat_name(),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None

    def beat_name(self) -> str:
        """One subscriber alone keeps the plain name; each member of a shared group beats its own
        row, so one stopping never writes "disconnected" over the others' "connected"."""
        if not settings.MQTT_SHARED_GROUP:
            return SUBSCRIBER
        return heartbeat_member_name(family=SUBSCRIBER, member=settings.MQTT_CLIENT_ID)

    def handle(self, *args, **options) -> None:
        subscriber = self.subscriber()
        # Members scaled away long ago would otherwise keep their rows for ever (the monitor ignores them).
        heartbeats_prune(family=SUBSCRIBER)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: subscriber.stop())
        self.stdout.write(
            f"subscribing to {', '.join(subscriber.filters)} as {subscriber.config.client_id} "
            f"(MQTT {subscriber.config.protocol}, persistent session, "
            f"{subscriber.writers or 'no'} writer process{'es' if subscriber.writers != 1 else ''})"
        )
        subscriber.run()
        self.stdout.write("subscriber stopped: buffered readings stored")
