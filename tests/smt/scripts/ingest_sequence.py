"""Run a fixed sequence of ingests and print stats plus final rows as JSON (for parity tests)."""

import hashlib
import io
import json
import sys

import django

django.setup()

from smt import ingest  # noqa: E402
from smt.models import SmtInterval  # noqa: E402


def run(paths: list[str]) -> dict:
    results = []
    for path in paths:
        data = open(path, "rb").read()
        stored = ingest.raw_file_store(fileobj=io.BytesIO(data), sha256=hashlib.sha256(data).hexdigest(), size=len(data), filename=path.rsplit("/", 1)[-1])
        stats = ingest.raw_file_normalize(raw_file=stored.raw_file)
        results.append({k: stats[k] for k in ("intervalsInserted", "intervalsUpdated", "duplicatesSkipped", "duplicatesInFile", "totalKwh", "tsMin", "tsMax", "invalidCount")})
    rows = sorted(
        (r.esiid, r.channel, r.ts.isoformat(), str(r.kwh), r.quality, r.revised_at.isoformat() if r.revised_at else None)
        for r in SmtInterval.objects.all()
    )
    return {"stats": results, "rows": rows}


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1:])))
