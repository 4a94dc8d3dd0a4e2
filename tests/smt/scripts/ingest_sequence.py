"""Run a fixed sequence of ingests and print stats plus final rows as JSON (for parity tests)."""

import hashlib
import io
import json
import sys

import django

django.setup()

from datetime import UTC

from smt import normalize, storage  # noqa: E402
from smt.models import SmtInterval  # noqa: E402


def run(paths: list[str]) -> dict:
    results = []
    for path in paths:
        # "customer:<path>": uploaded by a customer owning the sample ESIID (the precedence rule).
        customer = path.startswith("customer:")
        path = path.removeprefix("customer:")
        data = open(path, "rb").read()
        stored = storage.raw_file_store(
            fileobj=io.BytesIO(data),
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            filename=path.rsplit("/", 1)[-1],
            origin="customer" if customer else "staff",
            uploaded_by=_customer() if customer else None,
        )
        stats = normalize.raw_file_normalize(raw_file=stored.raw_file)
        results.append(
            {
                k: stats[k]
                for k in (
                    "intervalsInserted",
                    "intervalsUpdated",
                    "duplicatesSkipped",
                    "duplicatesInFile",
                    "totalKwh",
                    "tsMin",
                    "tsMax",
                    "invalidCount",
                    "conflicting",
                    "conflictExamples",
                )
            }
        )
    rows = sorted(
        (
            r.esiid,
            r.channel,
            r.ts.isoformat(),
            str(r.kwh),
            r.quality,
            r.revised_at.isoformat() if r.revised_at else None,
        )
        for r in SmtInterval.objects.all()
    )
    # The daily summary (PostgreSQL reads trigger-kept totals, SQLite scans): a whole day and a day
    # with a hole cut by an audited deletion, same results on both.
    from datetime import date, datetime

    from smt import usage

    usage.intervals_delete(
        esiid="10443720000000002",
        meter="unknown",
        start=datetime(2025, 12, 14, 16, tzinfo=UTC),
        end=datetime(2025, 12, 14, 17, tzinfo=UTC),
        actor="parity",
    )
    summary = [
        d.as_json()
        for d in usage.daily_summary(esiid="10443720000000002", start=date(2025, 12, 13), end=date(2025, 12, 15))
    ]
    return {"stats": results, "rows": rows, "summary": summary}


def _customer():
    from django.contrib.auth import get_user_model

    from smt.models import House

    user, _ = get_user_model().objects.get_or_create(username="parity-customer")
    House.objects.get_or_create(customer=user, esiid="10443720000000002", defaults={"name": "Parity"})
    return user


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1:])))
