"""The subscriber against a Mosquitto that wants TLS or a password: the right CA or password
stores readings, a wrong one stores nothing, says why in the log and keeps retrying."""

import json
import subprocess
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from urllib.parse import quote

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.management.base import CommandError
from django.db.models import Sum
from paho.mqtt.enums import CallbackAPIVersion

from telemetry.models import LedgerEntry, RawEvent
from tests.telemetry.conftest import broker_running, connected, subscriber_running, wait_until

USER = "meter-1"


def certificate(subject: str, key, issuer: str, issuer_key, *, ca: bool) -> x509.Certificate:
    """A one-day certificate; a CA one, or a server one for 127.0.0.1 and localhost."""
    name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])  # noqa: E731
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def pem_write(path, cert: x509.Certificate) -> str:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


@pytest.fixture
def certs(tmp_path) -> dict[str, str]:
    """Paths: ca (signed the server's certificate), server, server_key, and other_ca (did not)."""
    folder = tmp_path / "certs"
    folder.mkdir()
    ca_key, other_key, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return {
        "ca": pem_write(
            folder / "ca.pem", certificate("Wattledger test CA", ca_key, "Wattledger test CA", ca_key, ca=True)
        ),
        "other_ca": pem_write(
            folder / "other.pem", certificate("Someone else's CA", other_key, "Someone else's CA", other_key, ca=True)
        ),
        "server": pem_write(
            folder / "server.pem", certificate("127.0.0.1", server_key, "Wattledger test CA", ca_key, ca=False)
        ),
        "server_key": str(folder / "server.key"),
    }


@pytest.fixture
def tls_broker(tmp_path, certs):
    with broker_running(tmp_path / "tls-broker", tls=(certs["ca"], certs["server"], certs["server_key"])) as own:
        yield own


@pytest.fixture
def password_broker(tmp_path, request):
    """(broker, password): a broker that knows USER with the password the test is parametrized with."""
    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwords), USER, request.param], check=True)
    with broker_running(tmp_path / "password-broker", password_file=passwords) as own:
        yield own, request.param


def reading(seq: int) -> str:
    return json.dumps({"energy_wh_total": 100 + seq * 7, "ts": 1772344800 + seq * 60, "seq": seq})


def retried(sub, text: str, seconds: float = 15) -> str:
    """Waits until `text` has shown up in the subscriber's log twice (a retry), the process still running."""
    log = wait_until(
        lambda: sub.log_path.read_text().count(text) >= 2 and sub.log_path.read_text(), seconds, f"{text!r} twice"
    )
    assert sub.proc.poll() is None
    return log


def test_readings_published_over_tls_are_stored_and_in_the_ledger(
    transactional_db, tls_broker, certs, prefix, tmp_path
):
    with subscriber_running(tls_broker.url, prefix, tmp_path / "sub.log", MQTT_CA_FILE=certs["ca"]) as sub:
        connected(sub)
        assert "MQTT connected" in sub.log_path.read_text()
        for seq in range(3):
            tls_broker.pub(f"{prefix}/esp-t/telemetry", reading(seq))
        publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{prefix}-pub")
        publisher.tls_set(ca_certs=certs["ca"])  # checks the name too: the certificate is for 127.0.0.1
        publisher.connect("127.0.0.1", tls_broker.port)
        publisher.loop_start()
        publisher.publish(f"{prefix}/esp-t/telemetry", reading(3), qos=1).wait_for_publish(10)
        publisher.disconnect()
        publisher.loop_stop()
        wait_until(lambda: RawEvent.objects.count() == 4, what="four readings")
        assert sub.stop() == 0
    assert LedgerEntry.objects.current().aggregate(s=Sum("delta_wh"))["s"] == 21


def test_subscriber_given_the_wrong_ca_stores_nothing_logs_why_and_keeps_retrying(
    transactional_db, tls_broker, certs, prefix, tmp_path
):
    with subscriber_running(tls_broker.url, prefix, tmp_path / "sub.log", MQTT_CA_FILE=certs["other_ca"]) as sub:
        wait_until(lambda: "subscribing to" in sub.log_path.read_text(), what="the subscriber to start")
        tls_broker.pub(f"{prefix}/esp-t/telemetry", reading(0))
        log = retried(sub, "certificate verify failed")
        assert "MQTT connected" not in log and "Traceback" not in log
        assert sub.stop() == 0
    assert RawEvent.objects.count() == 0


def test_subscriber_with_a_missing_ca_file_stops_with_a_clear_message(settings, tmp_path):
    from telemetry.management.commands.telemetry_subscribe import Command

    settings.MQTT_URL, settings.MQTT_CA_FILE = "mqtts://127.0.0.1:8883", str(tmp_path / "nope.pem")
    with pytest.raises(CommandError, match="MQTT_CA_FILE"):
        Command().subscriber()


@pytest.mark.parametrize("password_broker", ["s3cret-Pw", "p@ss:w/rd%"], indirect=True)
def test_subscriber_with_the_password_in_the_url_percent_encoded_stores_readings(
    transactional_db, password_broker, prefix, tmp_path
):
    broker, password = password_broker
    url = f"mqtt://{USER}:{quote(password, safe='')}@127.0.0.1:{broker.port}"
    with subscriber_running(url, prefix, tmp_path / "sub.log") as sub:
        connected(sub)
        for seq in range(2):
            broker.pub(f"{prefix}/esp-p/telemetry", reading(seq), "-u", USER, "-P", password)
        wait_until(lambda: RawEvent.objects.count() == 2, what="two readings")
        assert sub.stop() == 0
        log = sub.log_path.read_text()
    assert "MQTT connected" in log and password not in log and quote(password, safe="") not in log


@pytest.mark.parametrize("password_broker", ["s3cret-Pw"], indirect=True)
def test_subscriber_with_a_wrong_password_is_refused_logs_the_reason_not_the_password(
    transactional_db, password_broker, prefix, tmp_path
):
    broker, password = password_broker
    wrong = "wr0ng-Guess"
    url = f"mqtt://{USER}:{wrong}@127.0.0.1:{broker.port}"
    with subscriber_running(url, prefix, tmp_path / "sub.log") as sub:
        wait_until(lambda: "subscribing to" in sub.log_path.read_text(), what="the subscriber to start")
        broker.pub(f"{prefix}/esp-p/telemetry", reading(0), "-u", USER, "-P", password)
        log = retried(sub, "refused the connection")
        assert "Not authorized (135)" in log and "MQTT connected" not in log and "disconnected" not in log
        assert sub.stop() == 0
        log = sub.log_path.read_text()
    assert wrong not in log and password not in log
    assert RawEvent.objects.count() == 0
