from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.scheduler import scheduler

from ops.management.commands.setup_schedules import SCHEDULES
from ops.models import JobRun
from smt.models import SmtInterval
from tests.smt.conftest import sample

pytestmark = pytest.mark.django_db


def test_setup_schedules_is_idempotent_and_removes_stale_ones(capsys):
    Schedule.objects.create(name="smt-old-job", func="smt.tasks.gone", schedule_type=Schedule.CRON, cron="0 * * * *")
    call_command("setup_schedules")
    assert "removed smt-old-job" in capsys.readouterr().out
    first = {s.name: (s.func, s.cron, s.next_run) for s in Schedule.objects.all()}
    call_command("setup_schedules")
    assert {s.name: (s.func, s.cron, s.next_run) for s in Schedule.objects.all()} == first
    assert set(first) == {entry["name"] for entry in SCHEDULES}
    assert first["smt-sftp-mirror"][:2] == ("smt.tasks.sftp_mirror", "*/30 * * * *")


def test_a_changed_cron_is_updated_with_a_new_next_run():
    call_command("setup_schedules")
    Schedule.objects.filter(name="smt-sftp-mirror").update(
        cron="0 0 1 1 *", next_run=timezone.now() + timedelta(days=300)
    )
    call_command("setup_schedules")
    schedule = Schedule.objects.get(name="smt-sftp-mirror")
    assert schedule.cron == "*/30 * * * *" and schedule.next_run <= timezone.now() + timedelta(minutes=30)


def test_the_mirror_schedule_fires_and_records_a_run(smt_sftp):
    (smt_sftp.root / "portal.csv").write_bytes(sample("portal-IntervalData-2025-11-02-fall-back.csv"))
    call_command("setup_schedules")
    Schedule.objects.update(next_run=timezone.now() + timedelta(hours=1))
    due = timezone.now() - timedelta(seconds=1)
    Schedule.objects.filter(name="smt-sftp-mirror").update(next_run=due)
    scheduler(broker=get_broker())  # tasks run inline in tests (sync)
    job = JobRun.objects.get()
    assert (job.kind, job.trigger, job.status) == ("mirror", "schedule", "succeeded")
    assert SmtInterval.objects.count() == 100
    # Moved on to its next half hour (which may be this very second when run at :00 or :30).
    assert Schedule.objects.get(name="smt-sftp-mirror").next_run > due
