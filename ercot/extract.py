"""The TDSP ESIID extract itself: ERCOT's file names and the 22-column CSV inside each zip.

Pure functions over names, bytes and text; no database, no network.
"""

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import BinaryIO

from config.texas import CENTRAL

REPORT_TYPE_ID = "203"
# <prefix>.<report type, 8 digits>.<DUNS, 16>.<YYYYMMDD>.<HHMMSS[mmm]>.<FriendlyName>.zip
NAME_RE = re.compile(
    r"^(?P<prefix>[a-z]+)\.(?P<rtid>\d{8})\.(?P<duns>\d{16})\.(?P<date>\d{8})\."
    r"(?P<time>\d{6}(?:\d{3})?)\.(?P<friendly>\w+)\.zip$"
)
# The padding with "_" is not uniform: SHARYLAND_MCALLEN_FUL, ONCOR_ELEC___DAILY.
FRIENDLY_RE = re.compile(r"^(?P<tdsp>[A-Z0-9_]+?)_+(?P<kind>FUL|DAILY)$")
COLUMNS = [
    "esiid",
    "address",
    "address_overflow",
    "city",
    "state",
    "zipcode",
    "county",
    "duns",
    "meter_read_cycle",
    "status",
    "premise_type",
    "power_region",
    "station_code",
    "station_name",
    "metered",
    "open_service_orders",
    "polr_customer_class",
    "settlement_ams_indicator",
    "tdsp_ams_indicator",
    "switch_hold_indicator",
    "premise_subtype_code",
    "premise_subtype_desc",
]
ESIID_RE = re.compile(r"\d{17}(?:\d{5})?")
MAX_ROW_ERRORS = 20


class NameRejected(ValueError):
    """A file name that does not follow ERCOT's constructed-name grammar."""


@dataclass(frozen=True)
class ExtractName:
    name: str
    file_date: date  # Central prevailing time, from the name: never the UTC or fetch date
    published_at: datetime
    tdsp: str
    kind: str  # FUL or DAILY

    @property
    def storage_key(self) -> str:
        return f"ercot/{self.file_date:%Y-%m-%d}/{self.name}"


def parse_name(name: str) -> ExtractName:
    """Parse a ConstructedName; raises NameRejected naming the file when it does not fit."""
    match = NAME_RE.match(name or "")
    if not match:
        raise NameRejected(f"{name!r} is not an ERCOT constructed name (prefix.rtid.duns.YYYYMMDD.HHMMSS.Friendly.zip)")
    if match["rtid"] != REPORT_TYPE_ID.zfill(8):
        raise NameRejected(f"{name!r} is report type {int(match['rtid'])}, not {REPORT_TYPE_ID} (TDSP ESIID extract)")
    friendly = FRIENDLY_RE.match(match["friendly"])
    if not friendly:
        raise NameRejected(f"{name!r}: FriendlyName {match['friendly']!r} does not end in _FUL or _DAILY")
    try:
        stamp = datetime.strptime(match["date"] + match["time"][:6], "%Y%m%d%H%M%S")
    except ValueError:
        raise NameRejected(f"{name!r}: {match['date']} {match['time']} is not a date and time") from None
    millis = int(match["time"][6:] or 0)
    published = stamp.replace(microsecond=millis * 1000, tzinfo=CENTRAL)
    return ExtractName(name, stamp.date(), published, friendly["tdsp"], friendly["kind"])


def zip_check(fileobj: BinaryIO) -> list[str]:
    """The CSV members of a readable zip (CRCs checked); raises ValueError saying what is wrong."""
    fileobj.seek(0)
    if fileobj.read(2) != b"PK":
        raise ValueError("not a zip file (the body does not start with PK)")
    fileobj.seek(0)
    try:
        with zipfile.ZipFile(fileobj) as archive:
            bad = archive.testzip()
            members = [m for m in archive.namelist() if m.lower().endswith(".csv")]
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise ValueError(f"unreadable zip: {exc}") from None
    finally:
        fileobj.seek(0)
    if bad:
        raise ValueError(f"unreadable zip: member {bad!r} fails its CRC check")
    if not members:
        raise ValueError("zip holds no .csv member")
    return members


@dataclass
class RowErrors:
    count: int = 0
    rows: list | None = None

    def add(self, member: str, line: int, message: str) -> None:
        self.count += 1
        self.rows = self.rows or []
        if len(self.rows) < MAX_ROW_ERRORS:
            self.rows.append({"member": member, "line": line, "error": message})


def iter_records(fileobj: BinaryIO, errors: RowErrors, member: str = "") -> Iterator[list[str]]:
    """Rows of one extract CSV as 22 strings; legacy 19-column rows are widened, others refused.

    Headerless, every field text (DUNS and ESIIDs keep their leading zeros); quoted fields may
    hold commas. A refused row is counted in `errors` with its line number; the file goes on.
    """
    # utf-8-sig: a byte-order mark (spreadsheet tools add one) is not part of the first ESIID.
    text = io.TextIOWrapper(fileobj, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(text)
    match = ESIID_RE.fullmatch
    for row in reader:
        width = len(row)
        if width == 19:  # the older layout: no COUNTY (6), no premise subtype pair (20-21)
            row = row[:6] + [""] + row[6:] + ["", ""]
        elif width != 22:
            if width:
                errors.add(member, reader.line_num, f"{width} fields; expected 22 (or 19 in the legacy layout)")
            continue
        esiid = row[0]
        if not match(esiid):
            esiid = esiid.strip().lstrip("'")
            if not match(esiid):
                errors.add(member, reader.line_num, f"ESIID {row[0]!r} is not 17 or 22 digits")
                continue
            row[0] = esiid
        yield row
