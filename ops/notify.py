"""Edge module: the alert channels (SMTP through Django, HTTP webhooks, apprise). Plain values in,
DeliveryError out; no ORM."""

import hashlib
import hmac
import json
import urllib.error
import urllib.request

from django.conf import settings
from django.core.mail import send_mail

TIMEOUT_SECONDS = 10


class DeliveryError(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_post(*, url: str, payload: dict, secret: str) -> int:
    """POST the JSON; X-Wattledger-Signature is the HMAC of these exact bytes. Non-2xx raises."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "Wattledger-alerts"}
    if secret:
        headers["X-Wattledger-Signature"] = signature(body, secret)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}", exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"{exc.__class__.__name__}: {getattr(exc, 'reason', exc)}") from None


def email_send(*, subject: str, body: str, to: list[str]) -> None:
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to, fail_silently=False)
    except OSError as exc:  # smtplib's errors are OSErrors too
        raise DeliveryError(f"{exc.__class__.__name__}: {exc}") from None


def apprise_send(*, url: str, title: str, body: str) -> None:
    import apprise

    sender = apprise.Apprise()
    if not sender.add(url):
        raise DeliveryError("apprise does not understand this URL")
    if not sender.notify(title=title, body=body):
        raise DeliveryError("apprise could not deliver (see the worker log)")
