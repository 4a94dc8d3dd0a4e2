import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ops.models import JobRun
from smt.views.hooks import WEBHOOK_SECRET_HEADERS
from tests.conftest import free_port
from tests.smt.conftest import sample

pytestmark = pytest.mark.django_db
SECRET = "webhook-secret-5b1f"


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.INTELLIWATT_WEBHOOK_SECRET = SECRET
    settings.SMT_PROXY_TOKEN = "proxy-token-77"
    settings.SMT_USERNAME, settings.SMT_PASSWORD = "csp-user", "smt-password-c0ffee"


def post(client, body, **headers):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/trigger/smt-now", data, content_type="application/json", headers=headers)


@pytest.mark.parametrize("header", WEBHOOK_SECRET_HEADERS)
def test_each_secret_header_queues_a_mirror_run_for_the_esiid(client, header, caplog):
    caplog.set_level(logging.INFO)
    response = post(
        client, {"reason": "smt_authorized", "esiid": "'10443720000000002", "houseId": 9}, **{header: SECRET}
    )
    assert response.status_code == 202
    body = response.json()
    job = JobRun.objects.get()
    assert body["queued"] is True and body["jobId"] == job.pk and body["esiid"] == "10443720000000002"
    assert (job.kind, job.trigger, job.esiid) == ("mirror", "webhook", "10443720000000002")
    assert header in caplog.text and SECRET not in caplog.text


def test_the_queued_run_mirrors_and_reports_what_arrived_for_the_esiid(client, smt_sftp):
    (smt_sftp.root / "portal.csv").write_bytes(sample("portal-IntervalData-2025-11-02-fall-back.csv"))
    response = post(client, {"reason": "smt_authorized", "esiid": "10443720000000002"}, **{"x-smt-secret": SECRET})
    job = JobRun.objects.get(pk=response.json()["jobId"])
    assert job.status == "succeeded" and job.counts["esiidIntervals"] == 100
    assert client.get(response.json()["url"]).status_code == 302  # the run's page is for staff


@pytest.mark.parametrize("headers", [{}, {"x-webhook-secret": "wrong"}, {"x-admin-token": SECRET}])
def test_a_missing_or_wrong_secret_gets_401_and_queues_nothing(client, headers, caplog):
    response = post(client, {"reason": "smt_authorized", "esiid": "10443720000000002"}, **headers)
    assert response.status_code == 401 and "x-intelliwatt-secret" in response.json()["error"]
    assert JobRun.objects.count() == 0 and "wrong" not in caplog.text


def test_no_configured_secret_refuses_everyone(client, settings):
    settings.INTELLIWATT_WEBHOOK_SECRET = ""
    assert post(client, {"reason": "x"}, **{"x-webhook-secret": ""}).status_code == 401


@pytest.mark.parametrize(
    "body, problem",
    [
        ("{not json", "body must be JSON"),
        ("[1, 2]", "JSON object"),
        ({"esiid": "10443720000000002"}, "'reason'"),
        ({"reason": "smt_authorized"}, "needs 'esiid'"),
        ({"reason": "smt_authorized", "esiid": "1234"}, "needs 'esiid'"),
    ],
)
def test_bad_bodies_get_400_naming_the_problem(client, body, problem):
    response = post(client, body, **{"x-proxy-secret": SECRET})
    assert response.status_code == 400 and problem in response.json()["error"]
    assert JobRun.objects.count() == 0


def test_other_reasons_are_logged_and_accepted_without_a_run(client, caplog):
    caplog.set_level(logging.INFO)
    response = post(
        client, {"reason": "customer_revoked", "esiid": "10443720000000002"}, **{"x-intelliwatt-secret": SECRET}
    )
    assert response.status_code == 202 and response.json() == {
        "ok": True,
        "queued": False,
        "reason": "customer_revoked",
    }
    assert "customer_revoked" in caplog.text and JobRun.objects.count() == 0


def test_webhook_get_is_405(client):
    assert client.get("/trigger/smt-now").status_code == 405


# ---------------------------------------------------------------- token proxy


class FakeSmt(BaseHTTPRequestHandler):
    """Stands in for services.smartmetertexas.net: /v2/token/ answers a JWT for the right login."""

    requests: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeSmt.requests.append((self.path, body))
        good = body == {"username": "csp-user", "password": "smt-password-c0ffee"}
        answer = (
            {"statusCode": 200, "accessToken": "eyJ.jwt.token-9a8b"}
            if good
            else {"statusCode": 401, "errorMessage": "Invalid credentials"}
        )
        data = json.dumps(answer).encode()
        self.send_response(200 if good else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_smt(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSmt)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeSmt.requests = []
    settings.SMT_API_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}/"
    yield FakeSmt
    server.shutdown()
    server.server_close()


def token(client, value="proxy-token-77"):
    return client.post("/admin/smt/token", headers={"x-proxy-token": value} if value else {})


def test_token_proxy_returns_smts_answer_and_logs_no_secret(client, fake_smt, caplog):
    caplog.set_level(logging.DEBUG)
    response = token(client)
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "via": "smt-token-proxy",
        "smtStatusCode": 200,
        "smtBody": {"statusCode": 200, "accessToken": "eyJ.jwt.token-9a8b"},
    }
    assert fake_smt.requests == [("/v2/token/", {"username": "csp-user", "password": "smt-password-c0ffee"})]
    for secret in ("smt-password-c0ffee", "eyJ.jwt.token-9a8b", "proxy-token-77"):
        assert secret not in caplog.text
    assert "SMT answered 200" in caplog.text


def test_token_proxy_passes_on_smts_refusal(client, fake_smt, settings):
    settings.SMT_PASSWORD = "wrong"
    response = token(client)
    assert response.status_code == 502
    assert response.json()["ok"] is False and response.json()["smtStatusCode"] == 401
    assert response.json()["smtBody"]["errorMessage"] == "Invalid credentials"


def test_token_proxy_reports_an_unreachable_smt(client, settings):
    settings.SMT_API_BASE_URL = f"http://127.0.0.1:{free_port()}"
    response = token(client)
    assert response.status_code == 502 and response.json()["smtStatusCode"] is None
    assert "cannot reach the SMT API at 127.0.0.1" in response.json()["error"]


@pytest.mark.parametrize("value", ["", "wrong", SECRET])
def test_token_proxy_refuses_a_wrong_proxy_token(client, fake_smt, value):
    assert token(client, value).status_code == 401
    assert fake_smt.requests == []


def test_token_proxy_is_off_without_a_configured_token(client, settings, fake_smt):
    settings.SMT_PROXY_TOKEN = ""
    assert token(client, "anything").status_code == 401


def test_token_proxy_without_credentials_is_503(client, settings):
    settings.SMT_PASSWORD = ""
    response = token(client)
    assert response.status_code == 503 and "SMT_PASSWORD" in response.json()["error"]


def test_token_proxy_get_is_405(client):
    assert client.get("/admin/smt/token").status_code == 405


# ---------------------------------------------------------------- JSON API for job runs


def test_api_queues_a_mirror_and_shows_the_run_with_its_log(client, smt_sftp):
    (smt_sftp.root / "portal.csv").write_bytes(sample("portal-IntervalData-2025-11-02-fall-back.csv"))
    token = {"x-admin-token": "test-admin-token"}
    response = client.post(
        "/api/admin/smt/mirror", {"esiid": "10443720000000002"}, content_type="application/json", headers=token
    )
    assert response.status_code == 202
    job_id = response.json()["jobId"]
    detail = client.get(f"/api/admin/jobs/{job_id}", headers=token).json()["job"]
    assert (
        detail["status"] == "succeeded" and detail["counts"]["esiidIntervals"] == 100 and "portal.csv" in detail["log"]
    )
    listed = client.get("/api/admin/jobs?kind=mirror&status=succeeded", headers=token).json()["jobs"]
    assert [job["jobId"] for job in listed] == [job_id]
    assert client.get("/api/admin/jobs?status=failed", headers=token).json()["jobs"] == []


def test_api_refuses_a_bad_esiid_and_an_unknown_run(client):
    token = {"x-admin-token": "test-admin-token"}
    response = client.post("/api/admin/smt/mirror", {"esiid": "12"}, content_type="application/json", headers=token)
    assert response.status_code == 422 and "not a 17- or 22-digit ESIID" in response.json()["error"]
    assert client.get("/api/admin/jobs/999999", headers=token).status_code == 404
    assert client.get("/api/admin/jobs?status=bogus", headers=token).status_code == 422
    assert JobRun.objects.count() == 0
