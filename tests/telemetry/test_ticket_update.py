"""Acting on a review ticket moves it forward only: open -> acknowledged -> resolved.

A page can be stale (two staff, two tabs, the nightly run opening a new ticket since): an action
on a ticket that has already moved on answers 409 with its state and changes nothing, so a
resolved ticket never comes back as a second unresolved ticket for the same problem.
"""

from datetime import date

import pytest

from telemetry.models import Device, ReviewTicket

HX = {"HTTP_HX_REQUEST": "true"}
DAY = date(2026, 3, 1)


@pytest.fixture
def device(db):
    return Device.objects.create(name="esp-1")


def ticket(device: Device, status: str = "open", by: str = "") -> ReviewTicket:
    return ReviewTicket.objects.create(kind="silent_device", device=device, day=DAY, status=status, updated_by=by)


def state(t: ReviewTicket) -> tuple[str, str]:
    t.refresh_from_db()
    return t.status, t.updated_by


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acting_on_a_resolved_ticket_while_its_problem_has_a_new_open_ticket_is_refused(staff_client, device, action):
    old = ticket(device, "resolved", by="user:first")
    new = ticket(device)
    response = staff_client.post(f"/telemetry/tickets/{old.pk}/{action}")
    assert response.status_code == 409
    assert f"Ticket {old.pk} is already resolved" in response.content.decode()
    assert state(old) == ("resolved", "user:first") and state(new) == ("open", "")


def test_acknowledging_a_resolved_ticket_does_not_reopen_it_even_with_no_other_ticket(staff_client, device):
    old = ticket(device, "resolved", by="user:first")
    response = staff_client.post(f"/telemetry/tickets/{old.pk}/acknowledge", {"status": "open"}, **HX)
    assert response.status_code == 409 and "already resolved" in response.content.decode()
    assert response["Content-Type"] == "text/plain; charset=utf-8"  # a message for the page's alert, not HTML
    assert state(old) == ("resolved", "user:first")
    assert ReviewTicket.objects.exclude(status="resolved").count() == 0


def test_acknowledging_twice_keeps_who_acknowledged_first(staff_client, device):
    t = ticket(device, "acknowledged", by="user:first")
    response = staff_client.post(f"/telemetry/tickets/{t.pk}/acknowledge")
    assert response.status_code == 409 and "already acknowledged" in response.content.decode()
    assert state(t) == ("acknowledged", "user:first")


def test_an_acknowledged_ticket_can_still_be_resolved(staff_client, device):
    t = ticket(device, "acknowledged", by="user:first")
    assert staff_client.post(f"/telemetry/tickets/{t.pk}/resolve").status_code == 302
    assert state(t) == ("resolved", "user:staff")


def test_reopen_is_no_action_and_changes_nothing(staff_client, device):
    t = ticket(device, "resolved", by="user:first")
    response = staff_client.post(f"/telemetry/tickets/{t.pk}/reopen")
    assert response.status_code == 400 and "action must be acknowledge or resolve" in response.content.decode()
    assert state(t) == ("resolved", "user:first")


def test_a_customer_gets_403_and_the_ticket_is_unchanged(customer_client, device):
    t = ticket(device)
    assert customer_client.post(f"/telemetry/tickets/{t.pk}/resolve").status_code == 403
    assert state(t) == ("open", "")


def test_get_is_405(staff_client, device):
    assert staff_client.get(f"/telemetry/tickets/{ticket(device).pk}/resolve").status_code == 405
