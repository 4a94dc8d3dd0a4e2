import os
import subprocess

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from ops.jobs import job_run_create, job_run_record
from ops.models import JobRun
from smt import mirror, sftp
from smt.models import MirroredFile, RawSmtFile, SmtBillingRead, SmtInterval
from tests.smt.conftest import build_tree, sample

pytestmark = pytest.mark.django_db


def test_mirror_ingests_plain_gzip_and_pgp_bundles_and_a_second_run_fetches_nothing(smt_sftp, keyring):
    build_tree(smt_sftp.root, keyring)
    job = mirror.mirror_run(trigger=JobRun.Trigger.COMMAND)
    assert job.status == "succeeded", job.log
    assert job.counts["listed"] == 4 and job.counts["fetched"] == 4 and job.counts["ingested"] == 4
    # 100 (fall back) + 96 (e-mail, gzip) + 96 (bundle) + 92 (spring forward, in the daily bundle)
    assert SmtInterval.objects.count() == 384
    assert SmtBillingRead.objects.count() == 2
    bundles = RawSmtFile.objects.filter(kind="bundle")
    assert bundles.count() == 2 and all(b.status == "normalized" for b in bundles)
    daily = bundles.get(filename__startswith="DailyMeterUsage")
    members = {m.filename: m for m in daily.members.all()}
    assert set(members) == {"DailyMeterUsage20251216073000.csv", "IntervalMeterUsage20250310.csv"}
    assert members["DailyMeterUsage20251216073000.csv"].kind == "billing"
    assert members["IntervalMeterUsage20250310.csv"].kind == "interval"
    assert all(m.status == "normalized" for m in members.values())
    read = SmtBillingRead.objects.get(read_date="2025-12-14")
    assert read.raw_file == members["DailyMeterUsage20251216073000.csv"] and read.row_number == 2
    assert MirroredFile.objects.count() == 4
    assert RawSmtFile.objects.count() == 7  # 4 fetched + 3 bundle members
    origins = {f.filename: f.origin for f in RawSmtFile.objects.all()}
    assert origins == {
        name: "member" if name in members or name == "IntervalMeterUsage20251215.csv" else "mirror" for name in origins
    }

    again = mirror.mirror_run(trigger=JobRun.Trigger.COMMAND)
    assert again.status == "succeeded"
    assert again.counts == {"listed": 4, "unchanged": 4}
    assert RawSmtFile.objects.count() == 7 and SmtInterval.objects.count() == 384


def test_a_corrupt_asc_fails_alone_with_gpgs_reason(smt_sftp, keyring):
    (smt_sftp.root / "portal.csv").write_bytes(sample("portal-IntervalData-2025-11-02-fall-back.csv"))
    armored = bytearray(keyring.armor(b"PK\x03\x04 not really a zip"))
    armored[80:84] = b"AAAA"
    (smt_sftp.root / "IntervalMeterUsage1CSV.1.asc").write_bytes(bytes(armored))
    job = mirror.mirror_run(trigger=JobRun.Trigger.COMMAND)
    assert job.status == "partial" and job.counts["ingestFailed"] == 1 and job.counts["ingested"] == 1
    bad = RawSmtFile.objects.get(filename="IntervalMeterUsage1CSV.1.asc")
    assert bad.status == "failed" and bad.error.startswith("gpg: ")
    assert "IntervalMeterUsage1CSV.1.asc" in job.log and bad.error in job.log
    assert SmtInterval.objects.count() == 100


def test_a_bundle_for_another_key_fails_with_no_secret_key(smt_sftp, keyring, settings, tmp_path):
    (smt_sftp.root / "b.CSV.7.asc").write_bytes(keyring.armor(b"x"))
    settings.SMT_GNUPG_HOME = str(tmp_path / "empty-keyring")
    os.makedirs(settings.SMT_GNUPG_HOME, mode=0o700)
    try:
        job = mirror.mirror_run(trigger=JobRun.Trigger.COMMAND)
    finally:
        subprocess.run(["gpgconf", "--homedir", settings.SMT_GNUPG_HOME, "--kill", "gpg-agent"], check=False)
    assert job.status == "partial"
    assert "No secret key" in RawSmtFile.objects.get().error


def test_a_changed_host_key_is_refused_and_nothing_is_fetched(smt_sftp, tmp_path):
    (smt_sftp.root / "portal.csv").write_bytes(b"x")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    smt_sftp.write_known_hosts(smt_sftp.known_hosts, tmp_path / "other.pub")
    with pytest.raises(sftp.SftpError, match="CHANGED"):
        mirror.mirror_run(trigger=JobRun.Trigger.COMMAND)
    job = JobRun.objects.get()
    assert job.status == "failed" and "CHANGED" in job.error
    assert RawSmtFile.objects.count() == 0


def test_an_unknown_host_is_refused(smt_sftp):
    smt_sftp.known_hosts.write_text("")
    with pytest.raises(sftp.SftpError, match="is unknown \\(not in SMT_KNOWN_HOSTS\\)"):
        mirror.mirror_run(trigger=JobRun.Trigger.COMMAND)
    assert JobRun.objects.get().status == "failed"


def test_a_file_that_vanishes_mid_run_fails_alone(smt_sftp):
    (smt_sftp.root / "portal.csv").write_bytes(sample("portal-IntervalData-2025-11-02-fall-back.csv"))
    job = job_run_create(kind="mirror", trigger="command")
    config = mirror.sftp_config()
    with job_run_record(job=job) as recorder, sftp.sftp_session(config) as client:
        entries = mirror.mirror_changed(sftp.sftp_walk(client, config.remote_dir), recorder)
        gone = sftp.RemoteEntry(path=f"{smt_sftp.root}/listed-then-deleted.csv", size=10, mtime=1)
        mirror.mirror_fetch_all(client, config, [gone, *entries], recorder, ingest_files=True)
    job.refresh_from_db()
    assert job.status == "partial" and job.counts["failed"] == 1 and job.counts["ingested"] == 1
    assert "listed-then-deleted.csv: fetch failed: No such file" in job.log
    assert SmtInterval.objects.count() == 100


@pytest.mark.parametrize("connections", [1, 4])
def test_many_files_over_one_or_several_connections_arrive_once_each(smt_sftp, settings, connections):
    settings.SMT_SFTP_CONNECTIONS = connections
    for n in range(12):
        (smt_sftp.root / f"f{n:02d}.bin").write_bytes(bytes([n]) * (300_000 + n))  # above the read probe size
    job = mirror.mirror_run(trigger=JobRun.Trigger.COMMAND, ingest_files=False)
    assert job.counts["fetched"] == 12 and job.counts["bytes"] == sum(300_000 + n for n in range(12))
    for n in range(12):
        raw = RawSmtFile.objects.get(filename=f"f{n:02d}.bin")
        with default_storage.open(raw.storage_key, "rb") as stored:
            assert stored.read() == bytes([n]) * (300_000 + n)


def test_a_refused_extra_connection_leaves_the_others_to_finish(smt_sftp, settings):
    settings.SMT_SFTP_CONNECTIONS = 3
    for n in range(4):
        (smt_sftp.root / f"f{n}.bin").write_bytes(bytes([n]) * 1000)
    config = mirror.sftp_config()
    job = job_run_create(kind="mirror", trigger="command")
    with job_run_record(job=job) as recorder, sftp.sftp_session(config) as client:
        smt_sftp.known_hosts.write_text("")  # new connections are refused from now on
        entries = list(sftp.sftp_walk(client, config.remote_dir))
        mirror.mirror_fetch_all(client, config, entries, recorder, ingest_files=False)
    job.refresh_from_db()
    assert job.counts["fetched"] == 4 and "an extra connection was refused" in job.log
    assert job.status == "succeeded"


def test_a_touched_file_is_fetched_again_but_not_ingested_twice(smt_sftp):
    path = smt_sftp.root / "portal.csv"
    path.write_bytes(sample("portal-IntervalData-2025-11-02-fall-back.csv"))
    mirror.mirror_run(trigger=JobRun.Trigger.COMMAND)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    job = mirror.mirror_run(trigger=JobRun.Trigger.COMMAND)
    assert job.counts["fetched"] == 1 and job.counts["duplicates"] == 1
    assert MirroredFile.objects.get().mtime == 1_700_000_000
    assert RawSmtFile.objects.count() == 1


def test_unconfigured_mirror_fails_naming_the_variables(settings):
    settings.SMT_HOST = ""
    with pytest.raises(sftp.SftpError, match="set SMT_HOST"):
        mirror.mirror_run(trigger=JobRun.Trigger.MANUAL)
    assert JobRun.objects.get().error.startswith("SftpError: SFTP mirror is not configured")


def test_the_schedule_skips_quietly_where_no_smt_host_is_set(settings):
    settings.SMT_HOST = ""
    job = mirror.mirror_run(trigger=JobRun.Trigger.SCHEDULE)
    assert job.status == "skipped" and "SMT_HOST is not set" in job.error


def test_a_second_run_is_skipped_while_one_is_running(smt_sftp):
    running = job_run_create(kind="mirror", trigger="schedule")
    with job_run_record(job=running):
        job = mirror.mirror_run(trigger=JobRun.Trigger.MANUAL)
    assert job.status == "skipped" and f"#{running.pk}" in job.error


def test_smt_mirror_command_prints_the_counts(smt_sftp, capsys):
    (smt_sftp.root / "portal.csv").write_bytes(sample("portal-IntervalData-2025-11-02-fall-back.csv"))
    call_command("smt_mirror")
    assert "succeeded: listed 1, fetched 1, fetched size 8.1\xa0KB, ingested 1" in capsys.readouterr().out
    assert JobRun.objects.get().trigger == "command"


def test_smt_mirror_command_fails_on_a_refused_host(smt_sftp):
    smt_sftp.known_hosts.write_text("")
    with pytest.raises(CommandError, match="is unknown \\(not in SMT_KNOWN_HOSTS\\)"):
        call_command("smt_mirror")


def test_a_folder_that_cannot_be_listed_fails_alone(smt_sftp):
    (smt_sftp.root / "portal.csv").write_bytes(sample("portal-IntervalData-2025-11-02-fall-back.csv"))
    (smt_sftp.root / "broken").symlink_to(smt_sftp.root / "missing-target")
    (smt_sftp.root / "locked").mkdir()
    job = job_run_create(kind="mirror", trigger="command")
    seen = []
    with job_run_record(job=job), sftp.sftp_session(mirror.sftp_config()) as client:
        # The folder vanishes between its parent's listing and its own.
        walk = sftp.sftp_walk(client, str(smt_sftp.root), on_error=lambda folder, exc: seen.append(folder))
        first = next(walk)
        (smt_sftp.root / "locked").rmdir()
        rest = list(walk)
    assert [e.path.rsplit("/", 1)[-1] for e in [first, *rest]] == ["portal.csv"]
    assert seen == [f"{smt_sftp.root}/locked"]


def test_an_unlistable_remote_root_fails_the_run(smt_sftp, settings):
    settings.SMT_REMOTE_DIR = str(smt_sftp.root / "no-such-folder")
    with pytest.raises(FileNotFoundError):
        mirror.mirror_run(trigger=JobRun.Trigger.COMMAND)
    assert JobRun.objects.get().status == "failed"


def test_an_encrypted_client_key_needs_its_passphrase(smt_sftp, settings, tmp_path):
    key = tmp_path / "protected_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "open sesame", "-f", str(key)], check=True)
    with open(smt_sftp.folder / "authorized_keys", "a") as keys:
        keys.write((tmp_path / "protected_key.pub").read_text())
    (smt_sftp.root / "portal.csv").write_bytes(sample("portal-IntervalData-2025-11-02-fall-back.csv"))
    settings.SMT_KEY = str(key)
    with pytest.raises(sftp.SftpError, match="set SMT_KEY_PASSPHRASE"):
        mirror.mirror_run(trigger=JobRun.Trigger.COMMAND)
    settings.SMT_KEY_PASSPHRASE = "wrong"
    with pytest.raises(sftp.SftpError, match="wrong SMT_KEY_PASSPHRASE"):
        mirror.mirror_run(trigger=JobRun.Trigger.COMMAND)
    settings.SMT_KEY_PASSPHRASE = "open sesame"
    assert mirror.mirror_run(trigger=JobRun.Trigger.COMMAND).status == "succeeded"
