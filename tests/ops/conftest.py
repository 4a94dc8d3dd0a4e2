from datetime import timedelta

import pytest
from django.utils import timezone

from ops.models import Monitor
from ops.monitors import monitors_check


@pytest.fixture
def check(django_capture_on_commit_callbacks):
    """Run monitors_check for some kinds at a given offset from now; queued sends run inline."""

    def run(*kinds: str, hours: float = 0, minutes: float = 0):
        with django_capture_on_commit_callbacks(execute=True):
            return monitors_check(now=timezone.now() + timedelta(hours=hours, minutes=minutes), kinds=kinds).changed

    return run


def state(kind: str, key: str) -> str:
    return Monitor.objects.get(kind=kind, key=key).state
