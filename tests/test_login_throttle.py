"""/login/ and the admin sign-in: repeated failures lock out a user name from an address."""

import pytest
from django.core.cache import caches

pytestmark = pytest.mark.django_db
LOGIN = "/login/"


@pytest.fixture(autouse=True)
def _fresh_counts(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 6
    caches["login-throttle"].clear()
    yield
    caches["login-throttle"].clear()


def sign_in(client, password: str, *, username: str = "staff", address: str = "203.0.113.7", path: str = LOGIN):
    return client.post(path, {"username": username, "password": password}, HTTP_X_FORWARDED_FOR=f"10.9.9.9, {address}")


def test_the_right_password_after_the_limit_of_failures_is_refused_with_429(client, staff_user):
    for _ in range(3):
        assert sign_in(client, "wrong").status_code == 200
    response = sign_in(client, "staff-pass-123")
    assert response.status_code == 429
    assert (
        "Too many failed sign-ins" in response.content.decode()
        and "try again in 15 minutes" in response.content.decode()
    )
    assert "_auth_user_id" not in client.session


def test_a_success_before_the_limit_clears_the_count(client, staff_user):
    sign_in(client, "wrong")
    sign_in(client, "wrong")
    assert sign_in(client, "staff-pass-123").status_code == 302
    client.logout()
    sign_in(client, "wrong")
    sign_in(client, "wrong")
    assert sign_in(client, "staff-pass-123").status_code == 302


def test_the_lockout_holds_the_user_at_that_address_only(client, staff_user):
    for _ in range(3):
        sign_in(client, "wrong")
    assert sign_in(client, "staff-pass-123", address="198.51.100.2").status_code == 302


def test_many_user_names_from_one_address_lock_the_address(client, staff_user):
    for n in range(6):
        sign_in(client, "wrong", username=f"guess{n}")
    assert sign_in(client, "staff-pass-123").status_code == 429


def test_the_counts_are_shared_through_the_database_not_one_process(staff_user):
    from django.core.cache.backends.db import DatabaseCache

    assert isinstance(caches["login-throttle"], DatabaseCache)


def test_the_admin_sign_in_is_throttled_too(client, staff_user):
    for _ in range(3):
        sign_in(client, "wrong", path="/admin/database/login/")
    response = sign_in(client, "staff-pass-123", path="/admin/database/login/")
    assert response.status_code == 200 and "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session
