from __future__ import annotations

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts import services


class Command(BaseCommand):
    help = (
        "Create or update the demo's staff account from DEMO_ADMIN_USER / DEMO_ADMIN_PASSWORD. "
        "Without a password one is generated once, kept in var/, and printed."
    )

    def handle(self, *args: object, **options: object) -> None:
        password = settings.DEMO_ADMIN_PASSWORD or self._kept_password()
        user, created = services.demo_admin_ensure(username=settings.DEMO_ADMIN_USER, password=password)
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} staff account: user '{user.username}', password '{password}'")

    def _kept_password(self) -> str:
        path = settings.DATA_DIR / "demo-admin-password"
        if path.exists():
            kept = path.read_text().strip()
            if kept:
                return kept
        settings.DATA_DIR.mkdir(exist_ok=True)
        password = secrets.token_urlsafe(12)
        path.write_text(password + "\n")
        path.chmod(0o600)
        return password
