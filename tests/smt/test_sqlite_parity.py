"""The embedded SQLite path gives the same stats and rows as PostgreSQL."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SMT_SAMPLES
from tests.smt.scripts import ingest_sequence

pytestmark = pytest.mark.django_db


def test_sqlite_and_postgresql_give_the_same_results(tmp_path):
    revised = tmp_path / "revised.csv"
    text = (SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv").read_text()
    revised.write_text(text.replace("12/15/2025 07:38:23", "12/16/2025 08:00:00").replace(",E,", ",A,"))
    # A customer's newer revision of the same day with other values: it must not replace SMT's rows.
    tampered = tmp_path / "customer.csv"
    tampered.write_text(text.replace("12/15/2025 07:38:23", "12/20/2025 08:00:00").replace(",0.", ",9."))
    year_one = tmp_path / "year-one.csv"  # one row dated 06/01/0001: refused by line on both paths
    year_one.write_text(
        text.replace("12/14/2025", "06/01/0001", 1).replace("12/15/2025 07:38:23", "12/15/2025 07:38:24")
    )
    # SMT's same revision again with other values: a conflict, counted, and the stored rows kept.
    conflicting = tmp_path / "conflicting.csv"
    revised_text = revised.read_text()
    conflicting.write_text(revised_text.replace(",0.3", ",0.9"))
    paths = (
        [str(revised)]
        + [
            str(SMT_SAMPLES / name)
            for name in (
                "portal-IntervalData-2025-12-14-estimated.csv",  # older revision after a newer one: no change
                "IntervalMeterUsage202512152104279823F4F9339E4024C89B21685CA1223B8AEEML.CSV",
                "portal-IntervalData-2022-excerpt.csv",
                "excel-resaved-IntervalData-excerpt.csv",
            )
        ]
        + [f"customer:{tampered}", str(year_one), str(conflicting)]
    )
    on_postgres = json.loads(json.dumps(ingest_sequence.run(paths)))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'parity.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [sys.executable, str(Path(ingest_sequence.__file__))] + paths,
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    on_sqlite = json.loads(out.strip().splitlines()[-1])
    assert on_sqlite["stats"] == on_postgres["stats"]
    assert [tuple(r) for r in on_sqlite["rows"]] == [tuple(r) for r in on_postgres["rows"]]
    assert on_sqlite["summary"] == on_postgres["summary"]
    hole = next(d for d in on_postgres["summary"] if d["date"] == "2025-12-14")
    assert hole["found"] == 92 and hole["gaps"] == [
        {"start": "2025-12-14T16:00:00Z", "end": "2025-12-14T17:00:00Z", "intervals": 4}
    ]
    assert on_postgres["stats"][1]["intervalsUpdated"] == 0 and on_postgres["stats"][1]["duplicatesSkipped"] == 96
    assert sum(1 for r in on_postgres["rows"] if r[4] == "estimated") == 7  # the revision replaced the 16 E rows
    assert on_postgres["stats"][5]["intervalsUpdated"] == 0 and not any(
        r[3].startswith("9.") for r in on_postgres["rows"]
    )
    assert on_postgres["stats"][6]["invalidCount"] == 1 and not any(r[2] < "2020" for r in on_postgres["rows"])
    changed = sum(1 for line in revised_text.splitlines() if ",0.3" in line)
    assert (
        changed
        and on_postgres["stats"][7]["conflicting"] == changed
        and on_postgres["stats"][7]["intervalsUpdated"] == 0
    )
    example = on_postgres["stats"][7]["conflictExamples"][0]
    assert example["keptKwh"].startswith("0.3") and example["fileKwh"].startswith("0.9") and example["row"] >= 2
    assert all(stats["conflicting"] == 0 for stats in on_postgres["stats"][:7])
