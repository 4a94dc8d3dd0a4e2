"""django-q2 entry points: thin wrappers around ops.monitors and ops.alerts."""

from ops import alerts, monitors


def monitors_check() -> int:
    return len(monitors.monitors_check().changed)


def delivery_send(delivery_id: int) -> str | None:
    delivery = alerts.delivery_send(delivery_id=delivery_id)
    return delivery.status if delivery else None
