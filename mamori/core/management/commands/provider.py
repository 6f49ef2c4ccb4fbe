"""``mamori provider create-staff EMAIL``: provider staff accounts for /provider/.

The password comes from ``--password-file``; otherwise it is asked twice when
the command runs in a terminal; otherwise (scripts, CI) a strong random
password is generated and printed once. The action
(``mamori.operations.actions.create_staff``) writes the provider log.
"""

from __future__ import annotations

import getpass
import secrets
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from mamori.core.management.base import cli_actor, invalid, validation_failed
from mamori.operations.actions import create_staff
from mamori.operations.models import ProviderStaff


def generate_password() -> str:
    """32 URL-safe characters (192 bits)."""
    return secrets.token_urlsafe(24)


class Command(BaseCommand):
    help = "Provider administration."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{create-staff}")
        staff = sub.add_parser("create-staff", help="Create a provider staff account for /provider/.")
        staff.add_argument("email")
        staff.add_argument("--name", default="")
        staff.add_argument("--role", default=ProviderStaff.StaffRole.OPERATOR,
                           choices=ProviderStaff.StaffRole.values)
        staff.add_argument("--password-file", default=None,
                           help="Read the password from this file (first line).")

    def handle(self, *args, **options):
        password, generated = self._password(options)
        try:
            staff = create_staff(actor=cli_actor(), email=options["email"], name=options["name"],
                                 role=options["role"], password=password)
        except ValidationError as exc:
            raise validation_failed(exc)
        self.stdout.write(self.style.SUCCESS(f"Created provider staff {staff.email} ({staff.role})."))
        if generated:
            self.stdout.write("Generated password (shown once, store it now):")
            self.stdout.write(f"  {password}")
        self.stdout.write("Sign in at /provider/login/.")

    def _password(self, options) -> tuple[str, bool]:
        path = options["password_file"]
        if path:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise invalid(f"Cannot read the password file: {exc.strerror or exc}")
            lines = text.splitlines()
            password = lines[0] if lines else ""
            if not password:
                raise invalid("The password file is empty.")
            return password, False
        if sys.stdin.isatty():
            first = getpass.getpass("Password: ")
            second = getpass.getpass("Password (again): ")
            if first != second:
                raise invalid("The passwords do not match. Nothing was changed.")
            return first, False
        return generate_password(), True
