"""The SMT trust boundary: what a raw file may become and which ESIIDs it may write, by origin.

A raw file's origin is set once, when its bytes arrive (customer page, staff session, upload
or admin token, SFTP mirror, command line, bundle member), and travels with it to the worker.
Customer files are read here only: one reader for the upload check and for the worker, so the
rows checked at upload are the rows loaded. See docs/SECURITY.md, "Trust boundaries".
"""

from collections.abc import Iterator, Mapping
from typing import BinaryIO

from smt import interval_rows, parser
from smt.models import House, RawSmtFile

# Any armour, not only a message: a customer sends their own CSV export, never SMT's encrypted
# deliveries (which decrypt with the project's key and would load with SMT's trust).
_ARMOR_PREFIX = b"-----BEGIN PGP"


def origin_for_identity(identity: str) -> str:
    """The origin of a file sent by a request identity ("token:admin", "user:<staff>", ...)."""
    if identity.startswith("token:"):
        return RawSmtFile.Origin.TOKEN
    if identity.startswith("user:"):
        return RawSmtFile.Origin.STAFF
    return RawSmtFile.Origin.CUSTOMER


def customer_esiids(*, user) -> set[str]:
    """The ESIIDs a customer may write: their houses' ESIIDs now (none for a deleted user)."""
    if user is None:
        return set()
    return set(House.objects.filter(customer=user).values_list("esiid", flat=True))


def customer_rows(
    fileobj: BinaryIO,
    stats: parser.ParseStats,
    *,
    esiids: set[str],
    budget: parser.ContentBudget | None = None,
    expected_esiid: str | None = None,
    usage_points: Mapping[str, str] | None = None,
) -> Iterator[parser.Row]:
    """The interval rows of a customer file, each for one of `esiids`. Raises FileRejected.

    The file is an SMT CSV or a Green Button file, read by smt.interval_rows.file_rows with the
    upload's `expected_esiid` and `usage_points` (stored on the raw file for the worker).

    Refused whole, naming the line: PGP armour, a billing file, a row for an ESIID not in
    `esiids`, and rows with an implausible USAGE_DATE or REVISION_DATE (those are dropped with
    their line from SMT's own files, but from a customer they are a reason to trust none of it).
    The last check runs when the rows are exhausted, so a caller that writes as it reads must
    do so in a transaction.
    """
    head = fileobj.read(4096)
    fileobj.seek(0)
    if head.lstrip().startswith(_ARMOR_PREFIX):
        raise parser.FileRejected(
            "PGP-armoured files are not accepted from customers; upload the CSV export "
            "from smartmetertexas.com as it was downloaded"
        )
    rows = interval_rows.file_rows(fileobj, stats, budget, expected_esiid=expected_esiid, usage_points=usage_points)
    for row in rows:
        if row.esiid not in esiids:
            raise parser.FileRejected(
                f"line {row.row}: ESIID {row.esiid} is not yours; the file may only hold rows for your houses' "
                f"ESIIDs ({', '.join(sorted(esiids)) or 'none'}). Nothing was stored."
            )
        yield row
    if dated := stats.invalid.get("date"):
        raise parser.FileRejected(
            f"line {dated['rows'][0]}: {dated['messages'][0]} ({dated['count']} such row(s)). Nothing was stored."
        )
