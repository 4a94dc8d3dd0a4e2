"""The demo ERCOT extract: through the real ingest, the demo ESIIDs Active, loaded once."""

from datetime import date, timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from ercot import demo, esiids, extract
from ercot.models import ErcotIngest, EsiidRecord
from ops.demo import DEMO_ESIIDS

pytestmark = pytest.mark.django_db
TODAY = date(2026, 6, 10)


def test_the_demo_extract_stores_four_zips_and_loads_fuls_then_dailies():
    result = demo.ercot_demo_load(today=TODAY)

    assert result == {"stored": 4, "loaded": 4, "rows": 15 + 10 + 2 + 1}
    rows = list(
        ErcotIngest.objects.order_by("posted_at").values_list(
            "tdsp", "kind", "file_date", "status", "method", "rows_loaded"
        )
    )
    assert rows == [
        ("ONCOR_ELEC", "FUL", date(2026, 6, 8), "stored", "demo", 15),
        ("CENTERPOINT", "FUL", date(2026, 6, 8), "stored", "demo", 10),
        ("ONCOR_ELEC", "DAILY", date(2026, 6, 9), "stored", "demo", 2),
        ("CENTERPOINT", "DAILY", date(2026, 6, 9), "stored", "demo", 1),
    ]
    for ingest in ErcotIngest.objects.all():
        assert default_storage.exists(ingest.storage_key) and ingest.storage_key.startswith("ercot/2026-06-0")
        assert ingest.row_errors == [] and ingest.error == ""
    assert EsiidRecord.objects.count() == 15 + 1 + 10
    assert esiids.esiid_warnings(DEMO_ESIIDS) == []  # the demo meters are known and Active
    assert EsiidRecord.objects.get(esiid=DEMO_ESIIDS[0]).address == "1 ELM ST"
    # The DAILYs changed what the FULs said.
    assert EsiidRecord.objects.get(esiid="10443720000001000").status == "De-Energized"
    assert EsiidRecord.objects.get(esiid="1008901023800000000106").address == "200 ELM STREET"
    assert ErcotIngest.objects.presence(end=TODAY) == {  # the ERCOT page's strip of days
        "ONCOR_ELEC": {date(2026, 6, 8): "FUL", date(2026, 6, 9): "DAILY"},
        "CENTERPOINT": {date(2026, 6, 8): "FUL", date(2026, 6, 9): "DAILY"},
    }


def test_a_second_run_stores_and_loads_nothing():
    demo.ercot_demo_load(today=TODAY)
    records = list(EsiidRecord.objects.values_list("esiid", "status", "posted_at", "ingest_id"))

    assert demo.ercot_demo_load(today=TODAY) == {"stored": 0, "loaded": 0, "rows": 0}
    assert ErcotIngest.objects.count() == 4
    assert list(EsiidRecord.objects.values_list("esiid", "status", "posted_at", "ingest_id")) == records


def test_the_demo_zips_are_byte_stable_and_valid_extracts():
    docs, bodies = demo.demo_documents(TODAY)
    assert demo.demo_documents(TODAY)[1] == bodies
    for doc in docs:
        name = extract.parse_name(doc.name)
        assert name.kind in ("FUL", "DAILY") and name.tdsp in ("ONCOR_ELEC", "CENTERPOINT")


def test_load_demo_data_loads_the_ercot_extract_once(capsys, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("load_demo_data", days=3)
    assert "demo ERCOT extract: 4 zips stored, 28 ESIID records loaded" in capsys.readouterr().out
    today = timezone.localdate(timezone=extract.CENTRAL)
    assert set(ErcotIngest.objects.values_list("file_date", flat=True)) == {
        today - timedelta(days=2),
        today - timedelta(days=1),
    }
    call_command("load_demo_data", days=3)
    assert "demo ERCOT extract: already loaded" in capsys.readouterr().out
    assert ErcotIngest.objects.count() == 4


def test_the_ercot_pages_show_the_demo_extract(staff_client):
    demo.ercot_demo_load()  # today's Central date: the files sit in the page's strip of days

    files = staff_client.get("/ercot/").content.decode()
    assert all(
        f"{friendly}.<wbr>zip" in files
        for friendly in ("ONCOR_ELEC___FUL", "CENTERPOINT__FUL", "ONCOR_ELEC___DAILY", "CENTERPOINT__DAILY")
    )
    assert "Demo data" in files
    lookup = staff_client.get("/ercot/esiids/", {"q": DEMO_ESIIDS[0][:12]}).content.decode()
    assert all(esiid in lookup for esiid in DEMO_ESIIDS) and "1 ELM ST" in lookup
