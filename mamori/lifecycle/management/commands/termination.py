"""``mamori termination list|terminate|cancel|set-grace|purge|run-due``: contract termination (provider).

``terminate SLUG`` starts the grace period (``--grace-days`` overrides it for this
termination), ``cancel SLUG`` ends it (the tenant is active again), ``set-grace SLUG DAYS``
sets the tenant's default grace period (``default`` removes the override). ``purge SLUG``
purges a tenant whose grace period has ended (``--now``: at once), or continues an
interrupted purge; it prints the deletion certificate's id. ``run-due`` is the periodic job
(reminders and due purges) for deployments that run it from cron. See docs/termination.md.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from mamori.access.errors import PermissionDenied
from mamori.core.management.base import cli_actor, dump_json, invalid, validation_failed
from mamori.lifecycle import actions_termination as acts
from mamori.lifecycle import termination as term
from mamori.lifecycle.purge import purge_tenant
from mamori.tenancy.models import Tenant


def _row(t) -> dict:
    return {"tenant": t.tenant.slug, "state": t.state, "requested_at": t.requested_at.isoformat(),
            "requested_by": t.requested_by, "grace_days": t.grace_days, "ends_at": t.ends_at.isoformat(),
            "step": (t.progress or {}).get("step", "")}


class Command(BaseCommand):
    help = "Terminate tenants' contracts, cancel terminations, purge tenants (provider)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True,
                                    metavar="{list,terminate,cancel,set-grace,purge,run-due}")
        listing = sub.add_parser("list", help="List terminations.")
        listing.add_argument("--json", action="store_true")
        terminate = sub.add_parser("terminate", help="Terminate a tenant's contract: its grace period starts.")
        terminate.add_argument("slug")
        terminate.add_argument("--grace-days", type=int, default=None,
                               help="Days until the purge (default: the tenant's grace period).")
        terminate.add_argument("--reason", default="")
        cancel = sub.add_parser("cancel", help="Cancel a scheduled termination (the tenant is active again).")
        cancel.add_argument("slug")
        cancel.add_argument("--reason", default="")
        grace = sub.add_parser("set-grace", help="Set a tenant's grace period in days ('default' to remove).")
        grace.add_argument("slug")
        grace.add_argument("days")
        purge = sub.add_parser("purge", help="Purge a terminated tenant (or continue an interrupted purge).")
        purge.add_argument("slug")
        purge.add_argument("--now", action="store_true", help="Do not wait for the end of the grace period.")
        purge.add_argument("--batch-size", type=int, default=None, help="Rows per transaction.")
        sub.add_parser("run-due", help="Send due reminders and purge every tenant whose grace period ended.")

    def handle(self, *args, **options):
        try:
            return getattr(self, "_" + options["subcommand"].replace("-", "_"))(options)
        except ValidationError as exc:
            raise validation_failed(exc) from None
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None

    def _tenant(self, slug: str) -> Tenant:
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise invalid(f"No tenant with slug {slug!r}.")
        return tenant

    def _list(self, options):
        rows = [_row(t) for t in term.terminations()]
        if options["json"]:
            self.stdout.write(dump_json(rows))
            return
        if not rows:
            self.stdout.write("No terminations.")
        for r in rows:
            self.stdout.write(f"{r['tenant']:<20} {r['state']:<10} ends {r['ends_at']}  by {r['requested_by']}")

    def _terminate(self, options):
        if options["grace_days"] is not None and options["grace_days"] < 0:
            raise invalid("--grace-days must be 0 or more.")
        tenant = self._tenant(options["slug"])
        t = acts.terminate_tenant(actor=cli_actor(), tenant=tenant, grace_days=options["grace_days"],
                                  reason=options["reason"])
        self.stdout.write(self.style.SUCCESS(
            f"Tenant {tenant.slug} is terminating; grace period of {t.grace_days} days ends {t.ends_at.isoformat()}."))

    def _cancel(self, options):
        tenant = self._tenant(options["slug"])
        acts.cancel_termination(actor=cli_actor(), tenant=tenant, reason=options["reason"])
        self.stdout.write(self.style.SUCCESS(f"Termination of {tenant.slug} cancelled; the tenant is active."))

    def _set_grace(self, options):
        tenant = self._tenant(options["slug"])
        raw = options["days"].strip().lower()
        if raw == "default":
            days = None
        else:
            try:
                days = int(raw)
            except ValueError:
                raise invalid("days: a number of days or 'default'.") from None
        effective = acts.set_grace_period(actor=cli_actor(), tenant=tenant, days=days)
        self.stdout.write(self.style.SUCCESS(f"Grace period of {tenant.slug}: {effective} days."))

    def _purge(self, options):
        tenant = self._tenant(options["slug"])
        size = options["batch_size"]
        if size is not None and size < 1:
            raise invalid("--batch-size must be 1 or more.")
        on_batch = None
        if options["verbosity"] >= 2:
            def on_batch(label: str, rows: int) -> None:
                self.stdout.write(f"batch {label} {rows}")
                self.stdout.flush()
        cert = purge_tenant(tenant, actor=cli_actor(), force=options["now"], size=size, on_batch=on_batch)
        self.stdout.write(self.style.SUCCESS(
            f"Tenant {tenant.slug} purged: {cert.rows_deleted} rows, {cert.files_removed} files. "
            f"Deletion certificate {cert.certificate_id} (mamori certificate show {cert.certificate_id})."))

    def _run_due(self, options):
        summary = term.run_due()
        self.stdout.write(f"Reminders sent: {summary['reminders']}; tenants purged: {len(summary['purged'])}.")
