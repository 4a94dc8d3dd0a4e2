"""A small generated ERCOT extract for `load_demo_data`: a FUL and a DAILY zip for two TDSPs.

The zips go through the real ingest (`ingest_document` into storage, `ingest_load` into
EsiidRecord) from a local stand-in for the download, so no network is touched. The three demo
ESIIDs of ops.demo (the SMT demo meters) are Active Oncor records. Names carry the last two Central days, and the
bytes are the same all day: a second run the same day stores and loads nothing.
"""

import io
import zipfile
from datetime import date, timedelta
from typing import BinaryIO, TextIO

from django.utils import timezone

from ercot import download, extract, ingest
from ercot.models import ErcotIngest
from ops.demo import DEMO_ESIIDS

DEMO_DUNS = {"ONCOR_ELEC": "1039940674000", "CENTERPOINT": "957877905"}
STREETS = ["ELM ST", "OAK AVE", "PRESTON RD", "MAIN ST", "BOXWOOD DR"]


def _row(
    esiid: str,
    address: str,
    *,
    tdsp: str,
    city: str,
    zipcode: str,
    county: str,
    status: str = "Active",
    premise: str = "Residential",
    cycle: str = "07",
) -> list[str]:
    return [
        esiid,
        address,
        "",
        city,
        "TX",
        zipcode,
        county,
        DEMO_DUNS[tdsp],
        cycle,
        status,
        premise,
        "ERCOT",
        "_CD",
        f"{city} STATION",
        "Y",
        "",
        premise,
        "Y",
        "AMSM",
        "N",
        "",
        "",
    ]


def _oncor_full() -> list[list[str]]:
    rows = [
        _row(esiid, f"{i + 1} ELM ST", tdsp="ONCOR_ELEC", city="DALLAS", zipcode="75201", county="DALLAS")
        for i, esiid in enumerate(DEMO_ESIIDS)
    ]
    for i in range(12):
        status = "De-Energized" if i % 5 == 4 else "Active"
        premise = "Small Non-Residential" if i % 4 == 3 else "Residential"
        rows.append(
            _row(
                f"10443720000001{i:03d}",
                f"{100 + i * 7} {STREETS[i % len(STREETS)]}",
                tdsp="ONCOR_ELEC",
                city="PLANO" if i % 2 else "DALLAS",
                zipcode="75024" if i % 2 else "75204",
                county="COLLIN" if i % 2 else "DALLAS",
                status=status,
                premise=premise,
                cycle=f"{i % 20 + 1:02d}",
            )
        )
    return rows


def _centerpoint_full() -> list[list[str]]:
    return [
        _row(
            f"1008901023800{i:05d}0106",
            f"{200 + i * 11} {STREETS[(i + 2) % len(STREETS)]}",
            tdsp="CENTERPOINT",
            city="HOUSTON",
            zipcode=f"770{i % 3 + 2:02d}",
            county="HARRIS",
            status="Inactive" if i == 7 else "Active",
            cycle=f"{i % 20 + 1:02d}",
        )
        for i in range(10)
    ]


def _oncor_daily() -> list[list[str]]:
    # A move-out and a new premise since the FUL.
    return [
        _row(
            "10443720000001000",
            "100 ELM ST",
            tdsp="ONCOR_ELEC",
            city="DALLAS",
            zipcode="75204",
            county="DALLAS",
            status="De-Energized",
        ),
        _row("10443720000001100", "9 NEW HOMES LN", tdsp="ONCOR_ELEC", city="FRISCO", zipcode="75034", county="COLLIN"),
    ]


def _centerpoint_daily() -> list[list[str]]:
    # An address correction since the FUL.
    return [
        _row(
            "1008901023800000000106",
            "200 ELM STREET",
            tdsp="CENTERPOINT",
            city="HOUSTON",
            zipcode="77002",
            county="HARRIS",
        )
    ]


def _zip(rows: list[list[str]], day: date) -> bytes:
    """Headerless, every non-empty field quoted (as ERCOT writes them); a fixed timestamp keeps the bytes stable."""
    text = io.StringIO()
    for row in rows:
        text.write(",".join(f'"{f}"' if f else "" for f in row) + "\n")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("extract.csv", date_time=(day.year, day.month, day.day, 0, 0, 0)), text.getvalue()
        )
    return buffer.getvalue()


class DemoClient:
    """Stands in for an ERCOT download path: hands over bytes built here."""

    method = ErcotIngest.Method.DEMO

    def __init__(self, bodies: dict[str, bytes]):
        self.bodies = bodies

    def download(self, doc: download.RemoteDoc, sink: BinaryIO) -> str:
        sink.write(self.bodies[doc.doc_id])
        return doc.name


def demo_documents(today: date) -> tuple[list[download.RemoteDoc], dict[str, bytes]]:
    """The FULs posted the day before yesterday, the DAILYs yesterday (Central), in posting order."""
    ful_day, daily_day = today - timedelta(days=2), today - timedelta(days=1)
    files = [
        ("ONCOR_ELEC___FUL", ful_day, "181158000", _oncor_full()),
        ("CENTERPOINT__FUL", ful_day, "183012000", _centerpoint_full()),
        ("ONCOR_ELEC___DAILY", daily_day, "055219164", _oncor_daily()),
        ("CENTERPOINT__DAILY", daily_day, "055219302", _centerpoint_daily()),
    ]
    docs, bodies = [], {}
    for friendly, day, time, rows in files:
        name = f"ext.{extract.REPORT_TYPE_ID.zfill(8)}.0000000000000000.{day:%Y%m%d}.{time}.{friendly}.zip"
        doc_id = f"demo-{day:%Y%m%d}-{friendly.replace('_', '').lower()}"
        docs.append(
            download.RemoteDoc(doc_id=doc_id, friendly_name=friendly, posted_at=None, url=f"demo:{name}", name=name)
        )
        bodies[doc_id] = _zip(rows, day)
    return docs, bodies


def ercot_demo_load(*, today: date | None = None, stdout: TextIO | None = None) -> dict:
    """Store and load the demo extract; `{stored, loaded, rows}` (all 0 when already done),
    also said in one line on `stdout` when given (as `load_demo_data` does)."""
    docs, bodies = demo_documents(today or timezone.localdate(timezone=extract.CENTRAL))
    client = DemoClient(bodies)
    stored = loaded = rows = 0
    for doc in docs:
        result = ingest.ingest_document(client=client, doc=doc)
        if "error" in result:
            raise RuntimeError(f"ERCOT demo file {doc.name}: {result['error']}")
        stored += 0 if result.get("skipped") else 1
        row = ErcotIngest.objects.get(pk=result["ingestId"])
        if row.loaded_at is None:
            rows += ingest.ingest_load(ingest=row).rows
            loaded += 1
    if stdout is not None and (stored or loaded):
        stdout.write(f"demo ERCOT extract: {stored} zips stored, {rows} ESIID records loaded")
    elif stdout is not None:
        stdout.write("demo ERCOT extract: already loaded")
    return {"stored": stored, "loaded": loaded, "rows": rows}
