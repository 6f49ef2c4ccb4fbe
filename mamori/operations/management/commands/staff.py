"""``mamori staff create|list|deactivate|reset-mfa``: provider staff accounts (audited).

``create`` takes the password like ``mamori provider create-staff`` (``--password-file``,
a terminal prompt, or a generated password printed once). ``reset-mfa`` forgets the staff
member's TOTP secret: they set up two-step verification again at their next sign-in.
Every change goes through an action that writes the provider log.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from mamori.core.management.base import cli_actor, dump_json, invalid, validation_failed
from mamori.core.management.commands.provider import Command as ProviderCommand
from mamori.operations.actions import create_staff
from mamori.operations.actions_staff import deactivate_staff, reset_staff_mfa
from mamori.operations.models import ProviderStaff


class Command(BaseCommand):
    help = "Provider staff accounts: create, list, deactivate, reset-mfa."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True,
                                    metavar="{create,list,deactivate,reset-mfa}")
        create = sub.add_parser("create", help="Create a provider staff account.")
        create.add_argument("email")
        create.add_argument("--name", default="")
        create.add_argument("--role", default=ProviderStaff.StaffRole.OPERATOR, choices=ProviderStaff.StaffRole.values)
        create.add_argument("--password-file", default=None, help="Read the password from this file (first line).")
        listing = sub.add_parser("list", help="List provider staff (no secrets).")
        listing.add_argument("--json", action="store_true")
        for name, text in (("deactivate", "Deactivate a staff account (its sessions end)."),
                           ("reset-mfa", "Forget a staff member's TOTP secret (enrol again at next sign-in).")):
            sub.add_parser(name, help=text).add_argument("email")

    def handle(self, *args, **options):
        command = options["subcommand"]
        if command == "create":
            return self._create(options)
        if command == "list":
            return self._list(options)
        staff = ProviderStaff.objects.filter(email=(options["email"] or "").strip().lower()).first()
        if staff is None:
            raise invalid(f"No provider staff member {options['email']!r}.")
        try:
            if command == "deactivate":
                deactivate_staff(actor=cli_actor(), staff=staff)
                self.stdout.write(self.style.SUCCESS(f"Deactivated {staff.email}; their sessions have ended."))
            else:
                reset_staff_mfa(actor=cli_actor(), staff=staff)
                self.stdout.write(self.style.SUCCESS(
                    f"Two-step verification of {staff.email} reset: they set it up again at their next sign-in."))
        except ValidationError as exc:
            raise validation_failed(exc)

    def _create(self, options):
        password, generated = ProviderCommand()._password(options)
        try:
            staff = create_staff(actor=cli_actor(), email=options["email"], name=options["name"],
                                 role=options["role"], password=password)
        except ValidationError as exc:
            raise validation_failed(exc)
        self.stdout.write(self.style.SUCCESS(f"Created provider staff {staff.email} ({staff.role})."))
        if generated:
            self.stdout.write("Generated password (shown once, store it now):")
            self.stdout.write(f"  {password}")
        self.stdout.write("Sign in at /provider/login/ (two-step verification is set up at the first sign-in).")

    def _list(self, options):
        rows = [{"email": s.email, "name": s.name, "role": s.role, "active": s.is_active,
                 "mfa": "totp" if s.mfa_enrolled_at else "not set up",
                 "last_login": s.last_login.isoformat() if s.last_login else None}
                for s in ProviderStaff.objects.order_by("email")]
        if options["json"]:
            self.stdout.write(dump_json(rows))
            return
        for row in rows:
            self.stdout.write(f"{row['email']:<40} {row['role']:<17} {'active' if row['active'] else 'inactive':<9} "
                              f"mfa={row['mfa']:<11} last sign-in={row['last_login'] or '-'}")
