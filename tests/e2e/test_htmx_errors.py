"""What an htmx request is refused with, or that the server cannot be reached, is shown in the
page's alert region in a real Chromium; the table the request targeted stays as it was."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Browser, Page, expect

from telemetry.models import Device, ReviewTicket
from tests.e2e.test_smt_raw_files import sign_in
from tests.e2e.test_telemetry_device_health import SCREENSHOTS

pytestmark = [pytest.mark.e2e]


def test_acknowledging_a_ticket_another_session_resolved_shows_why_and_keeps_the_table(
    page: Page, browser: Browser, live_server, staff_user
):
    get_user_model().objects.create_user("first", password="first-pass-123", is_staff=True)
    ticket = ReviewTicket.objects.create(kind="silent_device", device=Device.objects.create(name="esp-1"), evidence={})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}/telemetry/tickets/")
    alert = page.get_by_role("alert")
    expect(alert).to_be_empty()

    other = browser.new_context()  # another person, signed in elsewhere, resolves it meanwhile
    other_page = other.new_page()
    sign_in(other_page, live_server, "first", "first-pass-123")
    other_page.goto(f"{live_server.url}/telemetry/tickets/")
    other_page.click("#tickets button:has-text('Resolve')")
    expect(other_page.locator("#ticket-table .empty")).to_have_text("No open tickets.")
    other.close()

    page.click("#tickets button:has-text('Acknowledge')")
    expect(alert).to_contain_text(f"Ticket {ticket.pk} is already resolved by user:first: it cannot be acknowledged.")
    expect(page.locator("#tickets button:has-text('Acknowledge')")).to_be_visible()  # the 409 was not swapped in
    page.screenshot(path=str(SCREENSHOTS / "htmx-error-ticket-409.png"), full_page=True)

    page.click("a.button:has-text('all')")  # the person's next action that works clears the alert
    expect(page.locator("#tickets .badge-t-resolved")).to_have_count(1)
    expect(alert).to_be_empty()


def test_a_request_that_cannot_reach_the_server_says_so(page: Page, live_server, staff_user):
    ReviewTicket.objects.create(kind="silent_device", device=Device.objects.create(name="esp-1"), evidence={})
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}/telemetry/tickets/")
    page.route("**/telemetry/tickets/**", lambda route: route.abort("internetdisconnected"))  # the network drops

    page.click("#tickets button:has-text('Resolve')")
    expect(page.get_by_role("alert")).to_contain_text("Could not reach the server: check the connection and try again.")
    expect(page.locator("#tickets button:has-text('Resolve')")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "htmx-error-unreachable.png"), full_page=True)
    page.get_by_role("button", name="Dismiss").click()
    expect(page.get_by_role("alert")).to_be_empty()


def test_a_json_error_shows_its_message_and_an_empty_refusal_its_status(page: Page, live_server, staff_user):
    ReviewTicket.objects.create(kind="silent_device", device=Device.objects.create(name="esp-1"), evidence={})
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}/telemetry/tickets/")
    alert, table = page.get_by_role("alert"), page.locator("#ticket-table")
    # No page posts to these with htmx today: they stand for any json_error or bodiless answer.
    page.evaluate("htmx.ajax('POST', '/trigger/smt-now', {target: '#ticket-table', swap: 'outerHTML'})")
    expect(alert).to_contain_text("a valid shared secret is required in one of:")
    expect(alert).not_to_contain_text('"ok"')
    page.evaluate("htmx.ajax('GET', '/telemetry/tickets/1/resolve', {target: '#ticket-table', swap: 'outerHTML'})")
    expect(alert).to_contain_text("The server refused this (405 Method Not Allowed).")
    expect(table.locator("#tickets button:has-text('Resolve')")).to_be_visible()
