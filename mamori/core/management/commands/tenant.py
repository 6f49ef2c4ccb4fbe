"""``mamori tenant create|list|export``: provider-side tenant administration.

``create`` calls ``mamori.tenancy.actions.create_tenant`` (provider log and the
new tenant's own log record it, with the CLI as actor) and prints the first
admin's one-time sign-in link. Invalid input exits with status 2 and writes
nothing (the action runs in one transaction).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from mamori.accounts.actions import login_link_url
from mamori.core.management.base import cli_actor, dump_json, validation_failed
from mamori.tenancy.actions import create_tenant, list_tenants_across_tenants
from mamori.tenancy.models import Tenant


class Command(BaseCommand):
    help = "Create, list and export tenants."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{create,list,export}")

        create = sub.add_parser("create", help="Create a tenant and print its admin's one-time sign-in link.")
        create.add_argument("slug", help="URL name: /t/<slug>/ (lower-case letters, digits, hyphens).")
        create.add_argument("--name", required=True, help="Display name of the tenant (the customer).")
        create.add_argument("--admin-email", required=True, help="E-mail address of the first tenant admin.")
        create.add_argument("--admin-name", default="", help="Name of the first tenant admin.")
        create.add_argument("--language", default="ja", choices=Tenant.Language.values,
                            help="Default language of the tenant (default: ja).")
        create.add_argument("--time-zone", default=None,
                            help="Time zone for display (default: MAMORI_TIME_ZONE, Asia/Tokyo).")
        create.add_argument("--region", default=None,
                            help="Data-region label (default: MAMORI_DATA_REGION).")
        create.add_argument("--json", action="store_true", help="Print the result as JSON.")

        listing = sub.add_parser("list", help="List tenants.")
        listing.add_argument("--json", action="store_true", help="Print JSON instead of a table.")

        from mamori.lifecycle import export_cli

        export_cli.add_subcommand(sub)  # full tenant export (docs/data-export.md)

    def handle(self, *args, **options):
        if options["subcommand"] == "create":
            return self.create(options)
        if options["subcommand"] == "export":
            from mamori.lifecycle import export_cli

            return export_cli.handle(options, self.stdout)
        return self.list(options)

    def create(self, options) -> None:
        try:
            tenant, admin, secret = create_tenant(
                actor=cli_actor(),
                slug=options["slug"],
                name=options["name"],
                admin_email=options["admin_email"],
                admin_name=options["admin_name"],
                language=options["language"],
                time_zone=options["time_zone"],
                data_region=options["region"],
            )
        except ValidationError as exc:
            raise validation_failed(exc)
        url = login_link_url(tenant, secret)
        if options["json"]:
            self.stdout.write(dump_json({
                "tenant": _tenant_row(tenant),
                "admin_email": admin.email,
                "login_url": url,
            }))
            return
        self.stdout.write(self.style.SUCCESS(f"Created tenant {tenant.slug} ({tenant.name})."))
        self.stdout.write(f"One-time sign-in link for {admin.email} (single use, it expires; "
                          "treat it like a password):")
        self.stdout.write(f"  {url}")

    def list(self, options) -> None:
        rows = [_tenant_row(t) for t in list_tenants_across_tenants()]
        if options["json"]:
            self.stdout.write(dump_json(rows))
            return
        if not rows:
            self.stdout.write("No tenants.")
            return
        columns = ["slug", "name", "status", "data_region", "time_zone", "language", "created_at"]
        table = [[str(row[c]) for c in columns] for row in rows]
        widths = [max(len(c), *(len(r[i]) for r in table)) for i, c in enumerate(columns)]
        self.stdout.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
        for r in table:
            self.stdout.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _tenant_row(tenant: Tenant) -> dict:
    return {
        "slug": tenant.slug,
        "name": tenant.name,
        "status": tenant.status,
        "data_region": tenant.data_region,
        "time_zone": tenant.time_zone,
        "language": tenant.language,
        "contract_start": tenant.contract_start.isoformat() if tenant.contract_start else None,
        "contract_end": tenant.contract_end.isoformat() if tenant.contract_end else None,
        "created_at": tenant.created_at.isoformat(timespec="seconds") if tenant.created_at else None,
    }
