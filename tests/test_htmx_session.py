"""An htmx request whose session has expired is sent to the sign-in page with HX-Redirect, back to
the page it came from, instead of following the redirect and swapping the sign-in page into a table."""

from urllib.parse import quote

import pytest

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.mark.parametrize("url", ["/smt/intervals/?esiid=10443720000000001", "/telemetry/tickets/", "/customer/usage"])
def test_an_anonymous_htmx_request_gets_hx_redirect_to_sign_in_and_back(client, url):
    response = client.get(url, headers=HTMX | {"HX-Current-URL": f"http://testserver{url}"})
    assert response.status_code == 200 and response.content == b""
    assert response["HX-Redirect"] == f"/login/?next={quote(url, safe='')}"


def test_a_plain_request_still_gets_the_302(client):
    response = client.get("/smt/intervals/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    assert "HX-Redirect" not in response


@pytest.mark.parametrize("current", ["http://elsewhere.example//evil.example/x", "javascript:alert(1)", ""])
def test_the_way_back_is_a_path_of_this_site_only(client, current):
    response = client.get("/smt/intervals/", headers=HTMX | {"HX-Current-URL": current})
    assert response["HX-Redirect"] == "/login/?next=%2F"


def test_a_signed_in_htmx_request_is_untouched(staff_client):
    response = staff_client.get("/smt/intervals/", headers=HTMX)
    assert response.status_code == 200 and "HX-Redirect" not in response
    assert b"<html" not in response.content  # the fragment, as before
