"""Real parts for the automation tests: an OpenSSH sshd on loopback and a GnuPG keyring."""

import gzip
import hashlib
import io
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import gnupg
import pytest

from tests.conftest import SMT_SAMPLES
from tests.sshd import sshd_start

INTERVAL_HEADER = "ESIID,USAGE_DATE,REVISION_DATE,USAGE_START_TIME,USAGE_END_TIME,USAGE_KWH,ESTIMATED_ACTUAL,CONSUMPTION_SURPLUSGENERATION\n"
DAILY_HEADER = "ESIID,USAGE_DATE,REVISION_DATE,START_READING,END_READING,USAGE_KWH\n"
# Register reads: 12/14 matches the day's 85.947 kWh of intervals, 11/02 does not (52.788).
DAILY_CSV = (
    DAILY_HEADER
    + "'10443720000000002,12/14/2025,12/15/2025 07:41:22,24002.915,24088.862,85.947\n"
    + "'10443720000000002,11/02/2025,11/03/2025 07:41:22,23000.000,23052.000,52.000\n"
)


@pytest.fixture
def sshd(tmp_path):
    server = sshd_start(tmp_path / "sshd")
    yield server
    server.stop()


@pytest.fixture
def smt_sftp(sshd, settings):
    """Settings pointing the mirror at the loopback sshd; its tree is `sshd.root`."""
    settings.SMT_HOST, settings.SMT_PORT, settings.SMT_USER = "127.0.0.1", sshd.port, "root"
    settings.SMT_KEY, settings.SMT_KNOWN_HOSTS = str(sshd.client_key), str(sshd.known_hosts)
    settings.SMT_REMOTE_DIR = str(sshd.root)
    return sshd


class Keyring:
    def __init__(self, home: str):
        self.home = home
        self.gpg = gnupg.GPG(gnupghome=home)
        key = self.gpg.gen_key(
            self.gpg.gen_key_input(
                key_type="EDDSA",
                key_curve="ed25519",
                subkey_type="ECDH",
                subkey_curve="cv25519",
                name_email="csp@example.test",
                no_protection=True,
            )
        )
        self.fingerprint = key.fingerprint

    def armor(self, payload: bytes) -> bytes:
        """Encrypt `payload` to the keyring's key, ASCII-armored, like SMT's deliveries."""
        result = self.gpg.encrypt(payload, recipients=[self.fingerprint], armor=True, always_trust=True)
        assert result.ok, result.status
        return str(result).encode()


@pytest.fixture
def keyring(settings):
    home = tempfile.mkdtemp(prefix="gnupg-")
    ring = Keyring(home)
    settings.SMT_GNUPG_HOME, settings.SMT_GNUPG_PASSPHRASE = home, ""
    yield ring
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], check=False)
    shutil.rmtree(home, ignore_errors=True)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def sample(name: str) -> bytes:
    return (SMT_SAMPLES / name).read_bytes()


def build_tree(root: Path, keyring: Keyring) -> None:
    """A delivery folder like SMT's: plain CSV, gzip, and PGP-armored zips mixing both kinds."""
    ad = root / "adhocusage"
    (ad / "2025").mkdir(parents=True)
    (ad / "portal-IntervalData-2025-11-02-fall-back.csv").write_bytes(
        sample("portal-IntervalData-2025-11-02-fall-back.csv")
    )
    email = "IntervalMeterUsage202512012104421513F4F9339E4024C89B21685CA1223B8AEEML.CSV"
    (ad / "2025" / f"{email}.gz").write_bytes(gzip.compress(sample(email)))
    (ad / "IntervalMeterUsage20251215CSV.134642921.asc").write_bytes(
        keyring.armor(
            zip_bytes(
                {
                    "IntervalMeterUsage20251215.csv": sample("portal-IntervalData-2025-12-14-estimated.csv"),
                }
            )
        )
    )
    (ad / "DailyMeterUsage20251216073000CSV.134642922.asc").write_bytes(
        keyring.armor(
            zip_bytes(
                {
                    "DailyMeterUsage20251216073000.csv": DAILY_CSV.encode(),
                    "IntervalMeterUsage20250310.csv": sample("portal-IntervalData-2025-03-09-spring-forward.csv"),
                }
            )
        )
    )


def store(data: bytes, name: str = "IntervalData.csv", **hints):
    """Bytes stored as a staff upload would store them; returns the RawSmtFile."""
    from smt import storage

    return storage.raw_file_store(
        fileobj=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename=name,
        origin="staff",
        **hints,
    ).raw_file


def day_file(kwh: str, revision: str) -> bytes:
    """One day of 96 intervals of one ESIID, every interval `kwh`, all with the same revision."""
    rows = [
        f"'10443720000000002,12/14/2025,{revision},{q // 4:02d}:{q % 4 * 15:02d},00:00,{kwh},A,Consumption\n"
        for q in range(96)
    ]
    return (INTERVAL_HEADER + "".join(rows)).encode()
