"""Monthly range partitions of a time-series table (PostgreSQL declarative partitioning).

A partitioned table here has one partition a month, named `<table>_yYYYYmMM`, bounded at local
midnight on the 1st in the table's time zone (so a local month, and every local day, lies in
one partition; a `date` column of local days is bounded by the 1st itself), and a DEFAULT partition `<table>_default` that catches rows of a month with no
partition yet: a write never fails for want of a partition. Creating a month's partition moves
the rows the default holds for it, partition to partition, so the parent's statement triggers
(the SMT day rollup) do not see the move: the rows did not change.

Migrations turn a plain table into this layout with `table_partition`; the rest is maintenance
a schedule runs: `partitions_ensure` (months ahead, and months rows landed in the default for)
and `partitions_drop_before` (retention in whole partitions; `partitions_retire_before` then
`partitions_retired_drop` to remove the files after the commit). Edge-free: plain SQL, no ORM.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from django.db import connection, transaction


@dataclass(frozen=True)
class Layout:
    table: str
    column: str
    zone: str  # the IANA zone whose months bound the partitions
    # "date": the column holds local days already (a per-day rollup), so a bound is the 1st itself
    column_type: Literal["timestamptz", "date"] = "timestamptz"

    @property
    def default(self) -> str:
        return f"{self.table}_default"

    def name(self, month: date) -> str:
        return f"{self.table}_y{month.year}m{month.month:02d}"

    def bound(self, month: date) -> datetime | date:
        if self.column_type == "date":
            return month.replace(day=1)
        return datetime(month.year, month.month, 1, tzinfo=ZoneInfo(self.zone))

    def bound_parse(self, text: str) -> datetime | date:
        """A bound as pg_get_expr prints it: '2025-01-01 06:00:00+00', or '2025-01-01' for a date."""
        return date.fromisoformat(text) if self.column_type == "date" else datetime.fromisoformat(text)

    def month_sql(self) -> tuple[str, list[str]]:
        """The local month of a row, as an SQL expression and its parameters."""
        if self.column_type == "date":  # via timestamp: a date would go through the session's zone
            return f"date_trunc('month', \"{self.column}\"::timestamp)::date", []
        return f"date_trunc('month', \"{self.column}\" AT TIME ZONE %s)::date", [self.zone]


def month_of(moment: datetime | date, zone: str) -> date:
    if isinstance(moment, datetime):
        moment = moment.astimezone(ZoneInfo(zone)).date()
    return moment.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def months(first: date, last: date) -> list[date]:
    result, month = [], first.replace(day=1)
    while month <= last:
        result.append(month)
        month = next_month(month)
    return result


def is_partitioned(table: str) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(%s)", [table])
        row = cursor.fetchone()
    return bool(row and row[0])


def partitions_existing(layout: Layout) -> dict[str, tuple[datetime | date, datetime | date]]:
    """The monthly partitions by name, with their [lower, upper) bounds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass(%s) AND c.relname <> %s",
            [layout.table, layout.default],
        )
        rows = cursor.fetchall()
    result = {}
    for name, bound in rows:  # FOR VALUES FROM ('2025-01-01 06:00:00+00') TO ('2025-02-01 06:00:00+00')
        lower, upper = (part.split("'")[1] for part in bound.split(" TO "))
        result[name] = (layout.bound_parse(lower), layout.bound_parse(upper))
    return result


def partition_create(layout: Layout, month: date) -> bool:
    """The month's partition, with the rows the default partition held for it; False if it existed."""
    name = layout.name(month)
    lower, upper = layout.bound(month), layout.bound(next_month(month))
    with transaction.atomic(), connection.cursor() as cursor:
        # Two workers normalizing old months at once both find the partition missing: one lock
        # per table makes the second wait and then see it. The default partition is locked
        # against inserts before rows are moved out of it, so no row of the month can land there
        # between the move and the attach (which would fail the attach's constraint check); and
        # at once in the mode the attach needs, so this waits for a worker whose load has read the
        # table and is about to write into the default partition, rather than holding a weaker
        # lock that blocks its write while the attach waits for it to finish: a deadlock.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"partition-create:{layout.table}"])
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if cursor.fetchone()[0]:
            return False
        cursor.execute(f'LOCK TABLE "{layout.default}" IN ACCESS EXCLUSIVE MODE')
        # Built outside the parent, filled from the default, then attached: attaching scans the new
        # table once, and the default partition must hold no row of the month when it is attached.
        cursor.execute(f'CREATE TABLE "{name}" (LIKE "{layout.table}" INCLUDING DEFAULTS)')
        cursor.execute(
            f'WITH moved AS (DELETE FROM "{layout.default}" WHERE "{layout.column}" >= %s AND "{layout.column}" < %s'
            f' RETURNING *) INSERT INTO "{name}" SELECT * FROM moved',
            [lower, upper],
        )
        # The CHECK lets ATTACH skip its validation scan; it is redundant afterwards.
        cursor.execute(
            f'ALTER TABLE "{name}" ADD CONSTRAINT "{name}_bound" CHECK ("{layout.column}" IS NOT NULL'
            f' AND "{layout.column}" >= %s AND "{layout.column}" < %s)',
            [lower, upper],
        )
        cursor.execute(
            f'ALTER TABLE "{layout.table}" ATTACH PARTITION "{name}" FOR VALUES FROM (%s) TO (%s)', [lower, upper]
        )
        cursor.execute(f'ALTER TABLE "{name}" DROP CONSTRAINT "{name}_bound"')
    return True


def partitions_ensure(layout: Layout, *, start: datetime | date, end: datetime | date) -> list[str]:
    """Every month from start to end has its partition, and so does every month the default
    partition holds rows for (an upload of old data lands there first). Returns the names created."""
    wanted = set(months(month_of(start, layout.zone), month_of(end, layout.zone)))
    month, params = layout.month_sql()
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT DISTINCT {month} FROM "{layout.default}"', params)
        wanted |= {month for (month,) in cursor.fetchall()}
    return [layout.name(month) for month in sorted(wanted) if partition_create(layout, month)]


RETIRED = "_retired"  # a detached month's table, renamed, until partitions_retired_drop removes it


def partitions_drop_before(
    layout: Layout, *, cutoff: datetime | date, keep: Callable[[str], bool] | None = None
) -> list[tuple[str, datetime | date, datetime | date]]:
    """Drop the partitions that end at or before the cutoff (a date for a date column), whole
    (constant time, no dead rows), except those `keep(name)` says to keep, all in the caller's
    transaction. Returns (name, lower, upper) of each, for the caller to settle what the rows fed.
    The rows of the partition holding the cutoff (and of the ones kept) are the caller's to
    DELETE through the parent."""
    retired = partitions_retire_before(layout, cutoff=cutoff, keep=keep)
    partitions_retired_drop(layout)
    return retired


def partitions_retire_before(
    layout: Layout, *, cutoff: datetime | date, keep: Callable[[str], bool] | None = None
) -> list[tuple[str, datetime | date, datetime | date]]:
    """Detach the partitions partitions_drop_before would drop and rename each `<name>_retired`:
    their rows leave the table when the caller's transaction commits, and the caller calls
    partitions_retired_drop after that commit. Removing a month's files takes the filesystem
    time that grows with their size (0.3 s per GB measured here, docs/PERFORMANCE.md), and at a
    DROP inside this transaction the parent's ACCESS EXCLUSIVE lock, which every reader of the
    table waits on, would be held through it. The rename frees the month's name at once, so
    old data loaded again makes a fresh partition."""
    retired = []
    for name, (lower, upper) in sorted(partitions_existing(layout).items(), key=lambda item: item[1]):
        if upper > cutoff or (keep is not None and keep(name)):
            continue
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER TABLE "{layout.table}" DETACH PARTITION "{name}"')
            # A month retired before whose removal a crash cut short, made again and retired again.
            cursor.execute(f'DROP TABLE IF EXISTS "{name}{RETIRED}"')
            cursor.execute(f'ALTER TABLE "{name}" RENAME TO "{name}{RETIRED}"')
        retired.append((name, lower, upper))
    return retired


def partitions_retired_drop(layout: Layout) -> list[str]:
    """Drop the layout's retired months (and any a crash between the commit and this call left),
    each in a transaction of its own when called outside one: only that table is locked."""
    pattern = f"^{layout.table}_y[0-9]{{4}}m[0-9]{{2}}{RETIRED}$"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' AND NOT c.relispartition"
            " AND c.relnamespace = current_schema()::regnamespace AND c.relname ~ %s ORDER BY 1",
            [pattern],
        )
        names = [name for (name,) in cursor.fetchall()]
    for name in names:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
    return names


def table_partition(schema_editor, layout: Layout, *, key: list[str], ahead_months: int = 3) -> None:
    """Turn the plain table into a partitioned one (a migration step): same columns, constraint
    and index names; the primary key becomes `key`, (id, column) for a table with an id, because
    PostgreSQL requires the partition key in every unique key. A table without an id column (a
    rollup keyed by what it sums) needs no sequence. Triggers are the caller's to create again."""
    table, old = layout.table, f"{layout.table}_unpartitioned"
    constraints, indexes = _definitions(schema_editor, table)
    ids = _has_id(schema_editor, table)
    run = schema_editor.execute
    run(f'ALTER TABLE "{table}" RENAME TO "{old}"')
    run(f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS) PARTITION BY RANGE ("{layout.column}")')
    if ids:
        _identity_to_sequence(schema_editor, table, old)
    run(f'CREATE TABLE "{layout.default}" PARTITION OF "{table}" DEFAULT')
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f'SELECT min("{layout.column}") FROM "{old}"')
        first = cursor.fetchone()[0]
    now = datetime.now(ZoneInfo(layout.zone))
    last = month_of(now, layout.zone)
    for _ in range(ahead_months):
        last = next_month(last)
    for month in months(month_of(first or now, layout.zone), last):
        partition_create(layout, month)
    run(f'INSERT INTO "{table}" SELECT * FROM "{old}"')
    run(f'DROP TABLE "{old}"')
    if ids:
        run(f'ALTER SEQUENCE "{table}_new_id_seq" RENAME TO "{table}_id_seq"')
    for name, definition in constraints:
        if definition.startswith("PRIMARY KEY"):
            definition = f"PRIMARY KEY ({', '.join(key)})"
        run(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    for definition in indexes:
        run(definition)


def table_unpartition(schema_editor, layout: Layout, *, key: list[str] | None = None) -> None:
    """The reverse of table_partition: one plain table again, primary key `key` (id alone by
    default)."""
    table, old = layout.table, f"{layout.table}_partitioned"
    constraints, indexes = _definitions(schema_editor, table)
    ids = _has_id(schema_editor, table)
    run = schema_editor.execute
    run(f'ALTER TABLE "{table}" RENAME TO "{old}"')
    if ids:
        run(f'ALTER SEQUENCE "{table}_id_seq" RENAME TO "{table}_new_id_seq"')
    run(f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS)')
    if ids:
        run(f'ALTER SEQUENCE "{table}_new_id_seq" OWNED BY "{table}".id')
    run(f'INSERT INTO "{table}" SELECT * FROM "{old}"')
    run(f'DROP TABLE "{old}" CASCADE')
    if ids:
        run(f'ALTER SEQUENCE "{table}_new_id_seq" RENAME TO "{table}_id_seq"')
    for name, definition in constraints:
        if definition.startswith("PRIMARY KEY"):
            definition = f"PRIMARY KEY ({', '.join(key or ['id'])})"
        run(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    for definition in indexes:
        run(definition.replace(" ON ONLY ", " ON "))


def _definitions(schema_editor, table: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The table's constraints (name, definition) and its other indexes' CREATE statements, taken
    before a rename so they can be made again under the same names."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass"
            " AND contype IN ('p', 'u', 'f') ORDER BY contype DESC, conname",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN"
            " (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass) ORDER BY indexname",
            [table, table],
        )
        indexes = [definition for (definition,) in cursor.fetchall()]
    return constraints, indexes


def _has_id(schema_editor, table: str) -> bool:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'id' AND NOT attisdropped", [table]
        )
        return cursor.fetchone() is not None


def _identity_to_sequence(schema_editor, table: str, old: str) -> None:
    """PostgreSQL 15 allows no identity column on a partitioned table: a sequence default instead,
    owned by the column (Django's sequence reset finds it), continuing after the last id."""
    run = schema_editor.execute
    run(f'CREATE SEQUENCE "{table}_new_id_seq"')
    run(f'ALTER TABLE "{table}" ALTER COLUMN id SET DEFAULT nextval(\'"{table}_new_id_seq"\')')
    run(f'ALTER SEQUENCE "{table}_new_id_seq" OWNED BY "{table}".id')
    run(f'SELECT setval(\'"{table}_new_id_seq"\', coalesce((SELECT max(id) FROM "{old}"), 0) + 1, false)')
