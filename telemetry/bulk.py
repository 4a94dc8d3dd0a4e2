"""Set-based writes for thousands of rows a second on PostgreSQL: one array per column through
unnest(), so a statement has a handful of parameters however many rows it carries (psycopg's
client-side parameter splitting of 10,000-placeholder statements costs more than the write)."""

from collections.abc import Sequence

from django.db import connection


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def unnest(casts: Sequence[str]) -> str:
    return "SELECT * FROM unnest(" + ", ".join(f"%s::{cast}[]" for cast in casts) + ")"


def columns(rows: Sequence[Sequence], width: int) -> list[list]:
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in range(width)]


def execute(sql: str, rows: Sequence[Sequence], casts: Sequence[str], *, returning: bool = False) -> list[tuple]:
    """`sql` holds one {rows} where the unnest() SELECT goes."""
    with connection.cursor() as cursor:
        cursor.execute(sql.format(rows=unnest(casts)), columns(rows, len(casts)))
        return cursor.fetchall() if returning else []
