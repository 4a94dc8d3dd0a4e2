"""ercot.download against local stand-ins: the Public Data API and EWS over mutual TLS."""

import base64
import hashlib
import io
import re
import ssl
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.core.files.storage import default_storage

from ercot import download, ingest
from ercot import ews as soap  # `ews` is the server fixture below
from ercot.models import ErcotIngest, EsiidRecord
from tests.ercot.conftest import constructed, extract_row, make_zip

ONCOR = "10443720000000001"
ZIP = make_zip(extract_row(ONCOR))
NAME = constructed("2026-06-03", "ONCOR_ELEC___DAILY")
pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- Public Data API


class ApiState:
    def __init__(self):
        self.tokens_issued = 0
        self.throttled = False
        self.pages = {
            1: [{"docId": 5001, "friendlyName": "ONCOR_ELEC___DAILY", "postDatetime": "2026-06-03T05:52:19.000"}],
            2: [{"docId": 5002, "friendlyName": "TNMP_________DAILY", "postDatetime": "2026-06-03T05:52:20.000"}],
        }
        self.files = {"5001": NAME, "5002": constructed("2026-06-03", "TNMP_________DAILY", "055220000")}

    def handle(self, request):
        if request.path == "/token":
            form = dict(item.split("=", 1) for item in request.body.decode().split("&"))
            if (
                form.get("grant_type") != "password"
                or form.get("response_type") != "id_token"
                or form.get("password") != "pw"
            ):
                return 400, {}, {"error": "invalid_grant"}
            self.tokens_issued += 1
            # The first token is already expired as far as the server is concerned.
            return (
                200,
                {},
                {"id_token": f"token-{self.tokens_issued}", "access_token": "not-this-one", "expires_in": "3600"},
            )
        if request.headers.get("Ocp-Apim-Subscription-Key") != "sub-key":
            return 401, {}, {"error": "missing subscription key"}
        if request.headers.get("Authorization") != f"Bearer token-{self.tokens_issued}" or self.tokens_issued < 2:
            return 401, {}, {"error": "token expired"}
        if request.path == "/reports/ZP15-612":
            return 200, {}, {"emilId": "ZP15-612", "reportTypeId": 203}
        if request.path == "/reports/archive/ZP15-612" and "download" in request.query:
            doc_id = request.query["download"][0]
            name = self.files[doc_id]
            return (
                200,
                {"Content-Type": "application/zip", "Content-Disposition": f"attachment; filename={doc_id}.{name}"},
                make_zip(extract_row(ONCOR if "ONCOR" in name else "1016800000000000000001")),
            )
        if request.path == "/reports/archive/ZP15-612":
            if not self.throttled:
                self.throttled = True
                return 429, {}, {"error_key": "throttled", "error_message": "Too Many Requests"}
            page = int(request.query["page"][0])
            base = "http://127.0.0.1/reports/archive/ZP15-612?download="
            items = [{**item, "_links": {"endpoint": {"href": None}}} for item in self.pages[page]]
            return 200, {}, {"_meta": {"totalPages": 2, "currentPage": page}, "archives": items, "base": base}
        return 404, {}, {"error": "not found"}


@pytest.fixture
def api(emulator, settings):
    state = ApiState()
    server = emulator(state.handle)
    settings.ERCOT_TOKEN_URL = f"{server.url}/token"
    settings.ERCOT_API_BASE_URL = f"{server.url}/reports"
    settings.ERCOT_SUBSCRIPTION_KEY, settings.ERCOT_USERNAME, settings.ERCOT_PASSWORD = "sub-key", "user", "pw"
    settings.ERCOT_API_MIN_INTERVAL = 0
    server.state = state
    return server


def api_client(settings, sleeps: list) -> download.ApiClient:
    client = ingest.ercot_client("api")
    client.sleep = sleeps.append
    return client


def test_api_renews_an_expired_token_retries_429_and_reads_every_page(api, settings):
    sleeps: list = []
    docs = api_client(settings, sleeps).list_documents()

    assert [d.doc_id for d in docs] == ["5001", "5002"]
    assert docs[0].posted_at == datetime(2026, 6, 3, 10, 52, 19, tzinfo=UTC)  # Central time, no offset given
    assert api.state.tokens_issued == 2
    assert len(sleeps) == 1 and 1.8 <= sleeps[0] <= 2.2  # one 429: the first back-off with jitter
    listing = [r for r in api.requests if r.path == "/reports/archive/ZP15-612"]
    assert [r.query["page"] for r in listing] == [["1"], ["1"], ["2"]]
    assert listing[0].query["size"] == ["1000"] and "postDatetimeFrom" in listing[0].query
    assert all("Bearer token-" in r.headers["Authorization"] for r in listing)


def test_api_download_names_the_file_from_content_disposition(api, settings):
    client = api_client(settings, [])
    doc = client.list_documents()[0]
    sink = io.BytesIO()
    assert client.download(doc, sink) == NAME
    assert sink.getvalue()[:2] == b"PK"


def test_api_spaces_its_calls_for_the_rate_limit(api, settings):
    sleeps: list = []
    settings.ERCOT_API_MIN_INTERVAL = 2.0
    api_client(settings, sleeps).list_documents()
    assert len([s for s in sleeps if 0 < s <= 2.0]) >= 3  # token, probe, pages: each waits for its 2 s slot


def test_api_gives_up_after_repeated_429s(emulator, settings, api):
    api.state.handle = None
    client = api_client(settings, sleeps := [])
    client.max_tries = 3
    api.handler = lambda request: (429, {"Retry-After": "7"}, {"error_key": "throttled"})
    with pytest.raises(download.FetchError, match="gave up after 3 tries"):
        client.token()
    assert sleeps == [7, 7]  # Retry-After is honoured


def test_fetch_falls_back_to_mis_when_the_api_has_no_product(api, mis, settings):
    settings.ERCOT_PRODUCT_ID = "NO-SUCH"
    from tests.ercot.conftest import MisDoc

    mis.docs.append(MisDoc("1001", NAME, ZIP))
    run = ingest.ercot_fetch()
    assert run.ok and run.method == "mis"
    assert run.tried[0].startswith("api: ") and "404" in run.tried[0]


def test_fetch_through_the_api_stores_and_loads(api, settings):
    run = ingest.ercot_fetch(method="api")
    assert run.ok and run.method == "api"
    assert [r["key"] for r in run.results] == [
        f"ercot/2026-06-03/{NAME}",
        f"ercot/2026-06-03/{api.state.files['5002']}",
    ]
    assert ErcotIngest.objects.get(doc_id="5001").method == "api"
    assert EsiidRecord.objects.filter(esiid=ONCOR).exists()


# ---------------------------------------------------------------- EWS (mutual TLS)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key, issuer: str, issuer_key, *, ca: bool = False, ip: bool = False) -> x509.Certificate:
    import ipaddress

    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(obj) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1, and an RSA client certificate, all made here."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("Test ERCOT CA", ca_key, "Test ERCOT CA", ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert("127.0.0.1", server_key, "Test ERCOT CA", ca_key, ip=True)
    client_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    client = _cert("Market Participant", client_key, "Test ERCOT CA", ca_key)
    folder = tmp_path_factory.mktemp("pki")
    (folder / "server.pem").write_bytes(_pem(server) + _pem(server_key))
    (folder / "ca.pem").write_bytes(_pem(ca))
    return {
        "ca": _pem(ca),
        "client_cert": _pem(client),
        "client_key": _pem(client_key),
        "client": client,
        "client_key_obj": client_key,
        "server_pem": folder / "server.pem",
        "ca_path": folder / "ca.pem",
    }


def verify_signed_body(envelope: bytes, peer_der: bytes) -> str:
    """What ERCOT checks: the Body digest, the signature by the TLS client's key; returns Option."""
    text = envelope.decode()
    body = re.search(r"<soap:Body .*</soap:Body>", text).group(0)
    signed_info = re.search(r"<ds:SignedInfo .*</ds:SignedInfo>", text).group(0)
    digest = re.search(r"<ds:DigestValue>(.*)</ds:DigestValue>", text).group(1)
    assert base64.b64decode(digest) == hashlib.sha256(body.encode()).digest()
    token = re.search(r"<wsse:BinarySecurityToken [^>]*>(.*)</wsse:BinarySecurityToken>", text).group(1)
    assert base64.b64decode(token) == peer_der  # the signing certificate is the TLS client certificate
    signature = base64.b64decode(re.search(r"<ds:SignatureValue>(.*)</ds:SignatureValue>", text).group(1))
    x509.load_der_x509_certificate(peer_der).public_key().verify(
        signature, signed_info.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    return re.search(r"<Option>(\d+)</Option>", body).group(1)


@pytest.fixture
def ews(emulator, settings, pki):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server_pem"])
    context.load_verify_locations(pki["ca_path"])
    context.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no TLS session

    def handle(request):
        if request.method == "POST" and request.path == "/EWS/":
            assert request.headers["SOAPAction"] == f'"{soap.SOAP_ACTION}"'
            option = verify_signed_body(request.body, request.peer_cert)
            reports = "".join(
                f"<Report><operatingDate>2026-06-03</operatingDate><reportGroup>{option}</reportGroup><fileName>{name}</fileName>"
                f"<created>2026-06-03T05:52:19-05:00</created><size>{len(ZIP)}</size><format>zip</format>"
                f"<URL>{server.url}/files/?doclookupId={doc_id}</URL></Report>"
                for doc_id, name in [("7001", NAME)]
            )
            reply = (
                f'<soap:Envelope xmlns:soap="{soap.NS_SOAP}"><soap:Body><ResponseMessage xmlns="{soap.NS_MSG}">'
                f"<Header><Verb>reply</Verb><Noun>Reports</Noun></Header><Reply><ReplyCode>OK</ReplyCode></Reply>"
                f"<Payload><Reports>{reports}</Reports></Payload></ResponseMessage></soap:Body></soap:Envelope>"
            )
            return 200, {"Content-Type": "text/xml"}, reply.encode()
        if request.path == "/files/" and request.query.get("doclookupId") == ["7001"]:
            return 200, {"Content-Type": "application/zip"}, ZIP
        return 404, {}, b"no"

    server = emulator(handle, context)
    settings.ERCOT_EWS_BASE = f"{server.url}/EWS/"
    settings.ERCOT_EWS_CA = pki["ca"].decode()
    return server


def test_ews_lists_with_a_signed_request_over_mutual_tls_and_stores(ews, settings, pki):
    settings.ERCOT_EWS_CERT, settings.ERCOT_EWS_KEY = pki["client_cert"].decode(), pki["client_key"].decode()
    run = ingest.ercot_fetch()
    assert run.method == "ews" and run.ok, run.as_json()
    assert run.results == [
        {"key": f"ercot/2026-06-03/{NAME}", "bytes": len(ZIP), "ingestId": ErcotIngest.objects.get().pk}
    ]
    assert default_storage.open(f"ercot/2026-06-03/{NAME}").read() == ZIP
    assert [r.path for r in ews.requests] == ["/EWS/", "/files/"]
    assert all(r.peer_cert for r in ews.requests)


def test_ews_accepts_a_base64_pkcs12_bundle(ews, settings, pki):
    pfx = pkcs12.serialize_key_and_certificates(
        b"mp", pki["client_key_obj"], pki["client"], None, serialization.BestAvailableEncryption(b"secret")
    )
    settings.ERCOT_EWS_PFX, settings.ERCOT_EWS_PFX_PASS = base64.b64encode(pfx).decode(), "secret"
    run = ingest.ercot_fetch(method="ews")
    assert run.ok and run.results[0]["key"] == f"ercot/2026-06-03/{NAME}"


def test_ews_without_a_client_certificate_gets_no_session(ews, settings, pki):
    client = download.MisClient(base_url=ews.url)  # same server, no client certificate
    client.context = ssl.create_default_context(cadata=pki["ca"].decode())
    with pytest.raises(
        (download.FetchError, ssl.SSLError), match="(?i)certificate|EOF occurred"
    ):  # TLS 1.3: the alert comes on read
        client.list_documents()
    assert ews.requests == []


def test_ews_refuses_a_server_it_cannot_verify(ews, settings, pki):
    settings.ERCOT_EWS_CERT, settings.ERCOT_EWS_KEY = pki["client_cert"].decode(), pki["client_key"].decode()
    settings.ERCOT_EWS_CA = ""  # system CAs only: the test CA is unknown
    run = ingest.ercot_fetch(method="ews")
    assert not run.ok and "CERTIFICATE_VERIFY_FAILED" in run.results[0]["error"]


def test_ews_reply_errors_are_reported():
    with pytest.raises(download.FetchError, match="ReplyCode 'ERROR'"):
        soap.ews_reports(b"<Envelope><Reply><ReplyCode>ERROR</ReplyCode></Reply></Envelope>")
    with pytest.raises(download.FetchError, match="EWS fault: Client bad signature"):
        soap.ews_reports(
            b"<Envelope><Body><Fault><faultcode>Client</faultcode><faultstring>bad signature</faultstring></Fault></Body></Envelope>"
        )


def test_api_retries_a_timed_out_call(api, settings):
    import time as clock

    calls = []
    original = api.handler

    def slow_once(request):
        if request.path == "/reports/ZP15-612" and not calls:
            calls.append(request)
            clock.sleep(1.5)  # past the client's timeout
        return original(request)

    api.handler = slow_once
    client = api_client(settings, sleeps := [])
    client.timeout = 0.5
    assert [d.doc_id for d in client.list_documents()] == ["5001", "5002"]
    # timed out, retried (its token then refused as expired), renewed: three probes
    assert len([r for r in api.requests if r.path == "/reports/ZP15-612"]) == 3
    assert len(sleeps) == 2 and all(1.8 <= s <= 2.2 for s in sleeps)  # the timeout's back-off, then the 429's
