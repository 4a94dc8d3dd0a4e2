"""The usage summary page caches its days per ESIID range until stored intervals may change."""

import hashlib
import io
import re
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from smt import normalize, storage, usage
from smt.models import SmtInterval
from tests.conftest import SMT_SAMPLES

pytestmark = pytest.mark.django_db
URL = "/smt/usage/?esiid=10443720000000002&meter=M1&start=2025-11-02&end=2025-11-02"


@pytest.fixture(autouse=True)
def cache_on(settings):
    settings.SMT_USAGE_CACHE_SECONDS = 300
    cache.clear()
    yield
    cache.clear()


def normalized(name: str):
    data = (SMT_SAMPLES / name).read_bytes()
    raw = storage.raw_file_store(
        fileobj=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename=name,
        meter="M1",
        origin="staff",
    ).raw_file
    normalize.raw_file_normalize(raw_file=raw)
    return raw


def found_on_page(client) -> str:
    html = client.get(URL).content.decode()
    return re.search(r"complete \((\d+ of \d+)\)", html)[1]


def test_a_repeat_view_is_served_from_the_cache(staff_client):
    normalized("portal-IntervalData-2025-11-02-fall-back.csv")
    assert found_on_page(staff_client) == "100 of 100"
    SmtInterval.objects.filter(esiid="10443720000000002").update(kwh=0)  # behind the ingest path's back
    with CaptureQueriesContext(connection) as queries:
        assert "52.8" in staff_client.get(URL).content.decode()  # cached days: no summary query
    assert not [q for q in queries.captured_queries if '"smt_interval"' in q["sql"]]


def test_an_audited_deletion_shows_at_once(staff_client):
    normalized("portal-IntervalData-2025-11-02-fall-back.csv")
    assert found_on_page(staff_client) == "100 of 100"
    usage.intervals_delete(
        esiid="10443720000000002",
        meter="M1",
        start=datetime(2025, 11, 2, 5, tzinfo=UTC),
        end=datetime(2025, 11, 2, 6, tzinfo=UTC),
        actor="test",
    )
    assert found_on_page(staff_client) == "96 of 100"


def test_a_newly_normalized_file_shows_at_once(staff_client):
    raw = normalized("portal-IntervalData-2025-11-02-fall-back.csv")
    SmtInterval.objects.filter(ts__lt="2025-11-02T06:00:00Z").delete()
    cache.clear()
    assert found_on_page(staff_client) == "96 of 100"
    normalize.raw_file_normalize(raw_file=raw)  # the same file again restores the hour
    assert found_on_page(staff_client) == "100 of 100"
