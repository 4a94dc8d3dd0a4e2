"""The Django admin at /admin/database/ is what its title says: a read-only database explorer."""

import pytest
from django.contrib.auth import get_user_model
from django_q.models import Schedule

pytestmark = pytest.mark.django_db


def test_admin_title_says_read_only_and_the_index_offers_no_add_or_change(admin_client):
    page = admin_client.get("/admin/database/").content.decode()
    assert "Wattledger database (read-only)" in page
    assert "addlink" not in page and "changelink" not in page
    assert "/add/" not in page


@pytest.mark.parametrize(
    "path",
    ["/admin/database/auth/user/add/", "/admin/database/auth/group/add/", "/admin/database/django_q/schedule/add/"],
)
def test_even_a_superuser_cannot_add_users_groups_or_scheduled_tasks(admin_client, path):
    assert admin_client.get(path).status_code == 403


def test_a_scheduled_task_opens_view_only_and_a_change_post_is_refused(admin_client):
    task = Schedule.objects.create(name="smt-sftp-mirror", func="smt.tasks.sftp_mirror")
    path = f"/admin/database/django_q/schedule/{task.pk}/change/"
    page = admin_client.get(path).content.decode()
    assert 'name="_save"' not in page and "Delete" not in page
    assert admin_client.post(path, {"name": "renamed", "func": "os.system"}).status_code == 403
    assert Schedule.objects.get(pk=task.pk).name == "smt-sftp-mirror"


def test_a_users_password_cannot_be_changed_through_the_admin(admin_client, staff_user):
    path = f"/admin/database/auth/user/{staff_user.pk}/password/"
    assert admin_client.post(path, {"password1": "x-new-pass-9", "password2": "x-new-pass-9"}).status_code == 403
    assert get_user_model().objects.get(pk=staff_user.pk).check_password("staff-pass-123")


def test_model_names_read_right_in_the_admin(admin_client):
    page = admin_client.get("/admin/database/").content.decode()
    assert "Ledger entrys" not in page
    for name in (
        "Ledger entries",
        "ESIID records",
        "ERCOT ingests",
        "Raw SMT files",
        "SMT intervals",
        "SMT billing reads",
    ):
        assert name in page, name
