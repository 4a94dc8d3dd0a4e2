from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from config.texas import CENTRAL
from smt import usage
from smt.models import House, RawSmtFile, SmtInterval

pytestmark = pytest.mark.django_db


def test_demo_data_covers_recent_days_with_visible_gaps_and_loads_once(capsys, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("load_demo_data", days=60)
    assert RawSmtFile.objects.filter(source="demo", status="normalized").count() == 3
    yesterday = timezone.localdate(timezone=CENTRAL) - timedelta(days=1)
    whole = usage.daily_summary(
        esiid="10443720000000101", meter=None, start=yesterday - timedelta(days=59), end=yesterday
    )
    assert len(whole) == 60 and all(d.completeness == 1 for d in whole)
    afternoon = usage.daily_summary(
        esiid="10443720000000102", meter=None, start=yesterday - timedelta(days=20), end=yesterday - timedelta(days=20)
    )[0]
    assert afternoon.found == afternoon.expected - 16 and len(afternoon.gaps) == 1
    lost_day = usage.daily_summary(
        esiid="10443720000000103", meter=None, start=yesterday - timedelta(days=39), end=yesterday - timedelta(days=39)
    )[0]
    assert lost_day.found == 0
    count = SmtInterval.objects.count()
    call_command("load_demo_data", days=60)
    assert "already loaded" in capsys.readouterr().out
    assert SmtInterval.objects.count() == count and RawSmtFile.objects.count() == 3
    # The demo customer owns the first meter and can sign in with the printed password.
    house = House.objects.get()
    assert house.customer.username == "customer" and not house.customer.is_staff and house.esiid == "10443720000000101"
    password = (Path(settings.VAR_DIR) / "customer-password").read_text().strip()
    assert house.customer.check_password(password)
