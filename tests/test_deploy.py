"""deploy/: the production settings pass Django's deploy checks, and the nginx site in front of
a real gunicorn (started from deploy/gunicorn.conf.py) limits bodies like the app does."""

import contextlib
import datetime
import functools
import http.client
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, free_port, wait_for_url

DEPLOY = ROOT / "deploy"
SITE = DEPLOY / "nginx-wattledger.conf"
UPLOAD_LOCATIONS = ("/upload", "/api/admin/smt/raw-upload")
SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
CRON_SECRET = secrets.token_urlsafe(24)
ADMIN_TOKEN = secrets.token_urlsafe(24)


def env_file(path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def production_env(tmp_path) -> dict[str, str]:
    """deploy/wattledger.env.example as the units read it, with a real secret in a file."""
    secret = tmp_path / "secret_key"
    secret.write_text(secrets.token_urlsafe(50))
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "DATABASE_URL")}
    values = env_file(DEPLOY / "wattledger.env.example")
    values |= {"SECRET_KEY_FILE": str(secret), "MEDIA_ROOT": str(tmp_path / "media"), "FILE_UPLOAD_TEMP_DIR": ""}
    return keep | values


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@functools.cache
def default_max_bytes() -> int:
    """The settings' default, read with SMT_UPLOAD_MAX_BYTES unset."""
    env = {k: v for k, v in os.environ.items() if k != "SMT_UPLOAD_MAX_BYTES"}
    out = manage(env, "shell", "-c", "from django.conf import settings; print(settings.SMT_UPLOAD_MAX_BYTES)")
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1])


def nginx_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", value).groups()
    return int(number) * SIZE_UNITS[unit.lower()]


def test_check_deploy_is_clean_with_the_production_env_file(tmp_path):
    out = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


def test_env_example_names_only_variables_the_settings_read():
    known = set(env_file(ROOT / ".env.example")) | {"DJANGO_SETTINGS_MODULE"}
    deploy = set(env_file(DEPLOY / "wattledger.env.example"))
    settings_source = (ROOT / "config" / "settings.py").read_text() + (DEPLOY / "gunicorn.conf.py").read_text()
    unknown = {name for name in deploy - known if name.removesuffix("_FILE") not in settings_source}
    assert not unknown


def test_nginx_body_limit_equals_the_upload_limit_default():
    limits = re.findall(r"client_max_body_size\s+(\S+);", SITE.read_text())
    assert limits and {nginx_bytes(limit) for limit in limits} == {default_max_bytes()}
    assert int(env_file(DEPLOY / "wattledger.env.example")["SMT_UPLOAD_MAX_BYTES"]) == default_max_bytes()


def test_nginx_streams_both_upload_paths_without_buffering():
    text = SITE.read_text()
    for path in UPLOAD_LOCATIONS:
        block = re.search(r"location = " + re.escape(path) + r" \{(.*?)\}", text, re.S)
        assert block, f"no exact location for {path}"
        assert "proxy_request_buffering off;" in block[1]
        assert "proxy_http_version 1.1;" in block[1]


# ---------------------------------------------------------------- nginx + gunicorn, for real


def self_signed(tmp_path) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meters.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


def nginx_config(tmp_path, *, sock: str, port: int) -> str:
    """The deploy site, unchanged but for ports, certificate and socket paths."""
    cert, key = self_signed(tmp_path)
    site = SITE.read_text().replace("/run/wattledger/gunicorn.sock", sock).replace("/var/log/nginx/", f"{tmp_path}/")
    site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{free_port()};").replace(
        "listen 443 ", f"listen 127.0.0.1:{port} "
    )
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)
    (tmp_path / "site.conf").write_text(site)
    temps = " ".join(
        f"{kind}_temp_path {tmp_path}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"user root; daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{ access_log off; {temps} include {tmp_path}/site.conf; }}\n"
    )
    return str(conf)


@contextlib.contextmanager
def site_running(tmp_path, **env_overrides: str):
    """gunicorn (deploy/gunicorn.conf.py) on a unix socket, nginx (the deploy site) on TLS in front.

    gunicorn's access log goes to tmp_path/gunicorn.out, nginx's to tmp_path/wattledger.access.log.
    """
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    sock, port = str(tmp_path / "gunicorn.sock"), free_port()
    conf = nginx_config(tmp_path, sock=sock, port=port)
    check = subprocess.run([nginx, "-t", "-c", conf], check=False, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    env = production_env(tmp_path) | {
        "GUNICORN_BIND": f"unix:{sock}",
        "ALLOWED_HOSTS": "meters.example.com",
        "PYTHONUNBUFFERED": "1",
        "CRON_SECRET": CRON_SECRET,
        "ADMIN_TOKEN": ADMIN_TOKEN,
    }
    with (tmp_path / "gunicorn.out").open("w") as out, (tmp_path / "gunicorn.log").open("w") as err:
        gunicorn = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "deploy/gunicorn.conf.py", "config.wsgi:application"],
            cwd=ROOT,
            env=env | env_overrides,
            stdout=out,
            stderr=err,
        )
    server = subprocess.Popen([nginx, "-c", conf], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.1)
        yield port
    finally:
        for proc in (server, gunicorn):
            proc.terminate()
            proc.wait(15)


@pytest.fixture
def proxied_site(tmp_path):
    with site_running(tmp_path, GUNICORN_WORKERS="1") as port:
        yield port


def https(port: int, method: str, path: str, headers: dict | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ssl._create_unverified_context(), timeout=20)
    conn.putrequest(method, path, skip_host=True)
    for name, value in {"Host": "meters.example.com", **(headers or {})}.items():
        conn.putheader(name, value)
    conn.endheaders()
    response = conn.getresponse()
    return response.status, response.read()


def test_nginx_proxies_to_gunicorn_and_refuses_bodies_over_the_limit(proxied_site):
    status, body = https(proxied_site, "GET", "/health")
    assert (
        status == 200 and b'"maxBytes": %d' % default_max_bytes() in body
    )  # no https redirect loop: the proto header arrives
    for path in UPLOAD_LOCATIONS:
        status, _ = https(proxied_site, "POST", path, {"Content-Length": str(default_max_bytes() + 1)})
        assert status == 413  # nginx, before one body byte is read
        status, body = https(
            proxied_site, "POST", path, {"Content-Length": "0", "Content-Type": "multipart/form-data; boundary=x"}
        )
        assert status == 401 and b"authentication required" in body, (
            body
        )  # the app answered through the unbuffered location


def log_text(path, *, containing: str, seconds: float = 10) -> str:
    """A log file once it holds `containing` (each server writes its line after the answer)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if containing in text:
            return text
        time.sleep(0.1)
    return path.read_text() if path.exists() else ""


def test_the_cron_secret_in_a_query_string_is_scrubbed_from_nginx_and_gunicorn_logs(proxied_site, tmp_path):
    status, body = https(proxied_site, "GET", f"/api/admin/ercot/cron/health?token={CRON_SECRET}&x=1")
    assert status == 200 and b'"method"' in body  # the secret was accepted
    status, _ = https(proxied_site, "GET", "/api/admin/ercot/cron/health", {"X-Cron-Token": CRON_SECRET})
    assert status == 200
    nginx_log = log_text(tmp_path / "wattledger.access.log", containing="token=[scrubbed]&x=1")
    gunicorn_log = log_text(tmp_path / "gunicorn.out", containing="token=[scrubbed]&x=1")
    for text in (nginx_log, gunicorn_log):
        assert "/api/admin/ercot/cron/health?token=[scrubbed]&x=1" in text
        assert CRON_SECRET not in text


def slow_upload(port: int, address: str) -> ssl.SSLSocket:
    """An authorised upload that sends its headers and one body byte, then stalls."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=20, source_address=(address, 0))
    conn = ssl._create_unverified_context().wrap_socket(raw, server_hostname="meters.example.com")
    conn.sendall(
        f"POST /upload HTTP/1.1\r\nHost: meters.example.com\r\nX-Admin-Token: {ADMIN_TOKEN}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000\r\n\r\n-".encode()
    )
    return conn


def answered_status(conn: ssl.SSLSocket, seconds: float) -> int | None:
    """The status nginx answered within `seconds`, or None while the upload is still held open."""
    conn.settimeout(seconds)
    try:
        line = conn.recv(64)
    except (TimeoutError, ssl.SSLError):
        return None
    return int(line.split()[1]) if line else None


def database_url(connection) -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def test_slow_uploads_are_capped_per_address_and_in_all_and_health_still_answers(tmp_path, transactional_db):
    from django.db import connection

    # The production sizing, 3 workers x 8 threads, on the test database: each upload is
    # authorised and streams into the app, holding a gunicorn thread while it stalls.
    with site_running(tmp_path, DATABASE_URL=database_url(connection)) as port:
        assert https(port, "GET", "/health")[0] == 200
        conns = [slow_upload(port, "127.0.0.50") for _ in range(3)]
        conns += [slow_upload(port, f"127.0.1.{n}") for n in range(1, 13)]
        try:
            statuses = [answered_status(conn, 1.5) for conn in conns]
            assert statuses[:3].count(429) == 1 and statuses[:3].count(None) == 2  # 2 per address
            assert statuses[3:].count(None) == 10 and statuses[3:].count(429) == 2  # 12 in all
            started = time.monotonic()
            status, _ = https(port, "GET", "/health")
            assert status == 200 and time.monotonic() - started < 2
        finally:
            for conn in conns:
                conn.close()


def test_make_check_deploy_runs_the_deploy_checks_on_the_example_env():
    out = subprocess.run(
        ["make", "-s", "check-deploy"], check=False, cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "System check identified no issues" in out.stdout


def test_check_deploy_fails_on_a_warning_naming_it(tmp_path):
    weak = tmp_path / "weak.env"
    weak.write_text(
        (DEPLOY / "wattledger.env.example").read_text().replace("SECURE_HSTS_SECONDS=31536000", "SECURE_HSTS_SECONDS=0")
    )
    out = subprocess.run(
        [str(ROOT / "bin/check-deploy.sh"), str(weak)],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode != 0
    assert "security.W004" in out.stdout + out.stderr


def test_runserver_logs_the_cron_request_with_its_token_scrubbed(tmp_path, db):
    from django.db import connection

    port = free_port()
    env = os.environ | {"CRON_SECRET": CRON_SECRET, "PYTHONUNBUFFERED": "1", "DATABASE_URL": database_url(connection)}
    log = tmp_path / "runserver.log"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        wait_for_url(f"http://127.0.0.1:{port}/health")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        conn.request("GET", f"/api/admin/ercot/cron/health?token={CRON_SECRET}")
        assert conn.getresponse().status == 200
        text = log_text(log, containing="token=[scrubbed]")
    finally:
        server.terminate()
        server.wait(15)
    assert "GET /api/admin/ercot/cron/health?token=[scrubbed] HTTP/1.1" in text
    assert CRON_SECRET not in text
