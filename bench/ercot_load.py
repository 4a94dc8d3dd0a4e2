"""ERCOT FUL extract load: rows/s into EsiidRecord beside a raw COPY of the same rows.

    DATABASE_URL=postgres://... .venv/bin/python bench/ercot_load.py [--rows 5000000]

Generates a FUL extract CSV (22 quoted columns, ~10 % of rows with a quoted comma; with
--duplicates a few repeated ESIIDs), then in one run and one throw-away database (test_<name>, created and
dropped here):
- raw COPY (with --repeat N, N times interleaved with the FUL into an empty table; the best of each counts): the CSV bytes streamed into an unindexed table of 22 text columns (the floor),
  and into a table shaped like ercot_esiid_record, with its key and ZIP index;
- EsiidRecord, FUL into an empty table: `esiid_csv_load` as the ingest runs a FUL file (staging
  COPY, then a plain INSERT ... SELECT with the indexes built after it);
- EsiidRecord, FUL over a full table: the same file again, posted a month later, every row
  replaced (a FUL over last month's);
- EsiidRecord, upsert path into an empty table: the same file loaded as a DAILY file is
  (staging COPY, INSERT ... ON CONFLICT), the path FUL files took before;
- EsiidRecord, empty table, through the row-by-row path that legacy or dirty files take
  (left out with --skip-row-path).
Prints a markdown table.
"""

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("ALLOWED_HOSTS", "*")

import django  # noqa: E402

STREETS = ["MAIN ST", "ELM ST", "BOXWOOD DR", "OAK AVE", "PRESTON RD", "BELT LINE RD", "CAMP BOWIE BLVD"]
CITIES = [("DALLAS", "752"), ("FORT WORTH", "761"), ("PLANO", "750"), ("ARLINGTON", "760"), ("WACO", "767")]


def generate(path: Path, rows: int, *, duplicates: bool) -> int:
    """A FUL-shaped Oncor extract; returns its size in bytes."""
    rng = random.Random(203)
    with open(path, "w", newline="") as out:
        buffer = []
        for i in range(rows):
            # Every 100 000th row repeats an earlier ESIID (the Oncor FUL file has such a duplicate).
            esiid = f"1044372{(i - 1 if duplicates and i % 100_000 == 99_999 else i):010d}"
            city, zip3 = CITIES[i % len(CITIES)]
            orders = '"06/01/2026,Move In"' if i % 10 == 0 else ""
            unit = f'"APT {i % 300}"' if i % 4 == 0 else ""
            status = "Active" if i % 20 else "De-Energized"
            buffer.append(
                f'"{esiid}","{rng.randint(1, 9999)} {STREETS[i % len(STREETS)]}",{unit},"{city}","TX",'
                f'"{zip3}{i % 100:02d}{i % 10000:04d}","DALLAS","1039940674000","{i % 20 + 1:02d}","{status}",'
                f'"Residential","ERCOT","_CD","STATION {i % 500}","Y",{orders},"Residential","Y","AMSM","N",,\n'
            )
            if len(buffer) == 50_000:
                out.write("".join(buffer))
                buffer = []
        out.write("".join(buffer))
    return path.stat().st_size


def raw_copy(connection, path: Path, *, keyed: bool) -> float:
    """COPY the CSV bytes as they are: into 22 text columns, or into a copy of EsiidRecord's table."""
    from ercot.extract import COLUMNS

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_copy")
        if keyed:  # same columns, key and index as ercot_esiid_record
            cursor.execute("CREATE TABLE bench_raw_copy (LIKE ercot_esiid_record INCLUDING INDEXES)")
            cursor.execute("ALTER TABLE bench_raw_copy ALTER tdsp SET DEFAULT '', ALTER posted_at SET DEFAULT now()")
            options = f"FORMAT csv, FORCE_NOT_NULL ({', '.join(COLUMNS)})"
            target = f"bench_raw_copy ({', '.join(COLUMNS)})"
        else:
            cursor.execute(f"CREATE TABLE bench_raw_copy ({', '.join(f'c{i} text' for i in range(22))})")
            options, target = "FORMAT csv", "bench_raw_copy"
        started = time.perf_counter()
        with open(path, "rb") as source, cursor.cursor.copy(f"COPY {target} FROM STDIN ({options})") as copy:
            while chunk := source.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_raw_copy")
    return elapsed


def esiid_load(path: Path, posted_at: datetime, *, kind: str = "FUL", row_by_row: bool = False) -> float:
    """The ingest's own load of one extract CSV (ercot.esiids), timed."""
    from django.db import transaction

    from ercot import esiids, extract

    errors = extract.RowErrors()
    started = time.perf_counter()
    with open(path, "rb") as source, transaction.atomic():
        if row_by_row:  # the path for legacy or dirty files: Python parses and checks every row
            esiids.esiid_records_load(
                records=extract.iter_records(source, errors), tdsp="ONCOR_ELEC", posted_at=posted_at, ingest_id=None
            )
        else:
            esiids.esiid_csv_load(
                fileobj=source,
                member=path.name,
                errors=errors,
                tdsp="ONCOR_ELEC",
                posted_at=posted_at,
                ingest_id=None,
                kind=kind,
                size=path.stat().st_size,
            )
    elapsed = time.perf_counter() - started
    assert errors.count == 0, errors.rows
    return elapsed


def empty_table(connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE ercot_esiid_record")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument(
        "--duplicates",
        action="store_true",
        help="repeat an ESIID every 100 000 rows (as Oncor's FUL file does once); no keyed raw COPY then",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="time the raw COPY and the FUL into an empty table this many times, interleaved; the best counts",
    )
    parser.add_argument("--skip-row-path", action="store_true", help="leave out the (slowest) row-by-row load")
    args = parser.parse_args()
    duplicates = args.duplicates
    django.setup()
    import logging

    from django.db import connection

    logging.getLogger("ercot").setLevel(logging.WARNING)  # keep the output to the table

    if connection.vendor != "postgresql":
        sys.exit("set DATABASE_URL to a PostgreSQL server: the benchmark compares against COPY")
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "ONCOR_ELEC___FUL.csv"
            size = generate(path, args.rows, duplicates=duplicates)
            from ercot.models import EsiidRecord

            june, july = datetime(2026, 6, 1, 23, tzinfo=UTC), datetime(2026, 7, 1, 23, tzinfo=UTC)
            raws, empties = [], []
            for attempt in range(args.repeat):  # interleaved, so both see the same machine load
                if attempt:
                    empty_table(connection)
                raws.append(raw_copy(connection, path, keyed=False))
                empties.append(esiid_load(path, june))
            raw, empty = min(raws), min(empties)
            if not duplicates:
                keyed = raw_copy(connection, path, keyed=True)
            stored = EsiidRecord.objects.count()
            again = esiid_load(path, july)
            assert EsiidRecord.objects.filter(posted_at=july).count() == stored
            empty_table(connection)
            upsert = esiid_load(path, june, kind="DAILY")
            assert EsiidRecord.objects.count() == stored
            slow = None
            if not args.skip_row_path:
                empty_table(connection)
                slow = esiid_load(path, june, row_by_row=True)
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)
    rows = args.rows
    print(
        f"ERCOT FUL load, {rows:,} rows ({size / 1e6:,.0f} MB CSV, {stored:,} distinct ESIIDs), PostgreSQL {connection.pg_version // 10000}\n"
    )
    if args.repeat > 1:
        print(
            f"best of {args.repeat}: raw COPY {', '.join(f'{t:.1f}' for t in raws)} s; "
            f"FUL into an empty table {', '.join(f'{t:.1f}' for t in empties)} s\n"
        )
    print("| load | seconds | rows/s | × raw COPY | × keyed raw COPY |")
    print("|---|---:|---:|---:|---:|")
    keyed_row = [] if duplicates else [("raw COPY into a copy of ercot_esiid_record (key + ZIP index)", keyed)]
    slow_row = [] if slow is None else [("EsiidRecord, empty table, row-by-row path (legacy or dirty files)", slow)]
    for label, seconds in [
        ("raw COPY into 22 text columns, no key", raw),
        *keyed_row,
        ("EsiidRecord, FUL into an empty table (ercot.ingest)", empty),
        ("EsiidRecord, FUL over last month's FUL: every row replaced", again),
        ("EsiidRecord, upsert path (DAILY; FUL files before), empty table", upsert),
        *slow_row,
    ]:
        versus_keyed = "–" if duplicates else f"{keyed / seconds:.2f}"
        print(f"| {label} | {seconds:,.1f} | {rows / seconds:,.0f} | {raw / seconds:.2f} | {versus_keyed} |")


if __name__ == "__main__":
    main()
