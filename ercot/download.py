"""The edge to ERCOT: the three ways to list and download the TDSP ESIID extract.

Only this module speaks HTTP (urllib) and TLS (ssl). It passes plain values: `RemoteDoc`
listings in, zip bytes streamed out into a file object the caller owns. Every base URL is a
constructor argument, so tests point the clients at local servers.

- `MisClient`: the public MIS JSON document list and `mirDownload` (no credentials).
- `ApiClient`: ERCOT's Public Data API (B2C id_token + subscription key, 30 requests/minute).
- `EwsClient`: External Web Services, mutual TLS and a WS-Security signed SOAP `MarketInfo` call.
"""

import base64
import email.message
import hashlib
import json
import os
import random
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import BinaryIO
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

CENTRAL = ZoneInfo("America/Chicago")
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


def _order(docs: list[RemoteDoc]) -> list[RemoteDoc]:
    """Publish order (PublishDate, then DocID), the order the extracts must be applied in."""
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(docs, key=lambda d: (d.posted_at or epoch, int(d.doc_id) if d.doc_id.isdigit() else 0, d.doc_id))


def _excerpt(body: bytes) -> str:
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


class _Http:
    timeout: float = 60
    context: ssl.SSLContext | None = None

    def open(self, url: str, *, headers: dict | None = None, data: bytes | None = None):
        request = urllib.request.Request(url, data=data, headers={"User-Agent": USER_AGENT, **(headers or {})})
        try:
            return urllib.request.urlopen(request, timeout=self.timeout, context=self.context)
        except urllib.error.HTTPError as exc:
            raise FetchError(f"{url}: HTTP {exc.code}: {_excerpt(exc.read())}") from None
        except urllib.error.URLError as exc:
            raise FetchError(f"{url}: {exc.reason}") from None

    def fetch_zip(self, url: str, sink: BinaryIO, headers: dict | None = None) -> tuple[int, str]:
        with self.open(url, headers=headers) as response:
            return _stream(response, sink), _filename(response)


# ---------------------------------------------------------------- MIS


class MisClient(_Http):
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
            raise FetchError(f"{url}: not an MIS document list: {_excerpt(body)}") from None
        if isinstance(entries, dict):  # a single document comes as an object, not a list
            entries = [entries]
        docs = []
        for entry in entries:
            doc = entry.get("Document", entry)
            doc_id = str(doc.get("DocID", ""))
            docs.append(RemoteDoc(
                doc_id=doc_id, friendly_name=doc.get("FriendlyName", ""), name=doc.get("ConstructedName", ""),
                posted_at=_parse_time(doc.get("PublishDate")), size=_int(doc.get("ContentSize")),
                url=f"{self.base_url}/misdownload/servlets/mirDownload?doclookupId={urllib.parse.quote(doc_id)}",
            ))
        return _order(docs)

    def download(self, doc: RemoteDoc, sink: BinaryIO) -> str:
        size, name = self.fetch_zip(doc.url, sink)
        return doc.name or name


def _parse_time(value: str | None, default_zone=CENTRAL) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=default_zone)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- Public Data API


class ApiClient(_Http):
    """Public Data API: id_token from the B2C password grant, renewed before it expires."""

    method = "api"

    def __init__(self, *, base_url: str, token_url: str, subscription_key: str, username: str, password: str,
                 client_id: str, scope: str, product_id: str, timeout: float = 60, min_interval: float = 2.0,
                 max_tries: int = 5, first_delay: float = 2.0, sleep: Callable[[float], None] = time.sleep):
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
        form = urllib.parse.urlencode({
            "grant_type": "password", "username": self.username, "password": self.password,
            "scope": self.scope, "client_id": self.client_id, "response_type": "id_token",
        }).encode()
        with self._call(lambda: self.open(self.token_url, data=form, headers={"Content-Type": "application/x-www-form-urlencoded"})) as response:
            data = json.loads(response.read())
        if not data.get("id_token"):
            raise FetchError(f"{self.token_url}: no id_token in the answer ({', '.join(sorted(data))})")
        lifetime = _int(data.get("id_token_expires_in")) or _int(data.get("expires_in")) or 3600
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
                raise _Retryable(f"{url}: HTTP 429: {_excerpt(body)}", _int(exc.headers.get("Retry-After"))) from None
            if exc.code == 401 and "Authorization" in (headers or {}):
                raise _Unauthorized(f"{url}: HTTP 401: {_excerpt(body)}") from None
            if exc.code == 404:
                raise NotAvailable(f"{url}: HTTP 404: {_excerpt(body)}") from None
            raise FetchError(f"{url}: HTTP {exc.code}: {_excerpt(body)}") from None
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
                return self._call(lambda: self.open(url, headers=headers))
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
        query = {"postDatetimeFrom": f"{start.astimezone(CENTRAL):%Y-%m-%dT%H:%M:%S}",
                 "postDatetimeTo": f"{now + timedelta(days=1):%Y-%m-%dT%H:%M:%S}", "size": 1000}
        docs, page, pages = [], 1, 1
        while page <= pages:
            url = f"{self.base_url}/archive/{product}?{urllib.parse.urlencode({**query, 'page': page})}"
            with self.get(url) as response:
                data = json.loads(response.read())
            pages = _int((data.get("_meta") or {}).get("totalPages")) or 1
            for item in data.get("archives") or []:
                doc_id = str(item.get("docId", ""))
                href = ((item.get("_links") or {}).get("endpoint") or {}).get("href")
                docs.append(RemoteDoc(
                    doc_id=doc_id, friendly_name=item.get("friendlyName", ""),
                    posted_at=_parse_time(item.get("postDatetime")),  # no offset: Central time
                    url=href or f"{self.base_url}/archive/{product}?download={doc_id}",
                ))
            page += 1
        if not docs:
            raise NotAvailable(f"{self.base_url}/archive/{product}: empty listing")
        return _order(docs)

    def download(self, doc: RemoteDoc, sink: BinaryIO) -> str:
        with self.get(doc.url) as response:
            _stream(response, sink)
            name = _filename(response)
        # The download is named "<docId>.<ConstructedName>".
        prefix = f"{doc.doc_id}."
        return name[len(prefix):] if name.startswith(prefix) else name


class _Retryable(FetchError):
    def __init__(self, message: str, retry_after: int | None):
        super().__init__(message)
        self.retry_after = retry_after


class _Unauthorized(FetchError):
    pass


# ---------------------------------------------------------------- EWS


@dataclass(frozen=True)
class ClientCertificate:
    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes = b""

    @classmethod
    def from_pfx(cls, pfx: bytes, password: str, ca_pem: bytes = b"") -> "ClientCertificate":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12

        key, cert, extra = pkcs12.load_key_and_certificates(pfx, password.encode() or None)
        if key is None or cert is None:
            raise FetchError("ERCOT_EWS_PFX holds no private key and certificate")
        chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [cert, *extra])
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return cls(chain, key_pem, ca_pem)


@contextmanager
def _memory_file(data: bytes):
    """A path to bytes that never touch a disk: ssl can load a client key only from a path."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("ercot-ews", os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory() as folder:  # other systems: a private folder, removed at once
        path = os.path.join(folder, "client.pem")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
            handle.write(data)
        yield path


def mutual_tls_context(cert: ClientCertificate) -> ssl.SSLContext:
    """Server verification always on; the client key loaded without writing it anywhere."""
    context = ssl.create_default_context(cadata=cert.ca_pem.decode() if cert.ca_pem else None)
    if not cert.ca_pem:
        context.load_default_certs()
    with _memory_file(cert.cert_pem + b"\n" + cert.key_pem) as path:
        context.load_cert_chain(path)
    return context


NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_MSG = "http://www.ercot.com/schema/2007-06/nodal/ews/message"
NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
SOAP_ACTION = "/BusinessService/NodalService.serviceagent/HttpEndPoint/MarketInfo"


def ews_request(*, cert: ClientCertificate, option: str, source: str, user_id: str, start: datetime | None = None,
                now: datetime | None = None) -> bytes:
    """A signed `get Reports` RequestMessage (WS-Security: X.509 token, RSA-SHA256 over the Body).

    The signed parts are written directly in exclusive-canonical form (namespaces declared on
    the element, attributes in order, no empty-element tags), so the bytes digested here are
    the bytes a verifier's exc-c14n produces.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    now = now or datetime.now(timezone.utc)
    created = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    nonce = base64.b64encode(os.urandom(16)).decode()
    times = f"<StartTime>{start.isoformat()}</StartTime>" if start else ""
    body = (
        f'<soap:Body xmlns:soap="{NS_SOAP}" xmlns:wsu="{NS_WSU}" wsu:Id="Body">'
        f'<RequestMessage xmlns="{NS_MSG}"><Header><Verb>get</Verb><Noun>Reports</Noun>'
        f"<ReplayDetection><Nonce>{nonce}</Nonce><Created>{created}</Created></ReplayDetection>"
        f"<Revision>1</Revision><Source>{escape(source)}</Source><UserID>{escape(user_id)}</UserID>"
        f"<MessageID>{uuid.uuid4()}</MessageID></Header>"
        f"<Request><Option>{escape(option)}</Option>{times}</Request></RequestMessage></soap:Body>"
    )
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    signed_info = (
        f'<ds:SignedInfo xmlns:ds="{NS_DS}"><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"></ds:CanonicalizationMethod>'
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"></ds:SignatureMethod>'
        f'<ds:Reference URI="#Body"><ds:Transforms><ds:Transform Algorithm="{EXC_C14N}"></ds:Transform></ds:Transforms>'
        '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></ds:DigestMethod>'
        f"<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
    )
    key = serialization.load_pem_private_key(cert.key_pem, password=None)
    signature = base64.b64encode(key.sign(signed_info.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
    token = base64.b64encode(x509.load_pem_x509_certificate(cert.cert_pem).public_bytes(serialization.Encoding.DER)).decode()
    security = (
        f'<wsse:Security xmlns:wsse="{NS_WSSE}" xmlns:wsu="{NS_WSU}" soap:mustUnderstand="1">'
        '<wsse:BinarySecurityToken EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary" '
        'ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3" '
        f'wsu:Id="X509Token">{token}</wsse:BinarySecurityToken>'
        f'<ds:Signature xmlns:ds="{NS_DS}">{signed_info}<ds:SignatureValue>{signature}</ds:SignatureValue>'
        '<ds:KeyInfo><wsse:SecurityTokenReference><wsse:Reference URI="#X509Token" '
        'ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"></wsse:Reference>'
        "</wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature></wsse:Security>"
    )
    envelope = f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{NS_SOAP}"><soap:Header>{security}</soap:Header>{body}</soap:Envelope>'
    return envelope.encode()


def ews_reports(reply: bytes) -> list[dict]:
    """`Reply/ReplyCode` must be OK; returns the `Payload/Reports/Report` entries as dicts."""
    try:
        root = ET.fromstring(reply)
    except ET.ParseError as exc:
        raise FetchError(f"EWS reply is not XML ({exc}): {_excerpt(reply)}") from None
    local = lambda el: el.tag.rsplit("}", 1)[-1]  # noqa: E731 - namespaces vary by EWS version
    fault = next((el for el in root.iter() if local(el) == "Fault"), None)
    if fault is not None:
        raise FetchError(f"EWS fault: {' '.join(t.strip() for t in fault.itertext() if t.strip())[:300]}")
    code = next((el.text for el in root.iter() if local(el) == "ReplyCode"), None)
    if (code or "").strip() != "OK":
        raise FetchError(f"EWS ReplyCode {code!r}: {_excerpt(reply)}")
    return [{local(child): (child.text or "").strip() for child in report}
            for report in root.iter() if local(report) == "Report"]


class EwsClient(_Http):
    method = "ews"

    def __init__(self, *, base_url: str, cert: ClientCertificate, report_type: str = "203", source: str = "",
                 user_id: str = "", timeout: float = 60):
        self.base_url, self.cert, self.report_type = base_url, cert, report_type
        self.source, self.user_id, self.timeout = source, user_id, timeout
        self.context = mutual_tls_context(cert)

    def list_documents(self, *, since: datetime | None = None) -> list[RemoteDoc]:
        envelope = ews_request(cert=self.cert, option=self.report_type, source=self.source, user_id=self.user_id, start=since)
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{SOAP_ACTION}"'}
        try:
            with self.open(self.base_url, data=envelope, headers=headers) as response:
                reply = response.read()
        except FetchError as exc:
            raise FetchError(f"EWS MarketInfo: {exc}") from None
        docs = []
        for report in ews_reports(reply):
            url = report.get("URL", "")
            doc_id = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("doclookupId", [""])[0]
            docs.append(RemoteDoc(
                doc_id=doc_id or report.get("fileName", ""), name=report.get("fileName", ""),
                friendly_name="", posted_at=_parse_time(report.get("created")), size=_int(report.get("size")), url=url,
            ))
        return _order(docs)

    def download(self, doc: RemoteDoc, sink: BinaryIO) -> str:
        size, name = self.fetch_zip(doc.url, sink)  # the same mutual-TLS context
        return doc.name or name
