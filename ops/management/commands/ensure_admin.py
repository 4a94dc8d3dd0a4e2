"""Create the `admin` staff user (or a demo customer) for a local run and print its password."""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create (or reset) the local 'admin' user; the password is kept in var/admin-password."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--customer", action="store_true", help="a customer (not staff) instead")

    def handle(self, *args, username: str, customer: bool = False, **options) -> None:
        secret_file = Path(settings.VAR_DIR) / ("admin-password" if username == "admin" else f"{username}-password")
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        if secret_file.exists():
            password = secret_file.read_text().strip()
        else:
            password = secrets.token_urlsafe(12)
            secret_file.touch(mode=0o600)
            secret_file.write_text(password + "\n")
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = not customer
        user.set_password(password)
        user.save()
        self.stdout.write(self.style.SUCCESS(f"Sign in at /login/ as {username} with password: {password}"))
