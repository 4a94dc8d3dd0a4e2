"""What spreadsheets do to SMT exports, undone before the parser reads them.

Excel's "Unicode text" save is UTF-16 with tabs; any re-save can turn the 17-digit ESIID into
scientific notation (`1.04437E+16`), which loses digits. `spreadsheet_open` streams such a file
back into the UTF-8 comma form `smt.parser` reads, and says what it did, for the result message.
Files that need nothing are handed back untouched.
"""

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import BinaryIO

from smt.parser import FileRejected

HEAD_BYTES = 64 * 1024
_SCIENTIFIC = re.compile(r"^'?(\d)(?:\.(\d+))?[eE]\+?(\d{1,2})$")
FIX_HINT = (
    "in the spreadsheet, format the ESIID column as Text (or Number with 0 decimals), type the full "
    "17- or 22-digit ESIID back in, and save as CSV again; or name the ESIID with the upload"
)


@dataclass
class SpreadsheetFixes:
    """What `spreadsheet_open` changed. `esiid_rows` fills in as the stream is read."""

    encoding: str = "utf-8"  # or "utf-16"
    delimiter: str = ","  # or "\t"
    esiid: str | None = None  # the ESIID scientific-notation cells were read as
    esiid_rows: int = 0

    def messages(self) -> list[str]:
        said = []
        if self.encoding == "utf-16":
            said.append("read as UTF-16 text (a spreadsheet's Unicode save)")
        if self.delimiter == "\t":
            said.append("tab-separated columns read as commas")
        if self.esiid_rows:
            said.append(
                f"an ESIID in scientific notation on {self.esiid_rows} rows was read as {self.esiid}, "
                "the upload's ESIID, whose digits it agrees with"
            )
        return said


def esiid_scientific_resolve(text: str, *, expected: str | None, row: int) -> str | None:
    """The ESIID a scientific-notation cell stands for, or None when `text` is not one.

    Only `expected` can be the answer (the digits are gone): it must have as many digits as the
    exponent says and round to the same mantissa. Otherwise raises FileRejected saying how to fix it.
    """
    match = _SCIENTIFIC.match(text.strip())
    if not match:
        return None
    shown = text.strip()
    if expected is None:
        raise FileRejected(
            f"row {row}: ESIID {shown!r} is in scientific notation, so a spreadsheet has rounded "
            f"away its digits; {FIX_HINT}"
        )
    mantissa = Decimal(f"{match[1]}.{match[2] or '0'}")
    places = len(match[2] or "")
    rounded = Decimal(f"{expected[0]}.{expected[1:]}").quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if len(expected) != int(match[3]) + 1 or rounded != mantissa:
        raise FileRejected(
            f"row {row}: ESIID {shown!r} (scientific notation, from a spreadsheet) does not agree with "
            f"the upload's ESIID {expected}; {FIX_HINT}"
        )
    return expected


def spreadsheet_open(fileobj: BinaryIO, *, expected_esiid: str | None = None) -> tuple[BinaryIO, SpreadsheetFixes]:
    """A stream of the file in UTF-8 with commas, and what was changed to get it.

    `fileobj` must be seekable (a stored upload is). When nothing needs changing, the same
    file comes back, rewound. ESIID problems raise FileRejected while the stream is read.
    """
    head = fileobj.read(HEAD_BYTES)
    fileobj.seek(0)
    fixes = SpreadsheetFixes(encoding="utf-16" if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8")
    try:
        text = head.decode("utf-16" if fixes.encoding == "utf-16" else "utf-8-sig", errors="ignore")
    except UnicodeError:
        return fileobj, fixes
    header, first = _head_lines(text)
    if "\t" in header and "," not in header:
        fixes.delimiter = "\t"
    column = _esiid_column(header, fixes.delimiter)
    first_esiid = _cell(first, fixes.delimiter, column)
    if fixes.encoding == "utf-8" and fixes.delimiter == "," and not _SCIENTIFIC.match(first_esiid.strip()):
        return fileobj, fixes
    fixes.esiid = expected_esiid

    def restart() -> Iterator[bytes]:
        fileobj.seek(0)
        fixes.esiid_rows = 0
        return _rewrite(fileobj, fixes, expected_esiid)

    return io.BufferedReader(_Lines(restart)), fixes


def _head_lines(text: str) -> tuple[str, str]:
    lines = [line for line in text.splitlines() if line.strip()]
    header = next((line for line in lines if "ESIID" in line.upper()), "")
    after = lines[lines.index(header) + 1 :] if header else []
    return header, (after[0] if after else "")


def _esiid_column(header: str, delimiter: str) -> int | None:
    cells = [cell.strip().strip('"').upper() for cell in next(csv.reader([header], delimiter=delimiter), [])]
    return cells.index("ESIID") if "ESIID" in cells else None


def _cell(line: str, delimiter: str, column: int | None) -> str:
    cells = next(csv.reader([line], delimiter=delimiter), []) if line else []
    return cells[column] if column is not None and column < len(cells) else ""


def _rewrite(fileobj: BinaryIO, fixes: SpreadsheetFixes, expected: str | None) -> Iterator[bytes]:
    encoding = "utf-16" if fixes.encoding == "utf-16" else "utf-8-sig"
    text = io.TextIOWrapper(_Unclosed(fileobj), encoding=encoding, errors="strict", newline="")
    column, number = None, 0
    try:
        for number, line in enumerate(text, start=1):
            if column is None:
                column = _esiid_column(line, fixes.delimiter)
                yield _comma_line(line, fixes.delimiter).encode()
                continue
            yield _data_line(line, number, column, fixes, expected).encode()
    except UnicodeDecodeError:
        raise FileRejected(
            f"line {number + 1} is not valid {fixes.encoding.upper()} text; save the file as CSV UTF-8"
        ) from None


def _comma_line(line: str, delimiter: str) -> str:
    if delimiter == ",":
        return line
    body = line.rstrip("\r\n")
    out = io.StringIO()
    csv.writer(out, lineterminator=line[len(body) :]).writerow(next(csv.reader([body], delimiter=delimiter), []))
    return out.getvalue()


def _data_line(line: str, number: int, column: int, fixes: SpreadsheetFixes, expected: str | None) -> str:
    body = line.rstrip("\r\n")
    cells = next(csv.reader([body], delimiter=fixes.delimiter), [])
    resolved = esiid_scientific_resolve(cells[column], expected=expected, row=number) if column < len(cells) else None
    if resolved is None:
        return _comma_line(line, fixes.delimiter)
    fixes.esiid_rows += 1
    cells[column] = resolved
    out = io.StringIO()
    csv.writer(out, lineterminator=line[len(body) :]).writerow(cells)
    return out.getvalue()


class _Unclosed(io.RawIOBase):
    """Reads through to the caller's file without closing it when the wrappers go."""

    def __init__(self, inner: BinaryIO):
        self.inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Lines(io.RawIOBase):
    """A binary stream over rewritten lines. Seeking back to the start runs the rewrite again:
    the parser rewinds a file to sniff it, and reads it twice for a second pass."""

    def __init__(self, restart: Callable[[], Iterator[bytes]]):
        self.restart = restart
        self.chunks, self.pending, self.position = restart(), bytearray(), 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if (offset, whence) not in ((0, io.SEEK_SET), (0, io.SEEK_CUR)):
            raise io.UnsupportedOperation("a rewritten spreadsheet can only be rewound to its start")
        if whence == io.SEEK_SET:
            self.chunks, self.pending, self.position = self.restart(), bytearray(), 0
        return self.position

    def readinto(self, buffer) -> int:
        while len(self.pending) < len(buffer):
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.pending += chunk
        count = min(len(buffer), len(self.pending))
        buffer[:count] = self.pending[:count]
        del self.pending[:count]
        self.position += count
        return count
