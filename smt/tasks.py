"""django-q2 entry points: thin wrappers around smt.ingest."""

from smt import ingest
from smt.models import RawSmtFile


def raw_file_normalize(raw_id: int) -> dict | None:
    raw = RawSmtFile.objects.filter(pk=raw_id).first()
    if raw is None or raw.status == RawSmtFile.Status.NORMALIZED:
        return None  # deleted, or a retry of work that already finished
    return ingest.raw_file_normalize(raw_file=raw)


def raw_files_requeue_stranded() -> int:
    return ingest.raw_files_requeue_stranded()
