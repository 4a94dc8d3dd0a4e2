"""Green Button XML inside a zip or gzip: told by its content once decompressed, on every path.

The real downloads are read in place and zipped here, as a utility's portal hands them out.
"""

import gzip
import io

import pytest

from ops.models import JobRun
from smt import interval_rows, mirror
from smt.models import House, RawSmtFile, SmtInterval
from tests.smt.conftest import INTERVAL_HEADER, zip_bytes
from tests.smt.test_upload_greenbutton import AMEREN, ESIID, TOKEN, built, post, real

pytestmark = pytest.mark.django_db


def test_a_zipped_or_gzipped_green_button_file_is_told_by_its_content():
    xml = real(AMEREN)
    for data in (xml, zip_bytes({"usage.xml": xml}), gzip.compress(xml)):
        handle = io.BytesIO(data)
        assert interval_rows.fileobj_is_greenbutton(handle) and handle.tell() == 0
    csv = INTERVAL_HEADER.encode()
    for data in (csv, zip_bytes({"IntervalData.csv": csv}), gzip.compress(csv), b"PK\x03\x04 not a zip"):
        assert not interval_rows.fileobj_is_greenbutton(io.BytesIO(data))


OPENESPI = "gba_openespi_15min_2012-03.xml"  # 324 KB of XML; zips about 15:1


@pytest.mark.parametrize(
    ("name", "pack"),
    [("usage.zip", lambda xml: zip_bytes({"Usage_2012-03.xml": xml})), ("usage.xml.gz", gzip.compress)],
)
def test_token_upload_of_a_zipped_real_download_is_stored_as_green_button_and_normalized(client, name, pack):
    response = post(client, pack(real(OPENESPI)), name=name, esiid=ESIID, **TOKEN)
    assert response.status_code == 201, response.content
    raw = RawSmtFile.objects.get()
    assert response.json()["kind"] == "greenbutton" and raw.kind == "greenbutton" and raw.status == "normalized"
    assert raw.stats["intervalsInserted"] == 1340 and SmtInterval.objects.filter(esiid=ESIID).count() == 1340


def test_a_download_zipping_past_a_lowered_expand_ratio_is_refused_naming_the_setting_and_loads_at_the_default(
    client, settings
):
    # XML repeats itself: real downloads zip 15:1 to 55:1, Ameren's 39:1: past 20, within the default 100.
    archive = zip_bytes({"Ameren_Usage_2023-09.xml": real(AMEREN)})
    default = settings.SMT_UPLOAD_EXPAND_RATIO
    settings.SMT_UPLOAD_EXPAND_RATIO = 20
    refused = post(client, archive, name="usage.zip", esiid=ESIID, **TOKEN)
    assert refused.status_code == 422 and "SMT_UPLOAD_EXPAND_RATIO" in refused.json()["error"]
    assert RawSmtFile.objects.count() == 0
    settings.SMT_UPLOAD_EXPAND_RATIO = default
    response = post(client, archive, name="usage.zip", esiid=ESIID, **TOKEN)
    assert response.status_code == 201, response.content
    assert RawSmtFile.objects.get().stats["intervalsInserted"] == 2976


def test_a_zipped_green_button_file_without_its_esiid_is_refused_naming_the_usage_point(client):
    response = post(client, zip_bytes({"usage.xml": real(OPENESPI)}), name="usage.zip", **TOKEN)
    assert response.status_code == 422 and response.json()["usagePoints"], response.content
    assert RawSmtFile.objects.count() == 0


def test_a_zip_holding_a_green_button_file_and_more_is_refused_naming_why(client):
    archive = zip_bytes({"usage.xml": real(OPENESPI), "readme.txt": b"hello"})
    response = post(client, archive, name="usage.zip", esiid=ESIID, **TOKEN)
    assert response.status_code == 422 and "send each Green Button file on its own" in response.json()["error"]
    assert RawSmtFile.objects.count() == 0 and SmtInterval.objects.count() == 0


def test_customer_upload_of_a_zipped_green_button_file_is_read_as_their_house(customer_client, customer_user):
    House.objects.create(customer=customer_user, name="Oak St", esiid=ESIID)
    response = post(customer_client, zip_bytes({"usage.xml": built()}), url="/customer/smt-upload", name="u.zip")
    assert response.status_code == 201, response.content
    raw = RawSmtFile.objects.get()
    assert raw.kind == "greenbutton" and raw.origin == "customer" and raw.status == "normalized"
    assert SmtInterval.objects.filter(esiid=ESIID).count() == 104


def test_the_mirror_tells_a_gzipped_green_button_file_and_fails_it_naming_its_usage_point(smt_sftp):
    (smt_sftp.root / "usage.xml.gz").write_bytes(gzip.compress(built()))
    mirror.mirror_run(trigger=JobRun.Trigger.COMMAND)
    raw = RawSmtFile.objects.get()
    assert raw.kind == "greenbutton" and raw.status == "failed"
    assert "RetailCustomer/1/UsagePoint/1" in raw.error and "needs an ESIID" in raw.error
