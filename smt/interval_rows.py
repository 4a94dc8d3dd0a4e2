"""The interval rows of a raw file, whichever form it came in: an SMT CSV or a Green Button file.

One reader for every path (upload checks, the customer reader in smt.origins, the worker), so
what an upload was checked with is what the worker loads. The form is told by the content,
never by the file name: Green Button is ESPI XML in an Atom feed (plain, or alone in a zip or
gzip), anything else is read as CSV.
"""

import json
from collections.abc import Iterator, Mapping
from typing import BinaryIO

from config.texas import parse_esiid
from smt import greenbutton, parser

# Real downloads open with long licence comments and stylesheets before the feed element.
HEAD_BYTES = 64 * 1024
_NAMESPACES = (greenbutton.ATOM.encode(), greenbutton.ESPI.encode())
_CONTAINER_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b")  # zip, empty zip, gzip (as parser.open_members)


def is_greenbutton(head: bytes) -> bool:
    """Whether a file's first bytes are an XML document naming the Atom or ESPI namespace."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return text.startswith(b"<") and any(namespace in head for namespace in _NAMESPACES)


def fileobj_is_greenbutton(fileobj: BinaryIO) -> bool:
    """is_greenbutton on a seekable file, or on the first member of a zip or gzip; left rewound."""
    head = fileobj.read(HEAD_BYTES)
    fileobj.seek(0)
    if not head.startswith(_CONTAINER_MAGIC):
        return is_greenbutton(head)
    # Utilities' portals often hand the XML out zipped: what it is shows only once decompressed.
    members = parser.open_members(fileobj)
    try:
        first = next(members, None)
        return first is not None and is_greenbutton(first[1].read(HEAD_BYTES))
    except parser.FileRejected:
        return False  # a damaged or refused container: the CSV reader names what is wrong with it
    finally:
        members.close()
        fileobj.seek(0)


def usage_point_esiids_parse(text: str) -> dict[str, str]:
    """The form field `usage_point_esiids`: a JSON object of UsagePoint path to ESIID.

    The paths are those a refusal names (e.g. "RetailCustomer/1/UsagePoint/2"). Raises
    FileRejected naming what is wrong, so the upload answers 422 before anything is stored.
    """
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise parser.FileRejected(
            "field 'usage_point_esiids' is not JSON; send an object like "
            '{"RetailCustomer/1/UsagePoint/1": "10443720000000001"}'
        ) from None
    if not isinstance(value, dict):
        raise parser.FileRejected("field 'usage_point_esiids' must be a JSON object of UsagePoint path to ESIID")
    mapping = {}
    for point, esiid in value.items():
        found = parse_esiid(esiid) if isinstance(esiid, str) else None
        if found is None:
            raise parser.FileRejected(
                f"field 'usage_point_esiids': {esiid!r} for UsagePoint {point!r} is not a 17- or 22-digit ESIID"
            )
        mapping[str(point)[:300]] = found
    return mapping


def file_rows(
    fileobj: BinaryIO,
    stats: parser.ParseStats,
    budget: parser.ContentBudget | None = None,
    *,
    expected_esiid: str | None = None,
    usage_points: Mapping[str, str] | None = None,
) -> Iterator[parser.Row]:
    """Every valid interval row of a stored file, CSV or Green Button. Raises FileRejected.

    `expected_esiid` is the ESIID named with the upload: a Green Button file's one UsagePoint
    gets it, and a spreadsheet's scientific-notation ESIID is read as it when the digits agree.
    `usage_points` maps each UsagePoint of a Green Button file with several to its ESIID.
    Green Button notes and spreadsheet fixes end in `stats` (ParseStats.notes_all).
    """
    if not fileobj_is_greenbutton(fileobj):
        yield from parser.iter_rows(fileobj, stats, budget, expected_esiid=expected_esiid)
        return
    # open_members charges what it reads to the budget, plain file or decompressed member alike.
    members = parser.open_members(fileobj, budget)
    try:
        _, stream = next(members)
        read = greenbutton.greenbutton_read(stream, esiid=expected_esiid, esiids=dict(usage_points or {}) or None)
        if next(members, None) is not None:
            # Two feeds would both name "RetailCustomer/1/UsagePoint/1": one mapping cannot tell them apart.
            raise parser.FileRejected(
                "the zip holds a Green Button file and other members; send each Green Button file on its own "
                "(plain, or alone in its zip)"
            )
    finally:
        members.close()
    stats.reset()
    for name in ("rows_read", "valid", "consumption_wh", "generation_wh", "ts_min", "ts_max", "invalid"):
        setattr(stats, name, getattr(read.stats, name))
    stats.notes = list(read.notes)
    yield from read.rows
