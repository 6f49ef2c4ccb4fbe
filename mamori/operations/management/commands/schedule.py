"""``mamori schedule list|run NAME``: the periodic jobs, their schedule and last result."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from mamori.core import schedule
from mamori.core.management.base import cli_actor, dump_json, invalid
from mamori.operations import queries
from mamori.operations.actions_schedules import run_job_now


class Command(BaseCommand):
    help = "Periodic jobs: list them (defaults, schedule table overrides, last and next run) or run one now."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{list,run}")
        listing = sub.add_parser("list", help="List every registered job.")
        listing.add_argument("--json", action="store_true")
        run = sub.add_parser("run", help="Enqueue a job now (the worker runs it; audited); the next run is unchanged.")
        run.add_argument("name")

    def handle(self, *args, **options):
        if options["subcommand"] == "run":
            if options["name"] not in schedule.registered_jobs():
                raise invalid(f"No periodic job {options['name']!r} (see `mamori schedule list`).")
            row = run_job_now(actor=cli_actor(), name=options["name"])
            self.stdout.write(self.style.SUCCESS(f"Enqueued {row.name} (task {row.last_task_id})."))
            return
        rows = queries.schedule_rows()
        if options["json"]:
            self.stdout.write(dump_json([row.as_dict() for row in rows]))
            return
        for row in rows:
            self.stdout.write(
                f"{row.name:<40} every={row.every_text:<5} at={row.at_text:<6} "
                f"{'enabled' if row.enabled else 'DISABLED':<8} default={row.default_text:<12} "
                f"last={row.last_run_text:<20} result={row.result:<8} next={row.next_run_text}")
