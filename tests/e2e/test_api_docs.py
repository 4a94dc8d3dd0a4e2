"""The API docs page works with the browser cut off from everything but this site."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.test_smt_raw_files import sign_in

pytestmark = [pytest.mark.e2e]


def test_api_docs_show_the_operations_with_every_request_outside_the_site_blocked(page: Page, live_server, staff_user):
    outside = []

    def only_this_site(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_site)
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}/api/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=15_000)
    expect(page.get_by_text("/api/admin/smt/normalize").first).to_be_visible()
    assert outside == []
