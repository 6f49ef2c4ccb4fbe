"""``mamori audit_purge [--dry-run]`` (also ``mamori audit purge``): the retention purge.

Removes, per tenant and for the provider log, the prefix of each chain whose
events have all passed their category's retention, leaving a signed checkpoint
so the rest still verifies; writes ``audit.purged`` events. Also deletes the files
of expired evidence packages. Schedule it daily.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from mamori.core.management.base import cli_actor, dump_json


def add_purge_arguments(parser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="Show what would be removed; change nothing.")
    parser.add_argument("--json", action="store_true", help="Print the result as JSON.")


def run_purge(command: BaseCommand, options: dict) -> None:
    from mamori.evidence.actions import delete_expired_exports_everywhere, purge_expired_events

    report = purge_expired_events(actor=cli_actor(), dry_run=options["dry_run"])
    packages = 0 if options["dry_run"] else delete_expired_exports_everywhere(actor=cli_actor())
    rows = [{"log": who, "chain": plan.chain, "purged_through_seq": plan.purged_through_seq,
             "removed_count": plan.removed_count} for who, plan in report.plans]
    if options.get("json"):
        command.stdout.write(dump_json({"dry_run": report.dry_run, "removed_count": report.removed_count,
                                        "chains": rows, "expired_packages_deleted": packages}))
        return
    verb = "Would remove" if report.dry_run else "Removed"
    for row in rows:
        command.stdout.write(f"{verb} {row['removed_count']} events of {row['log']} "
                             f"({row['chain']}, up to seq {row['purged_through_seq']}).")
    command.stdout.write(f"{verb} {report.removed_count} expired audit events in total.")
    if not report.dry_run:
        command.stdout.write(f"Deleted the files of {packages} expired evidence packages.")


class Command(BaseCommand):
    help = "Remove expired audit events (retention), leaving signed checkpoints."

    def add_arguments(self, parser):
        add_purge_arguments(parser)

    def handle(self, *args, **options):
        run_purge(self, options)
