"""The SQLite row path gives the same master table as PostgreSQL's COPY and row paths."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.ercot.conftest import SAMPLE_ROWS, extract_row
from tests.ercot.scripts import load_sequence

pytestmark = pytest.mark.django_db(transaction=True)


def test_sqlite_and_postgresql_build_the_same_master_table_and_count_the_same_rows(tmp_path):
    ful = tmp_path / "ful.csv"
    ful.write_text(SAMPLE_ROWS + extract_row("10443720000000001") + extract_row("10443720000000002", status="Inactive"))
    daily = tmp_path / "daily.csv"  # a legacy 19-column row: the row path on PostgreSQL too
    daily.write_text(
        '"10443720000000002","2 ELM ST",,"DALLAS","TX","75001","1039940674000","07","Active",'
        '"Residential","ERCOT","_CD","S","Y",,"Residential","Y","AMSM","N"\n'
    )
    older = tmp_path / "older.csv"
    older.write_text(extract_row("10443720000000001", status="De-Energized"))
    files = [
        ("2026-06-02T10:52:19+00:00", str(daily)),
        ("2026-06-01T23:11:58+00:00", str(ful)),
        ("2026-05-01T23:11:58+00:00", str(older)),
    ]  # applied newest first: older postings change nothing
    on_postgres = load_sequence.run(files)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'parity.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [sys.executable, str(Path(load_sequence.__file__))] + [f"{p}={f}" for p, f in files],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    on_sqlite = json.loads(out.strip().splitlines()[-1])
    assert on_sqlite["table"] == on_postgres["table"]
    # Rows read agree; rows written leave out the upserts an older posting skipped on both. The FUL
    # file repeats one ESIID three times: COPY keeps its last row (one write), the row path writes each.
    assert on_postgres["loaded"] == [[1, 1], [5, 2], [1, 0]]
    assert on_sqlite["loaded"] == [[1, 1], [5, 4], [1, 0]]
    statuses = {row[0]: row[9] for row in on_postgres["table"]}
    assert statuses == {
        "1008901023817895470106": "Active",
        "10443720000000001": "Active",
        "10443720000000002": "Active",
    }
