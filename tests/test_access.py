"""Walk every URL of the project as each role and check the status it gets.

A new URL must be added to EXPECTED, or test_every_url_is_listed fails.
Roles: anon (logged out), customer (signed in, not staff), staff, token (x-admin-token).
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

LOGIN = 302  # pages send anonymous users to the login page
# name: (method, path, {role: status})
EXPECTED = {
    "home": ("get", "/", {"anon": 302, "customer": 302, "staff": 302}),
    "health": ("get", "/health", {"anon": 200, "customer": 200, "staff": 200}),
    "login": ("get", "/login/", {"anon": 200, "customer": 302, "staff": 302}),
    "logout": ("get", "/logout/", {"anon": 405, "customer": 405, "staff": 405}),
    "upload": ("post", "/upload", {"anon": 401, "customer": 403, "staff": 400, "token": 400}),
    "api-raw-upload": ("post", "/api/admin/smt/raw-upload", {"anon": 401, "customer": 403, "staff": 400, "token": 400}),
    "smt:raw-file-list": ("get", "/smt/raw-files/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:raw-file-normalize-latest": ("post", "/smt/raw-files/normalize-latest", {"anon": LOGIN, "customer": 403, "staff": 302}),
    "smt:raw-file-detail": ("get", "/smt/raw-files/{raw}/", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:raw-file-download": ("get", "/smt/raw-files/{raw}/download", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "smt:raw-file-normalize": ("post", "/smt/raw-files/{raw}/normalize", {"anon": LOGIN, "customer": 403, "staff": 302}),
    "api:normalize": ("post", "/api/admin/smt/normalize", {"anon": 401, "customer": 401, "staff": 422, "token": 422}),
    "api:raw_files": ("get", "/api/admin/debug/smt/raw-files", {"anon": 401, "customer": 401, "staff": 200, "token": 200}),
    "api:pull_inline": ("post", "/api/admin/smt/pull", {"anon": 401, "customer": 401, "staff": 422, "token": 422}),
    "api:openapi-json": ("get", "/api/openapi.json", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "api:openapi-view": ("get", "/api/docs", {"anon": LOGIN, "customer": 403, "staff": 200}),
    "api:api-root": ("get", "/api/", {"anon": 404, "customer": 404, "staff": 404, "token": 404}),
    "admin:index": ("get", "/admin/database/", {"anon": 302, "customer": 302, "staff": 200}),
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


@pytest.fixture
def objects(db):
    """One object of each kind a URL can name."""
    import hashlib
    import io

    from smt import ingest

    data = b"ESIID,USAGE_DATE,USAGE_START_TIME,USAGE_END_TIME,USAGE_KWH,ESTIMATED_ACTUAL\n'10443720000000001,01/02/2025,00:00,00:15,1,A\n"
    raw = ingest.raw_file_store(fileobj=io.BytesIO(data), sha256=hashlib.sha256(data).hexdigest(), size=len(data), filename="a.csv").raw_file
    return {"raw": raw.pk}


@pytest.mark.parametrize("role", ["anon", "customer", "staff", "token"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_url_gives_the_expected_status_for_each_role(name, role, client, staff_user, customer_user, objects):
    method, path, statuses = EXPECTED[name]
    if role not in statuses:
        role_status = statuses["anon"]  # a token changes nothing for pages: same as logged out
    else:
        role_status = statuses[role]
    if role == "staff":
        client.force_login(staff_user)
    elif role == "customer":
        client.force_login(customer_user)
    headers = {"HTTP_X_ADMIN_TOKEN": "test-admin-token"} if role == "token" else {}
    url = path.format(**objects)
    if method == "post":
        response = client.post(url, {}, **headers) if not url.startswith("/api/admin/smt/n") and "pull" not in url else \
            client.post(url, "{}", content_type="application/json", **headers)
    else:
        response = getattr(client, method)(url, **headers)
    assert response.status_code == role_status, f"{role} {method.upper()} {url}: {response.status_code}"
