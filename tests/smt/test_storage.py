"""smt.storage: raw bytes stored once per sha256, under keys that never trust the file name."""

import hashlib
import io

import pytest

from smt import storage
from smt.models import RawSmtFile
from tests.conftest import SMT_SAMPLES
from tests.smt.conftest import store

pytestmark = pytest.mark.django_db


def test_storing_the_same_bytes_twice_keeps_one_file():
    data = (SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv").read_bytes()
    first = store(data)
    again = storage.raw_file_store(
        fileobj=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename="x.csv",
        origin="staff",
    )
    assert again.duplicate and again.raw_file.pk == first.pk and RawSmtFile.objects.count() == 1


def test_storage_key_never_trusts_the_file_name():
    key = storage.raw_file_key(sha256="ab" * 32, filename="../../etc/passwd")
    assert key.startswith("smt/raw/") and ".." not in key and key.endswith("-passwd")
    assert storage.safe_filename("..") == "upload.csv"
    assert storage.safe_filename("C:\\Users\\x\\IntervalData (1).csv") == "IntervalData_1.csv"
