"""manage.py seed_demo: the demo content of a development forum; running it again changes nothing.

For now that is the staff account ``admin``. Its password is ``DEMO_ADMIN_PASSWORD`` when that is
set (and is then reset to it on every run), otherwise generated at random and printed once, when the
account is created. Later issues add forums, threads and members here.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

ADMIN_USERNAME = "admin"
ADMIN_EMAIL = "admin@example.com"


class Command(BaseCommand):
    help = "Create the demo content of a development forum (the admin account for now); idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Seed even in the production profile (a demo admin account is a way in).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION and not options["allow_production"]:
            raise CommandError(
                "Refusing to seed demo data in the production profile (see --allow-production)."
            )
        with transaction.atomic():
            self._admin()

    def _admin(self) -> None:
        user_model = get_user_model()
        fixed_password: str = settings.DEMO_ADMIN_PASSWORD
        admin = user_model.objects.select_for_update().filter(username=ADMIN_USERNAME).first()
        if admin is None:
            password = fixed_password or secrets.token_urlsafe(12)
            user_model.objects.create_superuser(username=ADMIN_USERNAME, email=ADMIN_EMAIL, password=password)
            if fixed_password:
                self.stdout.write(
                    f"seed_demo: created the account {ADMIN_USERNAME} (password: DEMO_ADMIN_PASSWORD)"
                )
            else:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"seed_demo: created the account {ADMIN_USERNAME} with the password {password}\n"
                        "seed_demo: it is shown only this once "
                        f"(`manage.py changepassword {ADMIN_USERNAME}` sets another)"
                    )
                )
        elif fixed_password and not admin.check_password(fixed_password):
            admin.set_password(fixed_password)
            admin.save(update_fields=["password"])
            self.stdout.write(f"seed_demo: set the password of {ADMIN_USERNAME} to DEMO_ADMIN_PASSWORD")
        else:
            self.stdout.write(f"seed_demo: the account {ADMIN_USERNAME} exists; nothing to do")
