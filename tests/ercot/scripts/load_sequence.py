"""Load extract CSVs into EsiidRecord in the given order; print the table as JSON.

Run in-process by the parity test on PostgreSQL, and as a script on SQLite:
    python tests/ercot/scripts/load_sequence.py <posted-iso>=<csv> ...
"""

import json
import os
import sys
from datetime import datetime


def run(files: list[tuple[str, str]]) -> list[list]:
    from django.db import transaction

    from ercot import esiids, extract
    from ercot.models import EsiidRecord

    loaded = []
    for posted, path in files:
        errors = extract.RowErrors()
        with open(path, "rb") as fileobj, transaction.atomic():
            result = esiids.esiid_csv_load(
                fileobj=fileobj,
                member=os.path.basename(path),
                errors=errors,
                tdsp="ONCOR_ELEC",
                posted_at=datetime.fromisoformat(posted),
                ingest_id=None,
            )
        loaded.append([result.read, result.written])
    fields = ["esiid", *extract.COLUMNS[1:], "tdsp"]
    return {
        "table": [list(row) for row in EsiidRecord.objects.order_by("esiid").values_list(*fields)],
        "loaded": loaded,
    }


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    import django

    django.setup()
    print(json.dumps(run([tuple(arg.split("=", 1)) for arg in sys.argv[1:]])))
