"""ERCOT External Web Services: mutual TLS and a WS-Security signed `MarketInfo` SOAP call.

An edge module like ercot.download, whose HTTP plumbing it shares. Only registered Market
Participants hold the ERCOT-issued client certificate this path needs.
"""

import base64
import hashlib
import os
import ssl
import tempfile
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO
from xml.sax.saxutils import escape

from ercot.download import FetchError, HttpSession, RemoteDoc, doc_order, excerpt, int_or_none, parse_time


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
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
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


def ews_request(
    *,
    cert: ClientCertificate,
    option: str,
    source: str,
    user_id: str,
    start: datetime | None = None,
    now: datetime | None = None,
) -> bytes:
    """A signed `get Reports` RequestMessage (WS-Security: X.509 token, RSA-SHA256 over the Body).

    The signed parts are written directly in exclusive-canonical form (namespaces declared on
    the element, attributes in order, no empty-element tags), so the bytes digested here are
    the bytes a verifier's exc-c14n produces.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    now = now or datetime.now(UTC)
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
    token = base64.b64encode(
        x509.load_pem_x509_certificate(cert.cert_pem).public_bytes(serialization.Encoding.DER)
    ).decode()
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
        raise FetchError(f"EWS reply is not XML ({exc}): {excerpt(reply)}") from None
    local = lambda el: el.tag.rsplit("}", 1)[-1]  # noqa: E731 - namespaces vary by EWS version
    fault = next((el for el in root.iter() if local(el) == "Fault"), None)
    if fault is not None:
        raise FetchError(f"EWS fault: {' '.join(t.strip() for t in fault.itertext() if t.strip())[:300]}")
    code = next((el.text for el in root.iter() if local(el) == "ReplyCode"), None)
    if (code or "").strip() != "OK":
        raise FetchError(f"EWS ReplyCode {code!r}: {excerpt(reply)}")
    return [
        {local(child): (child.text or "").strip() for child in report}
        for report in root.iter()
        if local(report) == "Report"
    ]


class EwsClient(HttpSession):
    method = "ews"

    def __init__(
        self,
        *,
        base_url: str,
        cert: ClientCertificate,
        report_type: str = "203",
        source: str = "",
        user_id: str = "",
        timeout: float = 60,
    ):
        self.base_url, self.cert, self.report_type = base_url, cert, report_type
        self.source, self.user_id, self.timeout = source, user_id, timeout
        self.context = mutual_tls_context(cert)

    def list_documents(self, *, since: datetime | None = None) -> list[RemoteDoc]:
        envelope = ews_request(
            cert=self.cert, option=self.report_type, source=self.source, user_id=self.user_id, start=since
        )
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
            docs.append(
                RemoteDoc(
                    doc_id=doc_id or report.get("fileName", ""),
                    name=report.get("fileName", ""),
                    friendly_name="",
                    posted_at=parse_time(report.get("created")),
                    size=int_or_none(report.get("size")),
                    url=url,
                )
            )
        return doc_order(docs)

    def download(self, doc: RemoteDoc, sink: BinaryIO) -> str:
        size, name = self.fetch_zip(doc.url, sink)  # the same mutual-TLS context
        return doc.name or name
