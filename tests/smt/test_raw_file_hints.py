"""The staff raw file page: a failed file is given its ESIID / UsagePoint mapping and normalized again."""

import json

import pytest
from django.utils.html import escape

from smt.models import RawSmtFile, SmtInterval
from tests.smt.test_upload_greenbutton import BATCH, ESIID, TOKEN, built, post, real
from tests.smt.test_upload_resend import OTHER, batch_mapping, stored_unchecked

pytestmark = pytest.mark.django_db


def normalize_url(raw: RawSmtFile) -> str:
    return f"/smt/raw-files/{raw.pk}/normalize"


def test_a_failed_file_offers_the_hint_fields_and_a_normalized_one_does_not(client, staff_client, settings):
    raw = stored_unchecked(client, settings, built(), **TOKEN)
    page = staff_client.get(raw.get_absolute_url()).content.decode()
    assert 'id="hints"' in page and 'name="esiid"' in page and 'name="usage_point_esiids"' in page
    fragment = staff_client.get(raw.get_absolute_url(), headers={"HX-Request": "true"}).content.decode()
    assert 'id="hints"' in fragment and "<html" not in fragment  # the polled status shows it once the file fails
    raw.set_status(RawSmtFile.Status.NORMALIZED)
    assert 'id="hints"' not in staff_client.get(raw.get_absolute_url()).content.decode()


def test_a_file_that_failed_before_any_row_shows_its_error_once_and_no_empty_tiles(client, staff_client, settings):
    raw = stored_unchecked(client, settings, built(), **TOKEN)
    raw.refresh_from_db()
    assert raw.status == "failed" and not raw.stats.get("rowsRead"), raw.stats
    page = staff_client.get(raw.get_absolute_url()).content.decode()
    assert page.count(escape(raw.error)) == 1 and "kWh consumption" not in page


def test_staff_set_the_esiid_of_a_failed_file_and_it_is_normalized_with_it(client, staff_client, settings):
    raw = stored_unchecked(client, settings, built(), **TOKEN)
    response = staff_client.post(normalize_url(raw), {"esiid": ESIID, "usage_point_esiids": ""}, follow=True)
    assert response.status_code == 200
    assert f"Normalization of {raw.filename} queued with the new ESIID." in response.content.decode()
    raw.refresh_from_db()
    assert raw.status == "normalized" and raw.esiid_hint == ESIID and raw.origin == "token"
    assert raw.hints_set_by == "user:staff" and 'id="hints-set-by"' in response.content.decode()
    assert SmtInterval.objects.filter(esiid=ESIID).count() == 104


def test_staff_set_the_usage_point_mapping_of_a_failed_batch(client, staff_client, settings):
    mapping = batch_mapping(client)
    raw = stored_unchecked(client, settings, real(BATCH), **TOKEN)
    response = staff_client.post(normalize_url(raw), {"usage_point_esiids": json.dumps(mapping)})
    assert response.status_code == 302
    raw.refresh_from_db()
    assert raw.status == "normalized" and raw.usage_point_esiids == mapping and raw.hints_set_by == "user:staff"
    assert SmtInterval.objects.count() == 4 * 96


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"esiid": "12"}, "An ESIID is 17 or 22 digits."),
        ({"usage_point_esiids": "{not json"}, "is not JSON"),
        ({"usage_point_esiids": '{"RetailCustomer/1/UsagePoint/1": "12"}'}, "is not a 17- or 22-digit ESIID"),
    ],
)
def test_bad_hints_get_400_naming_the_problem_and_change_nothing(client, staff_client, settings, fields, problem):
    raw = stored_unchecked(client, settings, built(), **TOKEN)
    response = staff_client.post(normalize_url(raw), fields)
    assert response.status_code == 400 and problem in response.content.decode()
    raw.refresh_from_db()
    assert raw.status == "failed" and raw.esiid_hint == "" and raw.usage_point_esiids == {} and raw.hints_set_by == ""


def test_new_hints_for_a_normalized_file_get_400_and_change_nothing(client, staff_client):
    post(client, built(), esiid=ESIID, **TOKEN)
    raw = RawSmtFile.objects.get()
    response = staff_client.post(normalize_url(raw), {"esiid": OTHER})
    assert response.status_code == 400 and "Only a failed file takes new hints" in response.content.decode()
    raw.refresh_from_db()
    assert raw.esiid_hint == ESIID and raw.hints_set_by == ""
    assert set(SmtInterval.objects.values_list("esiid", flat=True)) == {ESIID}


def test_the_plain_normalize_button_still_queues_the_file_as_it_is(client, staff_client):
    post(client, built(), esiid=ESIID, **TOKEN)
    raw = RawSmtFile.objects.get()
    response = staff_client.post(normalize_url(raw), {"esiid": ESIID})  # the stored hint again is no change
    assert response.status_code == 302
    raw.refresh_from_db()
    assert raw.status == "normalized" and raw.hints_set_by == ""


def test_anonymous_users_customers_and_gets_are_refused_and_change_nothing(client, customer_user, staff_user, settings):
    raw = stored_unchecked(client, settings, built(), **TOKEN)
    anonymous = client.post(normalize_url(raw), {"esiid": ESIID})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    client.force_login(customer_user)
    assert client.post(normalize_url(raw), {"esiid": ESIID}).status_code == 403
    client.force_login(staff_user)
    assert client.get(normalize_url(raw), {"esiid": ESIID}).status_code == 405
    raw.refresh_from_db()
    assert raw.status == "failed" and raw.esiid_hint == "" and raw.hints_set_by == ""
