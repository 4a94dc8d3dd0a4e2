"""Evaluate every monitor once, record state changes and queue their notifications."""

from django.core.management.base import BaseCommand

from ops.monitors import monitors_check


class Command(BaseCommand):
    help = "Evaluate every monitor once; record changes of state and send their notifications."

    def handle(self, *args, **options) -> None:
        result = monitors_check()
        for event in result.changed:
            self.stdout.write(f"{event.monitor_id}: {event.previous} -> {event.state}: {event.evidence}")
        took = sum(result.seconds.values())
        self.stdout.write(f"{len(result.changed)} change(s) in {took:.2f} s")
