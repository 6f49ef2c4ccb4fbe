"""``mamori token create``: a personal API token for one user, for automation.

Calls ``mamori.accounts.actions.create_api_token`` on the CLI path: the actor is
the system (``cli``), and the tenant's audit event records ``issued_by: cli``.
The token is printed once; only its hash is stored.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from mamori.access.errors import PermissionDenied
from mamori.accounts.actions import create_api_token
from mamori.accounts.models import User
from mamori.core.management.base import cli_actor, dump_json, invalid, validation_failed
from mamori.tenancy.actions import list_tenants_across_tenants
from mamori.tenancy.context import tenant_context


class Command(BaseCommand):
    help = "Create API tokens for tenant users."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{create}")
        create = sub.add_parser("create", help="Create a personal API token for a user and print it once.")
        create.add_argument("--tenant", required=True, help="Tenant slug.")
        create.add_argument("--email", required=True, help="E-mail address of the user in that tenant.")
        create.add_argument("--name", default="cli", help="Token name shown in the console (default: cli).")
        create.add_argument("--days", type=int, default=90, help="Days until it expires, 1–366 (default: 90).")
        create.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, **options):
        tenant = list_tenants_across_tenants().filter(slug=options["tenant"].strip().lower()).first()
        if tenant is None or not tenant.is_open:
            raise invalid(f"No open tenant with slug {options['tenant']!r}.")
        with tenant_context(tenant):
            user = User.objects.filter(email__iexact=options["email"].strip()).first()
            if user is None or not user.is_active:
                raise invalid(f"No active user {options['email']!r} in tenant {tenant.slug}.")
            try:
                token, raw = create_api_token(actor=cli_actor(), user=user, name=options["name"],
                                              expires_in_days=options["days"], issued_by_cli=True)
            except ValidationError as exc:
                raise validation_failed(exc)
            except PermissionDenied:
                raise invalid(f"{user.email} may not use the API (role {user.role}).")
        expires = token.expires_at.isoformat(timespec="seconds") if token.expires_at else None
        if options["json"]:
            self.stdout.write(dump_json({
                "token": raw, "prefix": token.prefix, "name": token.name,
                "tenant": tenant.slug, "email": user.email, "expires_at": expires,
            }))
            return
        self.stdout.write(self.style.SUCCESS(
            f"API token {token.prefix} ({token.name}) for {user.email} in {tenant.slug}, expires {expires}."))
        self.stdout.write("Shown once — store it now (send it as 'Authorization: Bearer <token>'):")
        self.stdout.write(f"  {raw}")
