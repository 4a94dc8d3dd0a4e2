"""The previous system's addresses send people and scripts to their new places."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("old", ["/admin/smt/raw", "/admin/smt/normalize"])
def test_old_raw_file_pages_redirect_to_the_raw_files_page_keeping_the_query(staff_client, old):
    response = staff_client.get(f"{old}?status=failed")
    assert response.status_code == 301
    assert response["Location"] == "/smt/raw-files/?status=failed"
    assert staff_client.get(response["Location"]).status_code == 200


def test_old_json_raw_file_list_redirects_to_the_json_list_which_a_token_can_read(client):
    response = client.get("/api/admin/smt/raw?limit=5")
    assert response.status_code == 301
    assert response["Location"] == "/api/admin/debug/smt/raw-files?limit=5"
    followed = client.get(response["Location"], headers={"x-admin-token": "test-admin-token"})
    assert followed.status_code == 200
    assert followed.json()["ok"] is True and "files" in followed.json()


def test_a_post_to_an_old_address_is_refused_rather_than_turned_into_a_get(staff_client):
    assert staff_client.post("/admin/smt/normalize").status_code == 405
