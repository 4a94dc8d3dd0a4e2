"""The SMT trust boundary (smt/origins.py): what a customer's file may become and write.

Through the real paths: the customer upload page, the staff and token upload endpoint, and the
worker task that normalizes (django-q2 runs it inline in tests).
"""

import hashlib
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from smt import storage, tasks
from smt.models import House, RawSmtFile, SmtInterval
from tests.smt.conftest import sample

pytestmark = pytest.mark.django_db
OWN, FOREIGN = "10443720000000002", "10443720000000009"
PORTAL = "portal-IntervalData-2025-12-14-estimated.csv"
TOKEN = {"HTTP_X_SMT_UPLOAD_TOKEN": "test-upload-token"}


@pytest.fixture
def house(customer_user):
    return House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN)


def portal(*, esiid: str = OWN, revised: str = "12/15/2025 07:38:23", kwh: str | None = None) -> bytes:
    """The one-day portal export, for another ESIID, revision date or a flat kWh value."""
    lines = sample(PORTAL).decode().splitlines(keepends=True)
    rows = [line.replace(OWN, esiid).replace("12/15/2025 07:38:23", revised) for line in lines[1:]]
    if kwh is not None:
        rows = [",".join(cells[:5] + [kwh] + cells[6:]) for cells in (row.split(",") for row in rows)]
    return (lines[0] + "".join(rows)).encode()


def customer_upload(client, data: bytes, name: str = "usage.csv"):
    return client.post("/customer/smt-upload", {"file": SimpleUploadedFile(name, data)})


def official_upload(client, data: bytes, name: str = "smt.csv"):
    return client.post("/upload", {"file": SimpleUploadedFile(name, data)}, **TOKEN)


def kwh_of(esiid: str) -> set[str]:
    return {str(k) for k in SmtInterval.objects.filter(esiid=esiid).values_list("kwh", flat=True)}


def store_as_customer(data: bytes, user, name: str = "usage.csv") -> RawSmtFile:
    """A customer's file as stored, skipping the upload check: what the worker must still refuse."""
    return storage.raw_file_store(
        fileobj=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename=name,
        origin="customer",
        uploaded_by=user,
        uploader="customer:customer",
    ).raw_file


def armoured_attack(keyring) -> bytes:
    """Another ESIID's rows encrypted to the project key, with a header and one own row in armour comments."""
    armored = keyring.armor(portal(esiid=FOREIGN, kwh="9.999")).decode().split("\n")
    own_row = portal().decode().splitlines()[1]
    comments = [f"Comment: x,{portal().decode().splitlines()[0]}", f"Comment: x,{own_row}"]
    return "\n".join(armored[:1] + comments + armored[1:]).encode()


# ---------------------------------------------------------------- item 1: origin decides what a file becomes


def test_each_channel_records_its_origin(client, customer_client, house, staff_user):
    assert customer_upload(customer_client, portal()).status_code == 201
    assert official_upload(client, portal(esiid=FOREIGN)).status_code == 201
    client.force_login(staff_user)
    assert (
        client.post("/upload", {"file": SimpleUploadedFile("b.csv", portal(esiid="10443720000000003"))}).status_code
        == 201
    )
    origins = dict(RawSmtFile.objects.values_list("uploader", "origin"))
    assert origins == {"customer:customer": "customer", "token:upload": "token", "user:staff": "staff"}


def test_armoured_customer_upload_with_own_rows_in_comments_is_refused(customer_client, house, client, keyring):
    assert official_upload(client, portal(esiid=FOREIGN)).status_code == 201
    before = kwh_of(FOREIGN)
    response = customer_upload(customer_client, armoured_attack(keyring), name="usage.asc")
    assert response.status_code == 422 and "PGP" in response.json()["error"]
    assert RawSmtFile.objects.filter(origin="customer").count() == 0 and kwh_of(FOREIGN) == before


def test_worker_never_decrypts_a_customer_file_even_if_stored(customer_user, house, client, keyring):
    assert official_upload(client, portal(esiid=FOREIGN)).status_code == 201
    before = kwh_of(FOREIGN)
    raw = store_as_customer(armoured_attack(keyring), customer_user, name="usage.asc")
    tasks.raw_file_normalize(raw.pk)
    raw.refresh_from_db()
    assert raw.status == "failed" and "PGP" in raw.error and raw.kind != "bundle"
    assert (
        not raw.members.exists() and kwh_of(FOREIGN) == before and not SmtInterval.objects.filter(raw_file=raw).exists()
    )


def test_worker_rechecks_the_customers_esiids_at_normalize_time(customer_user, house):
    raw = store_as_customer(portal(), customer_user)
    house.delete()  # the customer moved out between upload and normalize
    tasks.raw_file_normalize(raw.pk)
    raw.refresh_from_db()
    assert raw.status == "failed" and f"line 2: ESIID {OWN} is not yours" in raw.error
    assert SmtInterval.objects.count() == 0


def test_a_customer_file_with_a_foreign_row_loads_nothing_in_the_worker(customer_user, house):
    data = portal() + portal(esiid=FOREIGN).split(b"\n", 1)[1]
    raw = store_as_customer(data, customer_user)
    tasks.raw_file_normalize(raw.pk)
    raw.refresh_from_db()
    assert raw.status == "failed" and f"line 98: ESIID {FOREIGN} is not yours" in raw.error
    assert SmtInterval.objects.count() == 0  # the 96 own rows before it were rolled back too


def test_a_customer_billing_file_is_refused_at_upload_and_never_read_as_billing(customer_client, customer_user, house):
    daily = f"ESIID,USAGE_DATE,REVISION_DATE,START_READING,END_READING,USAGE_KWH\n'{OWN},12/14/2025,12/15/2025 07:41:22,1,2,1\n"
    assert customer_upload(customer_client, daily.encode()).status_code == 422
    raw = store_as_customer(daily.encode(), customer_user)
    tasks.raw_file_normalize(raw.pk)
    raw.refresh_from_db()
    assert (
        raw.status == "failed" and "billing" in raw.error and raw.kind != "billing" and not raw.billing_reads.exists()
    )


def test_the_upload_check_reads_the_rows_the_worker_loads(customer_client, house):
    response = customer_upload(customer_client, portal())
    raw = RawSmtFile.objects.get(pk=response.json()["rawId"])
    assert response.status_code == 201 and raw.status == "normalized"
    assert set(SmtInterval.objects.filter(raw_file=raw).values_list("row_number", flat=True)) == set(range(2, 98))


def test_staff_copy_of_a_customers_bytes_is_promoted_and_normalized_as_official(customer_client, house, client):
    data = portal()
    customer_raw = customer_upload(customer_client, data).json()["rawId"]
    response = official_upload(client, data)
    assert response.status_code == 201 and response.json()["rawId"] == customer_raw
    raw = RawSmtFile.objects.get(pk=customer_raw)
    assert raw.origin == "token" and raw.status == "normalized"


# ---------------------------------------------------------------- item 3: SMT's channels outrank customers


def test_a_future_revision_date_is_refused_from_a_customer_with_its_line(customer_client, house, client):
    assert official_upload(client, portal()).status_code == 201
    official = kwh_of(OWN)
    response = customer_upload(customer_client, portal(revised="12/31/2099 00:00:00", kwh="9.999"))
    assert response.status_code == 422, response.content
    assert "line 2: REVISION_DATE 2099-12-31T06:00:00Z is in the future" in response.json()["error"]
    assert kwh_of(OWN) == official and RawSmtFile.objects.filter(origin="customer").count() == 0


def test_a_future_revision_date_from_smt_channels_is_refused_by_row(client):
    data = portal().decode().replace("12/15/2025 07:38:23,00:15", "12/31/2099 00:00:00,00:15").encode()
    raw = RawSmtFile.objects.get(pk=official_upload(client, data).json()["rawId"])
    assert raw.status == "normalized" and raw.stats["intervalsInserted"] == 95
    assert (
        raw.stats["invalid"]["date"]["rows"] == ["3"] and "in the future" in raw.stats["invalid"]["date"]["messages"][0]
    )


def test_a_newer_customer_revision_never_replaces_official_intervals(customer_client, house, client):
    assert official_upload(client, portal()).status_code == 201
    official = kwh_of(OWN)
    response = customer_upload(customer_client, portal(revised="12/16/2025 08:00:00", kwh="9.999"))
    assert response.status_code == 201
    raw = RawSmtFile.objects.get(pk=response.json()["rawId"])
    assert raw.status == "normalized" and raw.stats["intervalsUpdated"] == 0 and raw.stats["intervalsInserted"] == 0
    assert kwh_of(OWN) == official
    neighbour = get_user_model().objects.create_user("neighbour", password="neighbour-pass-1")
    House.objects.create(customer=neighbour, name="12 Oak St", esiid=OWN)
    customer_client.force_login(neighbour)
    body = customer_client.post(
        "/api/user/usage/refresh",
        f'{{"esiid": "{OWN}", "houseId": {House.objects.get(customer=neighbour).pk}}}',
        content_type="application/json",
    ).json()
    assert body["kwh"] != pytest.approx(96 * 9.999)


def test_a_customer_fills_gaps_the_official_data_leaves(customer_client, house, client):
    lines = portal().split(b"\n")
    holed = b"\n".join(lines[:65] + lines[69:])  # 16:00-17:00 missing, as in SMT's e-mail file
    assert official_upload(client, holed).status_code == 201
    official = set(SmtInterval.objects.values_list("ts", "kwh"))
    raw = RawSmtFile.objects.get(pk=customer_upload(customer_client, portal(kwh="0.500")).json()["rawId"])
    assert raw.stats["intervalsInserted"] == 4 and raw.stats["intervalsUpdated"] == 0
    assert official < set(SmtInterval.objects.values_list("ts", "kwh")) and SmtInterval.objects.count() == 96


def test_official_data_replaces_customer_rows_whatever_their_revision(customer_client, house, client):
    assert customer_upload(customer_client, portal(revised="12/20/2025 08:00:00", kwh="9.999")).status_code == 201
    response = official_upload(client, portal())
    raw = RawSmtFile.objects.get(pk=response.json()["rawId"])
    assert raw.stats["intervalsUpdated"] == 96 and "9.999" not in kwh_of(OWN)
    assert set(SmtInterval.objects.values_list("raw_file", flat=True)) == {raw.pk}


def test_the_migration_classifies_files_stored_before_origins():
    from importlib import import_module

    from django.apps import apps

    sources = {"customer:customer": "", "token:upload": "", "user:staff": "", "cli": "", "": "sftp"}
    for index, (uploader, source) in enumerate(sources.items()):
        RawSmtFile.objects.create(
            filename="f.csv",
            sha256=f"{index:064d}",
            size_bytes=1,
            storage_key="k",
            uploader=uploader,
            source=source,
            origin="staff",
        )
    bundle = RawSmtFile.objects.get(source="sftp")
    RawSmtFile.objects.create(
        filename="m.csv", sha256="f" * 64, size_bytes=1, storage_key="k", source="sftp", parent=bundle
    )
    import_module("smt.migrations.0008_rawsmtfile_origin").origin_fill(apps, None)
    assert dict(RawSmtFile.objects.values_list("sha256", "origin")) == {
        f"{0:064d}": "customer",
        f"{1:064d}": "token",
        f"{2:064d}": "staff",
        f"{3:064d}": "command",
        f"{4:064d}": "mirror",
        "f" * 64: "member",
    }
