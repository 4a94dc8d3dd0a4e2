"""The edge to ERCOT: the ways to list and download the TDSP ESIID extract.

Only this module and ercot.ews (its EWS client) speak HTTP (urllib) and TLS (ssl). It passes plain values: `RemoteDoc`
listings in, zip bytes streamed out into a file object the caller owns. Every base URL is a
constructor argument, so tests point the clients at local servers.

- `MisClient`: the public MIS JSON document list and `mirDownload` (no credentials).
- `ApiClient`: ERCOT's Public Data API (B2C id_token + subscription key, 30 requests/minute).
- `ercot.ews.EwsClient`: External Web Services, mutual TLS and a WS-Security signed SOAP call.
"""

import email.message
import json
import os
import random
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from config.texas import CENTRAL

USER_AGENT = "Wattledger/1.0 (ERCOT TDSP ESIID extract ingest)"
CHUNK = 1 << 20


class FetchError(Exception):
    """A listing or download failed; the message says which URL and what came back."""


class NotAvailable(FetchError):
    """The path cannot serve this product (e.g. the Public API has no ZP15-612): try the next one."""


@dataclass(frozen=True)
class RemoteDoc:
    doc_id: str
    friendly_name: str
    posted_at: datetime | None
    url: str
    name: str = ""  # ConstructedName when the listing gives it (MIS, EWS); the API names it on download
    size: int | None = None


def doc_order(docs: list[RemoteDoc]) -> list[RemoteDoc]:
    """Publish order (PublishDate, then DocID), the order the extracts must be applied in."""
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(docs, key=lambda d: (d.posted_at or epoch, int(d.doc_id) if d.doc_id.isdigit() else 0, d.doc_id))


def excerpt(body: bytes) -> str:
    return body[:200].decode("utf-8", "replace").strip()


def _stream(response, sink: BinaryIO) -> int:
    total = 0
    while chunk := response.read(CHUNK):
        sink.write(chunk)
        total += len(chunk)
    return total


def _filename(response) -> str:
    header = response.headers.get("Content-Disposition", "")
    if not header:
        return ""
    message = email.message.Message()
    message["content-disposition"] = header
    return os.path.basename(message.get_filename() or "")


class HttpSession:
    timeout: float = 60
    context: ssl.SSLContext | None = None

    def open(self, url: str, *, headers: dict | None = None, data: bytes | None = None):
        request = urllib.request.Request(url, data=data, headers={"User-Agent": USER_AGENT, **(headers or {})})
        try:
            return urllib.request.urlopen(request, timeout=self.timeout, context=self.context)
        except urllib.error.HTTPError as exc:
            raise FetchError(f"{url}: HTTP {exc.code}: {excerpt(exc.read())}") from None
        except urllib.error.URLError as exc:
            raise FetchError(f"{url}: {exc.reason}") from None

    def fetch_zip(self, url: str, sink: BinaryIO, headers: dict | None = None) -> tuple[int, str]:
        with self.open(url, headers=headers) as response:
            return _stream(response, sink), _filename(response)


# ---------------------------------------------------------------- MIS


class MisClient(HttpSession):
    method = "mis"

    def __init__(self, *, base_url: str, report_type: str = "203", timeout: float = 60):
        self.base_url, self.report_type, self.timeout = base_url.rstrip("/"), report_type, timeout

    def list_documents(self) -> list[RemoteDoc]:
        # The cache-buster keeps the CDN from serving a list from before today's postings.
        url = f"{self.base_url}/misapp/servlets/IceDocListJsonWS?reportTypeId={self.report_type}&_={int(time.time())}"
        with self.open(url, headers={"Accept": "application/json"}) as response:
            body = response.read()
        try:
            entries = json.loads(body)["ListDocsByRptTypeRes"]["DocumentList"]
        except (ValueError, KeyError, TypeError):
            raise FetchError(f"{url}: not an MIS document list: {excerpt(body)}") from None
        if isinstance(entries, dict):  # a single document comes as an object, not a list
            entries = [entries]
        docs = []
        for entry in entries:
            doc = entry.get("Document", entry)
            doc_id = str(doc.get("DocID", ""))
            docs.append(
                RemoteDoc(
                    doc_id=doc_id,
                    friendly_name=doc.get("FriendlyName", ""),
                    name=doc.get("ConstructedName", ""),
                    posted_at=parse_time(doc.get("PublishDate")),
                    size=int_or_none(doc.get("ContentSize")),
                    url=f"{self.base_url}/misdownload/servlets/mirDownload?doclookupId={urllib.parse.quote(doc_id)}",
                )
            )
        return doc_order(docs)

    def download(self, doc: RemoteDoc, sink: BinaryIO) -> str:
        size, name = self.fetch_zip(doc.url, sink)
        return doc.name or name


def parse_time(value: str | None, default_zone=CENTRAL) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=default_zone)


def int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- Public Data API


class ApiClient(HttpSession):
    """Public Data API: id_token from the B2C password grant, renewed before it expires."""

    method = "api"

    def __init__(
        self,
        *,
        base_url: str,
        token_url: str,
        subscription_key: str,
        username: str,
        password: str,
        client_id: str,
        scope: str,
        product_id: str,
        timeout: float = 60,
        min_interval: float = 2.0,
        max_tries: int = 5,
        first_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url, self.token_url, self.product_id = base_url.rstrip("/"), token_url, product_id
        self.subscription_key, self.username, self.password = subscription_key, username, password
        self.client_id, self.scope, self.timeout = client_id, scope, timeout
        # 30 requests a minute per subscription: one call every 2 s at most.
        self.min_interval, self.max_tries, self.first_delay, self.sleep = min_interval, max_tries, first_delay, sleep
        self._token, self._token_expires, self._last_call = "", 0.0, 0.0

    def token(self) -> str:
        """The cached id_token, renewed five minutes before it expires (tokens last an hour)."""
        if self._token and time.monotonic() < self._token_expires - 300:
            return self._token
        form = urllib.parse.urlencode(
            {
                "grant_type": "password",
                "username": self.username,
                "password": self.password,
                "scope": self.scope,
                "client_id": self.client_id,
                "response_type": "id_token",
            }
        ).encode()
        with self._call(
            lambda: self.open(self.token_url, data=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
        ) as response:
            data = json.loads(response.read())
        if not data.get("id_token"):
            raise FetchError(f"{self.token_url}: no id_token in the answer ({', '.join(sorted(data))})")
        lifetime = int_or_none(data.get("id_token_expires_in")) or int_or_none(data.get("expires_in")) or 3600
        self._token, self._token_expires = data["id_token"], time.monotonic() + lifetime
        return self._token

    def _call(self, opener: Callable):
        """One request, spaced for the rate limit; 429 and timeouts retried with growing delays."""
        delay = self.first_delay
        for attempt in range(1, self.max_tries + 1):
            wait = self._last_call + self.min_interval - time.monotonic()
            if wait > 0:
                self.sleep(wait)
            self._last_call = time.monotonic()
            try:
                return opener()
            except _Retryable as exc:
                if attempt == self.max_tries:
                    raise FetchError(f"gave up after {attempt} tries: {exc}") from None
                pause = exc.retry_after if exc.retry_after is not None else delay * random.uniform(0.9, 1.1)
                self.sleep(pause)
                delay = min(delay * 2, 60)
        raise AssertionError("unreachable")

    def open(self, url: str, *, headers: dict | None = None, data: bytes | None = None):
        request = urllib.request.Request(url, data=data, headers={"User-Agent": USER_AGENT, **(headers or {})})
        try:
            return urllib.request.urlopen(request, timeout=self.timeout, context=self.context)
        except urllib.error.HTTPError as exc:
            body = exc.read()
            if exc.code == 429:
                raise _Retryable(
                    f"{url}: HTTP 429: {excerpt(body)}", int_or_none(exc.headers.get("Retry-After"))
                ) from None
            if exc.code == 401 and "Authorization" in (headers or {}):
                raise _Unauthorized(f"{url}: HTTP 401: {excerpt(body)}") from None
            if exc.code == 404:
                raise NotAvailable(f"{url}: HTTP 404: {excerpt(body)}") from None
            raise FetchError(f"{url}: HTTP {exc.code}: {excerpt(body)}") from None
        except TimeoutError:
            raise _Retryable(f"{url}: timed out after {self.timeout} s", None) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise _Retryable(f"{url}: timed out after {self.timeout} s", None) from None
            raise FetchError(f"{url}: {exc.reason}") from None

    def get(self, url: str):
        """A signed-in GET; a token the server calls expired is renewed once."""
        for renew in (False, True):
            if renew:
                self._token = ""
            headers = {"Authorization": f"Bearer {self.token()}", "Ocp-Apim-Subscription-Key": self.subscription_key}
            try:
                return self._call(lambda headers=headers: self.open(url, headers=headers))
            except _Unauthorized as exc:
                if renew:
                    raise FetchError(str(exc)) from None
        raise AssertionError("unreachable")

    def list_documents(self, *, since: datetime | None = None) -> list[RemoteDoc]:
        product = urllib.parse.quote(self.product_id)
        # Probe the product first: whether the API serves ZP15-612 at all is unconfirmed.
        with self.get(f"{self.base_url}/{product}") as response:
            response.read()
        now = datetime.now(CENTRAL)
        start = since or now - timedelta(days=31)
        query = {
            "postDatetimeFrom": f"{start.astimezone(CENTRAL):%Y-%m-%dT%H:%M:%S}",
            "postDatetimeTo": f"{now + timedelta(days=1):%Y-%m-%dT%H:%M:%S}",
            "size": 1000,
        }
        docs, page, pages = [], 1, 1
        while page <= pages:
            url = f"{self.base_url}/archive/{product}?{urllib.parse.urlencode({**query, 'page': page})}"
            with self.get(url) as response:
                data = json.loads(response.read())
            pages = int_or_none((data.get("_meta") or {}).get("totalPages")) or 1
            for item in data.get("archives") or []:
                doc_id = str(item.get("docId", ""))
                href = ((item.get("_links") or {}).get("endpoint") or {}).get("href")
                docs.append(
                    RemoteDoc(
                        doc_id=doc_id,
                        friendly_name=item.get("friendlyName", ""),
                        posted_at=parse_time(item.get("postDatetime")),  # no offset: Central time
                        url=href or f"{self.base_url}/archive/{product}?download={doc_id}",
                    )
                )
            page += 1
        if not docs:
            raise NotAvailable(f"{self.base_url}/archive/{product}: empty listing")
        return doc_order(docs)

    def download(self, doc: RemoteDoc, sink: BinaryIO) -> str:
        with self.get(doc.url) as response:
            _stream(response, sink)
            name = _filename(response)
        # The download is named "<docId>.<ConstructedName>".
        prefix = f"{doc.doc_id}."
        return name[len(prefix) :] if name.startswith(prefix) else name


class _Retryable(FetchError):
    def __init__(self, message: str, retry_after: int | None):
        super().__init__(message)
        self.retry_after = retry_after


class _Unauthorized(FetchError):
    pass
