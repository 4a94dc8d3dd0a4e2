"""Walk every URL of the project as each role and check the status it gets.

A new URL must be added to EXPECTED, or test_every_url_is_listed fails.
Roles: anon (logged out), customer (signed in, not staff, owns a house), other (another
customer; same as customer unless listed), staff, token (x-admin-token; same as anon for pages).
"""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from ercot.models import ErcotIngest
from ops.models import JobRun, Monitor
from smt.models import House
from telemetry.assign import device_assign
from telemetry.models import CostVersion, Device, Location, ReviewTicket

pytestmark = pytest.mark.django_db

LOGIN = 302  # pages send anonymous users to the login page
# name: (method, path, {role: status}[, JSON body])
EXPECTED = {
    "home": ("get", "/", {"anon": 302, "customer": 302, "staff": 302}),
    "smt:root": ("get", "/smt/", {"anon": 302, "customer": 302, "staff": 302}),
    "telemetry-root": ("get", "/telemetry/", {"anon": 302, "customer": 302, "staff": 302}),
    "health": ("get", "/health", {"anon": 200, "customer": 200, "staff": 200}),
    "login": ("get", "/login/", {"anon": 200, "customer": 302, "staff": 302}),
    "logout": ("get", "/logout/", {"anon": 405, "customer": 405, "staff": 405}),
    "smt:upload": ("post", "/upload", {"anon": 401, "customer": 403, "staff": 400, "token": 400}),
    "smt:api-raw-upload": (
        "post",
        "/api/admin/smt/raw-upload",
        {"anon": 401, "customer": 403, "staff": 400, "token": 400},
    ),
    "smt:raw-file-list": ("get", "/smt/raw-files/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:raw-file-normalize-latest": (
        "post",
        "/smt/raw-files/normalize-latest",
        {"anon": LOGIN, "customer": 403, "staff": 302},
    ),
    "smt:raw-file-detail": ("get", "/smt/raw-files/{raw}/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:raw-file-download": ("get", "/smt/raw-files/{raw}/download", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:raw-file-normalize": (
        "post",
        "/smt/raw-files/{raw}/normalize",
        {"anon": LOGIN, "customer": 403, "staff": 302},
    ),
    "api:normalize": ("post", "/api/admin/smt/normalize", {"anon": 401, "customer": 401, "staff": 422, "token": 422}),
    "api:raw_files": (
        "get",
        "/api/admin/debug/smt/raw-files",
        {"anon": 401, "customer": 401, "staff": 200, "token": 200},
    ),
    "api:pull_inline": ("post", "/api/admin/smt/pull", {"anon": 401, "customer": 401, "staff": 422, "token": 422}),
    "smt:interval-list": ("get", "/smt/intervals/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:interval-export": ("get", "/smt/intervals/export.csv", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:interval-delete": ("get", "/smt/intervals/delete", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:deletion-list": ("get", "/smt/deletions/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:usage-summary": ("get", "/smt/usage/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:usage-portfolio": ("get", "/smt/usage/portfolio", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:customer-list": ("get", "/smt/customers/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:customer-upload": ("get", "/customer/smt-upload", {"anon": LOGIN, "customer": 200, "staff": 403}),
    "smt:customer-usage": ("get", "/customer/usage", {"anon": LOGIN, "customer": 200, "staff": 403}),
    "smt:customer-green-button": (
        "get",
        "/customer/usage/green-button.xml?esiid=10443720000000001",
        {"anon": LOGIN, "customer": 200, "other": 404, "staff": 403},
    ),
    "api:green_button_export": (
        "get",
        "/api/admin/smt/green-button?esiid=10443720000000001",
        {"anon": 401, "customer": 401, "staff": 200, "token": 200},
    ),
    "smt:customer-upload-list": ("get", "/customer/uploads/", {"anon": LOGIN, "customer": 200, "staff": 403}),
    # {craw} is the customer's own upload: another customer gets 404, as for any object not theirs.
    "smt:customer-upload-detail": (
        "get",
        "/customer/uploads/{craw}/",
        {"anon": LOGIN, "customer": 200, "other": 404, "staff": 403},
    ),
    "api:intervals_list": (
        "get",
        "/api/admin/debug/smt/intervals?esiid=10443720000000001",
        {"anon": 401, "customer": 401, "staff": 200, "token": 200},
    ),
    "api:daily_summary": (
        "get",
        "/api/admin/analysis/daily-summary?esiid=10443720000000001",
        {"anon": 401, "customer": 401, "staff": 200, "token": 200},
    ),
    "api:backfill_usage": (
        "post",
        "/api/admin/smt/backfill-usage",
        {"anon": 401, "customer": 401, "staff": 422, "token": 422},
    ),
    "api:usage_refresh": (
        "post",
        "/api/user/usage/refresh",
        {"anon": 401, "customer": 200, "other": 404, "staff": 401, "token": 401},
        {"houseId": "{house}", "esiid": "10443720000000001"},
    ),
    "api:intervals_delete": (
        "post",
        "/api/admin/debug/smt/intervals",
        {"anon": 401, "customer": 401, "staff": 400, "token": 400},
    ),
    "api:openapi-json": ("get", "/api/openapi.json", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "api:openapi-view": ("get", "/api/docs", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "api:api-root": ("get", "/api/", {"anon": 404, "customer": 404, "staff": 404, "token": 404}),
    "admin:index": ("get", "/admin/database/", {"anon": 302, "customer": 302, "staff": 200}),
    "ercot:ingest-list": ("get", "/ercot/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "ercot:ingest-fetch": ("post", "/ercot/fetch", {"anon": LOGIN, "customer": 403, "staff": 302}),
    "ercot:ingest-download": ("get", "/ercot/files/{ercot}/download", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "ercot:esiid-lookup": ("get", "/ercot/esiids/?q=1044", {"anon": LOGIN, "customer": 403, "staff": 200}),
    # The test settings point ERCOT at a closed port: an authorised fetch runs and reports 502. A staff
    # session must POST (with CSRF): GET would let any page trigger a fetch (tests/ercot/test_api.py).
    "api:ercot_cron": ("get", "/api/admin/ercot/cron", {"anon": 401, "customer": 401, "staff": 401, "token": 502}),
    "api:ercot_cron_post": (
        "post",
        "/api/admin/ercot/cron",
        {"anon": 401, "customer": 401, "staff": 502, "token": 502},
    ),
    "api:ercot_cron_health": (
        "get",
        "/api/admin/ercot/cron/health",
        {"anon": 401, "customer": 401, "staff": 200, "token": 200},
    ),
    "api:power_telemetry": (
        "post",
        "/api/power-analytics/telemetry",
        {"anon": 401, "customer": 401, "staff": 401, "token": 422},
    ),
    "api:power_health": (
        "get",
        "/api/power-analytics/health",
        {"anon": 401, "customer": 401, "staff": 200, "token": 200},
    ),
    "api:power_summary": (
        "get",
        "/api/power-analytics/summary?classroom=Room%20101",
        {"anon": 401, "customer": 401, "staff": 200, "token": 200},
    ),
    "api:power_timeline": (
        "get",
        "/api/power-analytics/timeline?classroom=Room%20101&start=2026-03-01T00:00:00Z&end=2026-03-02T00:00:00Z",
        {"anon": 401, "customer": 401, "staff": 200, "token": 200},
    ),
    "api:power_cost_versions": (
        "get",
        "/api/power-analytics/cost-versions",
        {"anon": 401, "customer": 401, "staff": 200, "token": 200},
    ),
    "api:power_cost_version_add": (
        "post",
        "/api/power-analytics/cost-versions",
        {"anon": 401, "customer": 401, "staff": 422, "token": 422},
    ),
    "api:power_recalculate": (
        "post",
        "/api/power-analytics/recalculate",
        {"anon": 401, "customer": 401, "staff": 422, "token": 422},
    ),
    "telemetry:device-health": ("get", "/telemetry/devices/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "telemetry:device-detail": ("get", "/telemetry/devices/{device}/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    # The empty form moves the device to "unassigned" from today.
    "telemetry:device-assign": (
        "post",
        "/telemetry/devices/{device}/assign",
        {"anon": LOGIN, "customer": 403, "staff": 302},
    ),
    "telemetry:device-token": (
        "post",
        "/telemetry/devices/{device}/token",
        {"anon": LOGIN, "customer": 403, "staff": 200},
    ),
    # The empty form lacks the counter unit: the device page again, saying so.
    "telemetry:device-reading": (
        "post",
        "/telemetry/devices/{device}/reading",
        {"anon": LOGIN, "customer": 403, "staff": 400},
    ),
    "telemetry:location-list": ("get", "/telemetry/locations/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "telemetry:location-detail": (
        "get",
        "/telemetry/locations/{location}/",
        {"anon": LOGIN, "customer": 403, "staff": 200},
    ),
    "telemetry:cost-version-list": ("get", "/telemetry/costs/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "telemetry:cost-version-detail": (
        "get",
        "/telemetry/costs/{cost}/",
        {"anon": LOGIN, "customer": 403, "staff": 200},
    ),
    "telemetry:ticket-list": ("get", "/telemetry/tickets/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "telemetry:ticket-update": (
        "post",
        "/telemetry/tickets/{ticket}/acknowledge",
        {"anon": LOGIN, "customer": 403, "staff": 302},
    ),
    "telemetry:malformed-list": ("get", "/telemetry/malformed/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:job-list": ("get", "/smt/jobs/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:job-detail": ("get", "/smt/jobs/{job}/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "ops:job-list": ("get", "/ops/jobs/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "ops:job-detail": ("get", "/ops/jobs/{job}/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:billing-read-list": ("get", "/smt/billing-reads/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:trigger": ("get", "/admin/smt/trigger", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:trigger-webhook": ("post", "/trigger/smt-now", {"anon": 401, "customer": 401, "staff": 401, "token": 401}),
    "smt:token-proxy": ("post", "/admin/smt/token", {"anon": 401, "customer": 401, "staff": 401, "token": 401}),
    "api:jobs_list": ("get", "/api/admin/jobs", {"anon": 401, "customer": 401, "staff": 200, "token": 200}),
    "api:job_detail": ("get", "/api/admin/jobs/{job}", {"anon": 401, "customer": 401, "staff": 200, "token": 200}),
    "ops:monitor-list": ("get", "/ops/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "ops:monitor-detail": ("get", "/ops/monitors/{monitor}/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    # An empty reason is refused and nothing changes.
    "ops:monitor-pause": ("post", "/ops/monitors/{monitor}/pause", {"anon": LOGIN, "customer": 403, "staff": 400}),
    "ops:monitor-resume": ("post", "/ops/monitors/{monitor}/resume", {"anon": LOGIN, "customer": 403, "staff": 400}),
    "metrics": ("get", "/metrics", {"anon": 403, "customer": 403, "staff": 200}),
    "api:mirror_queue": ("post", "/api/admin/smt/mirror", {"anon": 401, "customer": 401, "staff": 202, "token": 202}),
    # The previous system's addresses redirect everyone; the new place checks access.
    "smt:old-raw": ("get", "/admin/smt/raw", {"anon": 301, "customer": 301, "staff": 301, "token": 301}),
    "smt:old-normalize": ("get", "/admin/smt/normalize", {"anon": 301, "customer": 301, "staff": 301, "token": 301}),
    "smt:old-api-raw": ("get", "/api/admin/smt/raw", {"anon": 301, "customer": 301, "staff": 301, "token": 301}),
}
# Django's admin app brings its own URLs; its own access rules (staff only) cover them.
IGNORED_PREFIXES = ("admin:",)


def all_url_names(resolver=None, namespace="") -> set[str]:
    names = set()
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names |= all_url_names(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(f"{namespace}{entry.name}")
    return names


def test_every_url_is_listed():
    names = {n for n in all_url_names() if not n.startswith(IGNORED_PREFIXES)}
    missing = names - set(EXPECTED)
    assert not missing, f"add these URLs to tests/test_access.py EXPECTED: {sorted(missing)}"


def test_every_listed_path_resolves_to_its_listed_name():
    """Names may move into a namespace; the paths stay (people, scripts and SMT's webhook use them)."""
    paths = {name: re.sub(r"\{\w+\}", "1", path.split("?")[0]) for name, (_, path, *_) in EXPECTED.items()}
    for name, path in paths.items():
        # The JSON API serves GET and POST of one path under one name: any name listed for the path.
        assert resolve(path).view_name in {other for other, same in paths.items() if same == path}, f"{name}: {path}"


@pytest.fixture
def objects(db):
    """One object of each kind a URL can name."""
    import hashlib
    import io

    from smt import storage

    data = b"ESIID,USAGE_DATE,USAGE_START_TIME,USAGE_END_TIME,USAGE_KWH,ESTIMATED_ACTUAL\n'10443720000000001,01/02/2025,00:00,00:15,1,A\n"
    raw = storage.raw_file_store(
        fileobj=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename="a.csv",
        origin="staff",
    ).raw_file
    customer = get_user_model().objects.get(username="customer")
    own = data.replace(b"00:15,1,A", b"00:15,2,A")
    craw = storage.raw_file_store(
        fileobj=io.BytesIO(own),
        sha256=hashlib.sha256(own).hexdigest(),
        size=len(own),
        filename="mine.csv",
        origin="customer",
        uploaded_by=customer,
    ).raw_file
    house = House.objects.create(customer=customer, name="Oak St", esiid="10443720000000001")

    key = default_storage.save("ercot/2026-06-03/ext.zip", ContentFile(b"PK"))
    ercot = ErcotIngest.objects.create(doc_id="1", filename="ext.zip", storage_key=key, method="mis", status="stored")

    location = Location.objects.create(name="Room 101")
    device = Device.objects.create(name="esp-access")
    device_assign(device=device, location=location, effective_from=None, assigned_by="test")
    cost = CostVersion.objects.create(cost_per_kwh=1, effective_from="2026-01-01T00:00:00Z")
    ticket = ReviewTicket.objects.create(kind="silent_device", device=device)
    job = JobRun.objects.create(kind="mirror", trigger="manual")
    monitor = Monitor.objects.create(kind="workers", key="cluster", subject="Task cluster")
    return {
        "monitor": monitor.pk,
        "raw": raw.pk,
        "craw": craw.pk,
        "house": house.pk,
        "ercot": ercot.pk,
        "location": location.pk,
        "device": device.pk,
        "cost": cost.pk,
        "ticket": ticket.pk,
        "job": job.pk,
    }


@pytest.mark.parametrize("role", ["anon", "customer", "other", "staff", "token"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_url_gives_the_expected_status_for_each_role(name, role, client, staff_user, customer_user, objects):
    method, path, statuses, *body = EXPECTED[name]
    fallback = {"other": "customer", "token": "anon"}.get(role, "anon")
    expected = statuses.get(role, statuses.get(fallback, statuses["anon"]))
    if role == "staff":
        client.force_login(staff_user)
    elif role == "customer":
        client.force_login(customer_user)
    elif role == "other":
        client.force_login(get_user_model().objects.create_user("other-customer", password="x-other-pass-1"))
    headers = {"HTTP_X_ADMIN_TOKEN": "test-admin-token"} if role == "token" else {}
    url = path.format(**objects)
    if method == "post":
        if url.startswith("/api/") and "upload" not in url:
            payload = json.dumps(body[0]).replace('"{house}"', str(objects["house"])) if body else "{}"
            response = client.post(url, payload, content_type="application/json", **headers)
        else:
            response = client.post(url, {}, **headers)
    else:
        response = getattr(client, method)(url, **headers)
    assert response.status_code == expected, f"{role} {method.upper()} {url}: {response.status_code}"
