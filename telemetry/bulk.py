"""Set-based writes for thousands of rows a second on PostgreSQL: one array per column through
unnest(), so a statement has a handful of parameters however many rows it carries (psycopg's
client-side parameter splitting of 10,000-placeholder statements costs more than the write)."""

from collections.abc import Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal

from django.db import connection
from psycopg.types.datetime import TimestamptzLoader


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def unnest(casts: Sequence[str]) -> str:
    return "SELECT * FROM unnest(" + ", ".join(f"%s::{cast}[]" for cast in casts) + ")"


def array_literal(values: Sequence) -> str:
    """A PostgreSQL array literal ('{1,NULL,"a \\"b\\""}'): psycopg's own list adaptation
    dumps element by element in Python and took a tenth of the ingest time. A column holds one
    type, so the common ones take one comprehension; repeated times and texts are formatted once."""
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if len(kinds) == 1:
        kind = kinds.pop()
        if kind is int or kind is float:
            return "{" + ",".join(["NULL" if v is None else repr(v) for v in values]) + "}"
        if kind is datetime:
            return _each_once(values, lambda v: f'"{v.isoformat()}"')
        if kind is str:
            return _each_once(values, lambda v: '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"')
        if kind is bool:
            return "{" + ",".join(["NULL" if v is None else ("t" if v else "f") for v in values]) + "}"
    return "{" + ",".join([_element(value) for value in values]) + "}"


def _each_once(values: Sequence, element) -> str:
    text = {v: element(v) for v in set(values) if v is not None}
    text[None] = "NULL"
    return "{" + ",".join([text[v] for v in values]) + "}"


def _element(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, date):  # datetimes too
        return f'"{value.isoformat()}"'
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def columns(rows: Sequence[Sequence], width: int) -> list[str]:
    found = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]
    return [array_literal(column) for column in found]


def execute(sql: str, rows: Sequence[Sequence], casts: Sequence[str], *, returning: bool = False) -> list[tuple]:
    """`sql` holds one {rows} where the unnest() SELECT goes."""
    with connection.cursor() as cursor:
        cursor.execute(sql.format(rows=unnest(casts)), columns(rows, len(casts)))
        return cursor.fetchall() if returning else []


@contextmanager
def reading_cursor():
    """A cursor whose timestamps come straight from psycopg's C loader. Django wraps that loader
    in a Python call per value only to swap one UTC tzinfo for another, a tenth of the ledger's
    Python time when it reads thousands of rows a batch; the values are the same instants."""
    with connection.cursor() as cursor:
        cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        yield cursor
