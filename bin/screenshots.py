"""`make screenshots`: every page, staff and customer, at 1400 px and 390 px, into var/screenshots/.

A throwaway site on SQLite with the demo data (the real ingest paths, as `make run` loads them),
served by runserver on a free loopback port and driven by Debian's Chromium through Playwright.
Nothing of the developer's own var/wattledger.sqlite3 or media is touched.
"""

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "var" / "screenshots"
WIDTHS = (1400, 390)

from tests.conftest import free_port, wait_for_url  # noqa: E402
from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path  # noqa: E402


def site_env(work: Path) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{work / 'site.sqlite3'}",
        "MEDIA_ROOT": str(work / "media"),
        "DEBUG": "true",
        "Q_SYNC": "true",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def prepare(env: dict) -> dict:
    """Migrate, load the demo data, give the two demo users known passwords; the pages to visit."""
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "createcachetable")
    manage(env, "load_demo_data", "--days", "90")
    manage(env, "monitors_check")  # the status board shows the demo's monitors, not an empty table
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "MEDIA_ROOT", "DEBUG", "DJANGO_SETTINGS_MODULE")})
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from ercot.models import ErcotIngest
    from ops.models import JobRun, Monitor
    from smt.models import House, RawSmtFile
    from telemetry.models import CostVersion, Device, Location

    passwords = {"staff": secrets.token_urlsafe(12), "customer": secrets.token_urlsafe(12)}
    staff, _ = get_user_model().objects.get_or_create(
        username="shot-staff", defaults={"is_staff": True, "is_superuser": True}
    )
    staff.set_password(passwords["staff"])
    staff.save()
    customer = House.objects.select_related("customer").first().customer
    customer.set_password(passwords["customer"])
    customer.save()
    esiid = House.objects.first().esiid
    failed = failed_green_button()
    first = {
        model: model.objects.order_by("pk").values_list("pk", flat=True).first()
        for model in (RawSmtFile, JobRun, Monitor, Device, Location, CostVersion, ErcotIngest)
    }
    staff_pages = {
        "raw-files": "/smt/raw-files/",
        "raw-file": f"/smt/raw-files/{first[RawSmtFile]}/",
        "raw-file-failed": f"/smt/raw-files/{failed}/",
        "intervals": "/smt/intervals/",
        "intervals-esiid": f"/smt/intervals/?esiid={esiid}",
        "interval-delete": f"/smt/intervals/delete?prefill=1&esiid={esiid}",
        "deletions": "/smt/deletions/",
        "usage": f"/smt/usage/?esiid={esiid}",
        "usage-portfolio": "/smt/usage/portfolio",
        "customers": "/smt/customers/",
        "billing-reads": "/smt/billing-reads/",
        "smt-trigger": "/admin/smt/trigger",
        "jobs": "/ops/jobs/",
        "status": "/ops/",
        "ercot": "/ercot/",
        "esiid-lookup": "/ercot/esiids/?q=1044",
        "device-health": "/telemetry/devices/",
        "locations": "/telemetry/locations/",
        "costs": "/telemetry/costs/",
        "tickets": "/telemetry/tickets/?status=all",
        "malformed": "/telemetry/malformed/",
        "admin": "/admin/database/",
        "api-docs": "/api/docs",
    }
    optional = {
        "job": ("/ops/jobs/{}/", JobRun),
        "monitor": ("/ops/monitors/{}/", Monitor),
        "device": ("/telemetry/devices/{}/", Device),
        "location": ("/telemetry/locations/{}/", Location),
        "cost": ("/telemetry/costs/{}/", CostVersion),
    }
    staff_pages |= {name: path.format(first[model]) for name, (path, model) in optional.items() if first[model]}
    return {
        "passwords": passwords,
        "customer": customer.username,
        "staff": staff_pages,
        "customer_pages": {"my-usage": "/customer/usage", "my-upload": "/customer/smt-upload"},
    }


def failed_green_button() -> int:
    """A Green Button file that failed for want of its ESIID, as a token upload without one leaves
    it: the page then offers "Normalize again with hints". Its bytes are a stand-in (the demo has
    no Green Button download); only the page's state matters here."""
    import hashlib
    import io

    from smt import storage
    from smt.models import RawSmtFile

    data = b'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"/>'
    stored = storage.raw_file_store(
        fileobj=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename="Usage_2025-09.xml",
        origin=RawSmtFile.Origin.TOKEN,
        source="upload",
        kind=RawSmtFile.Kind.GREENBUTTON,
        uploader="token:upload",
    )
    message = "Green Button file: no ESIID for UsagePoint RetailCustomer/1/UsagePoint/1; send its ESIID"
    stored.raw_file.set_status(RawSmtFile.Status.FAILED, error=message, stats={"error": message})
    return stored.raw_file.pk


def shoot(base: str, plan: dict) -> list[Path]:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    taken = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        for role, username, pages in (
            ("staff", "shot-staff", plan["staff"]),
            ("customer", plan["customer"], plan["customer_pages"]),
        ):
            for width in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(f"{base}/login/")
                page.screenshot(path=str(OUT / f"anon-login-{width}.png"), full_page=True)
                page.fill("input[name=username]", username)
                page.fill("input[name=password]", plan["passwords"][role])
                page.click("button[type=submit]")
                page.wait_for_load_state("networkidle")
                for name, path in pages.items():
                    page.goto(f"{base}{path}")
                    page.wait_for_load_state("networkidle")
                    target = OUT / f"{role}-{name}-{width}.png"
                    page.screenshot(path=str(target), full_page=True)
                    wide = page.evaluate("document.documentElement.scrollWidth")
                    if wide > width:
                        print(f"  {target.name}: page is {wide} px wide in a {width} px window")
                    taken.append(target)
                page.close()
        browser.close()
    return taken


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="wattledger-shots-") as tmp:
        env = site_env(Path(tmp))
        print("Preparing a demo site on SQLite (a minute or two)…")
        plan = prepare(env)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_url(f"http://127.0.0.1:{port}/health", seconds=30)
            taken = shoot(f"http://127.0.0.1:{port}", plan)
        finally:
            server.terminate()
            server.wait(10)
    print(f"{len(taken)} screenshots in {OUT.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
