"""Bytes already stored, sent again: a failed file takes the ESIID / UsagePoint mapping it lacked.

A Green Button file fails in the worker for want of a hint when nothing could check it at
upload: the SFTP mirror has no ESIID to give, and a staff or token file past
SMT_PRECHECK_FULL_BYTES is only sniffed. Sending the same bytes with the hint re-queues it.
"""

import base64
import hashlib
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from ops.models import JobRun
from smt import ingest, mirror, storage
from smt.models import House, RawSmtFile, SmtInterval
from tests.smt.test_upload_greenbutton import BATCH, ESIID, TOKEN, built, post, real

pytestmark = pytest.mark.django_db
OTHER = "10443720000000002"


def stored_unchecked(client, settings, data: bytes, url: str = "/upload", **fields) -> RawSmtFile:
    """Upload `data` as a file too big to read whole at upload: the worker finds what it lacks."""
    full = settings.SMT_PRECHECK_FULL_BYTES
    settings.SMT_PRECHECK_FULL_BYTES = 1
    response = post(client, data, url=url, **fields)
    settings.SMT_PRECHECK_FULL_BYTES = full
    assert response.status_code == 201, response.content
    raw = RawSmtFile.objects.get()
    assert raw.status == "failed" and "an ESIID" in raw.error and "UsagePoint" in raw.error
    return raw


def batch_mapping(client) -> dict[str, str]:
    points = post(client, real(BATCH), **TOKEN).json()["usagePoints"]
    return {point: f"1044372000161727{n}" for n, point in enumerate(points)}


def test_token_resend_of_a_failed_batch_with_its_mapping_requeues_it_and_records_who(client, settings):
    mapping = batch_mapping(client)
    raw = stored_unchecked(client, settings, real(BATCH), **TOKEN)
    response = post(client, real(BATCH), usage_point_esiids=json.dumps(mapping), **TOKEN)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["requeued"] is True and body["duplicate"] is True and body["rawId"] == raw.pk
    assert body["message"] == "already stored; re-queued with the new UsagePoint mapping"
    raw.refresh_from_db()
    assert raw.status == "normalized" and raw.usage_point_esiids == mapping and raw.error == ""
    assert raw.origin == "token" and raw.uploader == "token:upload"  # the file keeps where it came from
    assert raw.hints_set_by == "token:upload" and raw.hints_set_at is not None
    assert RawSmtFile.objects.count() == 1 and SmtInterval.objects.count() == 4 * 96
    assert JobRun.objects.filter(started_by="new hints: token:upload").count() == 1


def test_staff_session_resend_through_the_legacy_path_with_an_esiid_requeues_a_failed_file(staff_client, settings):
    raw = stored_unchecked(staff_client, settings, built(), url="/api/admin/smt/raw-upload")
    response = post(staff_client, built(), url="/api/admin/smt/raw-upload", esiid=ESIID)
    assert response.status_code == 202, response.content
    assert response.json()["message"] == "already stored; re-queued with the new ESIID"
    raw.refresh_from_db()
    assert raw.status == "normalized" and raw.esiid_hint == ESIID and raw.hints_set_by == "user:staff"
    assert SmtInterval.objects.filter(esiid=ESIID).count() == 104


def test_staff_resend_of_a_file_the_mirror_failed_for_want_of_an_esiid_requeues_it(staff_client, smt_sftp):
    (smt_sftp.root / "usage.xml").write_bytes(built())
    mirror.mirror_run(trigger=JobRun.Trigger.COMMAND)
    assert RawSmtFile.objects.get().status == "failed"
    response = post(staff_client, built(), esiid=ESIID)
    assert response.status_code == 202, response.content
    raw = RawSmtFile.objects.get()
    assert raw.status == "normalized" and raw.origin == "mirror" and raw.hints_set_by == "user:staff"
    assert SmtInterval.objects.filter(esiid=ESIID).count() == 104


def test_resend_without_new_hints_stays_a_duplicate_and_changes_nothing(client, settings):
    raw = stored_unchecked(client, settings, real(BATCH), **TOKEN)
    response = post(client, real(BATCH), **TOKEN)
    assert response.status_code == 200 and response.json()["duplicate"] is True
    assert "requeued" not in response.json()
    raw.refresh_from_db()
    assert raw.status == "failed" and raw.hints_set_by == "" and JobRun.objects.count() == 1


def test_resend_with_a_mapping_still_short_of_one_is_422_naming_it_and_changes_nothing(client, settings):
    mapping = batch_mapping(client)
    raw = stored_unchecked(client, settings, real(BATCH), **TOKEN)
    missing, *_ = mapping
    short = {point: esiid for point, esiid in mapping.items() if point != missing}
    response = post(client, real(BATCH), usage_point_esiids=json.dumps(short), **TOKEN)
    assert response.status_code == 422 and response.json()["usagePoints"] == [missing]
    raw.refresh_from_db()
    assert raw.status == "failed" and raw.usage_point_esiids == {} and raw.hints_set_by == ""
    assert SmtInterval.objects.count() == 0


def test_resend_of_a_file_that_normalized_with_another_esiid_stays_a_duplicate(client):
    assert post(client, built(), esiid=ESIID, **TOKEN).status_code == 201
    response = post(client, built(), esiid=OTHER, **TOKEN)
    assert response.status_code == 200 and response.json()["duplicate"] is True
    raw = RawSmtFile.objects.get()
    assert raw.esiid_hint == ESIID and raw.hints_set_by == ""
    assert set(SmtInterval.objects.values_list("esiid", flat=True)) == {ESIID}


def test_inline_pull_resend_of_a_failed_batch_with_its_mapping_requeues_it(client, settings):
    mapping = batch_mapping(client)
    raw = stored_unchecked(client, settings, real(BATCH), **TOKEN)
    body = {"mode": "inline", "filename": "batch.xml", "content_b64": base64.b64encode(real(BATCH)).decode()}

    def pull(**extra):
        data = json.dumps(body | extra)
        return client.post(
            "/api/admin/smt/pull", data, content_type="application/json", HTTP_X_ADMIN_TOKEN="test-admin-token"
        )

    unchanged = pull()
    assert unchanged.status_code == 200 and unchanged.json()["duplicate"] is True
    response = pull(usage_point_esiids=mapping)
    assert response.status_code == 202, response.content
    assert response.json()["message"] == "already stored; re-queued with the new UsagePoint mapping"
    raw.refresh_from_db()
    assert raw.status == "normalized" and raw.hints_set_by == "token:admin" and raw.origin == "token"
    assert SmtInterval.objects.count() == 4 * 96


# ---------------------------------------------------------------- customers and their trust


def customer_file(user, data: bytes) -> RawSmtFile:
    """A customer's file stored without the ESIID it needs, and failed by the worker.

    Their upload check asks for the ESIID when they have several houses, so this state comes
    from before (houses added after the upload was read); stored as the upload stores it.
    """
    raw = storage.raw_file_store(
        fileobj=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename="usage.xml",
        kind=RawSmtFile.Kind.GREENBUTTON,
        origin=RawSmtFile.Origin.CUSTOMER,
        uploaded_by=user,
        uploader=f"customer:{user.get_username()}",
    ).raw_file
    ingest.raw_file_ingest(raw_file=raw)
    raw.refresh_from_db()
    assert raw.status == "failed" and "an ESIID" in raw.error and "UsagePoint" in raw.error
    return raw


def houses(user) -> None:
    House.objects.create(customer=user, name="Oak St", esiid=ESIID)
    House.objects.create(customer=user, name="Cabin", esiid=OTHER)


def test_customer_resend_of_their_own_failed_file_with_an_esiid_requeues_it(customer_client, customer_user):
    houses(customer_user)
    raw = customer_file(customer_user, built())
    response = post(customer_client, built(), url="/customer/smt-upload", esiid=OTHER)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["message"] == "already stored; re-queued with the new ESIID" and body["remaining"] == 4
    assert body["statusUrl"] == f"/customer/uploads/{raw.pk}/"
    raw.refresh_from_db()
    assert raw.status == "normalized" and raw.origin == "customer" and raw.hints_set_by == "customer:customer"
    assert set(SmtInterval.objects.values_list("esiid", flat=True)) == {OTHER}


def test_customer_cannot_give_hints_to_a_staff_or_token_file(client, customer_client, customer_user, settings):
    House.objects.create(customer=customer_user, name="Oak St", esiid=ESIID)
    customer_client.logout()
    raw = stored_unchecked(client, settings, built(), **TOKEN)
    customer_client.force_login(customer_user)
    response = post(customer_client, built(), url="/customer/smt-upload", esiid=ESIID)
    assert response.status_code == 200 and response.json()["duplicate"] is True
    assert "requeued" not in response.json() and "statusUrl" not in response.json()
    # Nothing of the token's file is the customer's to read: not its id, name, state or kind.
    assert not {"rawId", "filename", "status", "kind"} & set(response.json()), response.json()
    raw.refresh_from_db()
    assert raw.status == "failed" and raw.esiid_hint == "" and raw.origin == "token" and raw.hints_set_by == ""
    assert SmtInterval.objects.count() == 0


def test_customer_cannot_give_hints_to_another_customers_file(customer_client, customer_user):
    other = get_user_model().objects.create_user("neighbour", password="neighbour-pass-123")
    houses(other)
    raw = customer_file(other, built())
    House.objects.create(customer=customer_user, name="Oak St", esiid=ESIID)
    response = post(customer_client, built(), url="/customer/smt-upload", esiid=ESIID)
    assert response.status_code == 200 and response.json()["duplicate"] is True
    assert not {"rawId", "filename", "status", "kind"} & set(response.json()), response.json()
    raw.refresh_from_db()
    assert raw.status == "failed" and raw.esiid_hint == "" and raw.hints_set_by == ""
    assert SmtInterval.objects.count() == 0
    neighbour = Client()
    neighbour.force_login(other)  # their own file, re-sent by them, does take the hint
    assert post(neighbour, built(), url="/customer/smt-upload", esiid=ESIID).status_code == 202


def test_token_resend_of_a_customers_failed_file_promotes_it_with_the_new_hint(client, customer_user):
    houses(customer_user)
    raw = customer_file(customer_user, built())
    response = post(client, built(), esiid=OTHER, **TOKEN)
    assert response.status_code == 201, response.content  # promoted, as any customer file SMT's channels send
    raw.refresh_from_db()
    assert raw.origin == "token" and raw.esiid_hint == OTHER and raw.hints_set_by == "token:upload"
    assert raw.status == "normalized" and raw.uploaded_by == customer_user
