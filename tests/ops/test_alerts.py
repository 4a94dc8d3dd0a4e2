"""Alerts reach a real SMTP server and a loopback webhook receiver; a refused channel is retried."""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from ops import alerts
from ops.models import Delivery
from smt.models import SmtInterval
from tests.conftest import free_port

pytestmark = pytest.mark.django_db
ESIID = "10443720000000001"


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": controller.port, "timeout": 10},
        }
    }
    yield inbox
    controller.stop()


@pytest.fixture
def receiver():
    """A loopback HTTP server recording each POST (body and headers); `status` sets its answer."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        status = 204

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, dict(self.headers)))
            self.send_response(Handler.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, received, Handler
    server.shutdown()


def make_late():
    SmtInterval.objects.create(
        esiid=ESIID,
        channel="consumption",
        ts=timezone.now() - timedelta(hours=60),
        kwh=Decimal(1),
        quality="actual",
        row_number=2,
    )


def test_the_alert_e_mail_reaches_a_real_smtp_server(check, settings, smtp):
    settings.ALERT_EMAILS = ["ops@example.com", "oncall@example.com"]
    settings.SITE_URL = "https://meters.example.com"
    make_late()
    [event] = check("smt-data")
    [message] = smtp.messages
    text = message.content.decode()
    assert sorted(message.rcpt_tos) == ["oncall@example.com", "ops@example.com"]
    assert f"SMT meter data {ESIID} is LATE" in text
    assert "threshold 48 h" in text and f"https://meters.example.com/ops/monitors/{event.monitor_id}/" in text
    assert event.deliveries.get().status == "sent"


def test_the_webhook_gets_signed_json_it_can_verify(check, settings, receiver):
    server, received, _ = receiver
    settings.ALERT_WEBHOOK_URLS = [f"http://127.0.0.1:{server.server_port}/hook?token=abc"]
    settings.ALERT_WEBHOOK_SECRET = "shared-secret"
    make_late()
    [event] = check("smt-data")
    [(body, headers)] = received
    expected = "sha256=" + hmac.new(b"shared-secret", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Wattledger-Signature"], expected)
    payload = json.loads(body)
    assert payload["monitor"] == event.monitor_id and payload["kind"] == "smt-data" and payload["subject"] == ESIID
    assert (payload["state"], payload["previous"]) == ("late", "up") and "newest interval" in payload["summary"]
    delivery = event.deliveries.get()
    assert delivery.status == "sent" and delivery.response_status == 204
    assert "token" not in delivery.target  # URL credentials are never stored or shown


def test_a_receiver_that_is_down_is_retried_with_backoff_and_the_check_is_unharmed(check, settings, receiver):
    server, received, handler = receiver
    settings.ALERT_WEBHOOK_URLS = ["http://127.0.0.1:9/refused", f"http://127.0.0.1:{server.server_port}/hook"]
    handler.status = 503
    make_late()
    [event] = check("smt-data")  # the check itself completes and records the change
    refused, unavailable = event.deliveries.order_by("target_index")
    assert refused.status == "pending" and "Connection refused" in refused.error and refused.attempts == 1
    assert unavailable.status == "pending" and unavailable.response_status == 503 and "HTTP 503" in unavailable.error
    assert refused.next_attempt_at > timezone.now() + timedelta(seconds=30)
    handler.status = 200
    assert check("smt-data", minutes=0) == []  # not due yet: nothing sent again
    assert len(received) == 1
    Delivery.objects.update(next_attempt_at=timezone.now())
    check("smt-data")  # the check queues due retries
    unavailable.refresh_from_db()
    assert unavailable.status == "sent" and unavailable.attempts == 2 and len(received) == 2


def test_a_delivery_gives_up_after_the_last_attempt(check, settings):
    settings.ALERT_WEBHOOK_URLS = ["http://127.0.0.1:9/refused"]
    make_late()
    [event] = check("smt-data")
    delivery = event.deliveries.get()
    for _ in range(alerts.MAX_ATTEMPTS - 1):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        alerts.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == alerts.MAX_ATTEMPTS


def test_apprise_urls_are_sent_through_apprise(check, settings, receiver):
    server, received, _ = receiver
    settings.ALERT_APPRISE_URLS = [f"json://127.0.0.1:{server.server_port}/apprise"]
    make_late()
    [event] = check("smt-data")
    [(body, _)] = received
    assert f"{ESIID} is LATE" in json.loads(body)["title"]
    assert event.deliveries.get().status == "sent"
