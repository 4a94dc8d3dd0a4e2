"""Local stand-ins for ERCOT's servers, and extract zips built in the test."""

import io
import json
import ssl
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import FIXTURES

ERCOT_SAMPLES = FIXTURES / "ercot"
SAMPLE_ROWS = (ERCOT_SAMPLES / "tdsp_esiid_extract_sample_rows.csv").read_text()


def extract_row(
    esiid: str,
    *,
    address: str = "1 MAIN ST",
    zipcode: str = "75001",
    status: str = "Active",
    duns: str = "1039940674000",
    premise: str = "Residential",
    cycle: str = "07",
) -> str:
    fields = [
        esiid,
        address,
        "",
        "DALLAS",
        "TX",
        zipcode,
        "DALLAS",
        duns,
        cycle,
        status,
        premise,
        "ERCOT",
        "_CD",
        "STATION",
        "Y",
        "",
        premise,
        "Y",
        "AMSM",
        "N",
        "",
        "",
    ]
    return ",".join(f'"{f}"' if f else "" for f in fields) + "\n"


def make_zip(csv_text: str, member: str = "extract.csv") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, csv_text)
    return buffer.getvalue()


def constructed(day: str, friendly: str, time: str = "055219164") -> str:
    return f"ext.00000203.0000000000000000.{day.replace('-', '')}.{time}.{friendly}.zip"


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict  # an email.message.Message: case-insensitive, as HTTP headers are
    body: bytes
    peer_cert: bytes | None = None


@dataclass
class Emulator:
    """A loopback HTTP(S) server answering with `handler(request) -> (status, headers, body)`."""

    handler: Callable
    context: ssl.SSLContext | None = None
    requests: list[Request] = field(default_factory=list)

    def start(self) -> "Emulator":
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                split = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                peer = self.connection.getpeercert(binary_form=True) if emulator.context else None
                request = Request(self.command, split.path, parse_qs(split.query), self.headers, body, peer)
                emulator.requests.append(request)
                status, headers, payload = emulator.handler(request)
                if isinstance(payload, (dict, list)):
                    payload, headers = json.dumps(payload).encode(), {"Content-Type": "application/json", **headers}
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.context:
            self.server.socket = self.context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        scheme = "https" if self.context else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def emulator():
    started = []

    def start(handler: Callable, context: ssl.SSLContext | None = None) -> Emulator:
        server = Emulator(handler, context).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@dataclass
class MisDoc:
    doc_id: str
    name: str
    body: bytes
    publish: str = "2026-06-03T05:52:19-05:00"

    @property
    def friendly(self) -> str:
        parts = self.name.split(".")
        return parts[5] if len(parts) > 6 else parts[0]

    def listing(self) -> dict:
        return {
            "Document": {
                "DocID": self.doc_id,
                "ConstructedName": self.name,
                "FriendlyName": self.friendly,
                "PublishDate": self.publish,
                "ContentSize": str(len(self.body)),
                "ReportTypeID": "203",
                "Extension": "zip",
                "Prefix": "ext",
                "ReportName": "TDSP ESI ID EXTRACT",
                "DUNS": "0000000000000000",
            }
        }


@pytest.fixture
def mis(emulator, settings):
    """The MIS list and mirDownload, serving `docs` (a list the test fills)."""
    docs: list[MisDoc] = []

    def handle(request: Request):
        if request.path == "/misapp/servlets/IceDocListJsonWS" and request.query.get("reportTypeId") == ["203"]:
            return 200, {}, {"ListDocsByRptTypeRes": {"DocumentList": [d.listing() for d in docs]}}
        if request.path == "/misdownload/servlets/mirDownload":
            doc = next((d for d in docs if [d.doc_id] == request.query.get("doclookupId")), None)
            if doc:
                return (
                    200,
                    {"Content-Type": "application/zip", "Content-Disposition": f'attachment; filename="{doc.name}"'},
                    doc.body,
                )
        return 404, {"Content-Type": "text/html"}, b"<html>Not found</html>"

    server = emulator(handle)
    server.docs = docs
    settings.ERCOT_MIS_BASE_URL = server.url
    return server
