"""``mamori worker``: run background tasks from the database queue.

A thin wrapper around ``django_tasks_db``'s ``db_worker`` with Mamori's
defaults (queue ``default``, poll every second, no autoreload). Run as many
workers as you like, on one machine or several: each claims a task inside its
own transaction (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, an
exclusive write lock on SQLite) and marks it running before it starts, so no
task runs twice. ``mamori serve`` starts one worker for you (``--no-worker`` to
run them separately). SIGINT/SIGTERM finish the current task, then exit.

Each worker also enqueues the periodic jobs that are due (``mamori.core.schedule``; a row
lock makes exactly one worker enqueue each run), every 30 seconds from one minute after it
started. ``--no-schedule`` or ``MAMORI_SCHEDULE=0`` turn that off. ``--batch`` runs the queue
only; ``--batch --schedule`` first enqueues the jobs that are due (for cron).
"""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run background tasks (several workers may run at once; each task runs once)."

    def add_arguments(self, parser):
        parser.add_argument("--queue", default="default",
                            help="Queues to process, comma-separated, or '*' for all (default: default).")
        parser.add_argument("--interval", type=float, default=1.0,
                            help="Seconds to wait when the queue is empty (default: 1).")
        parser.add_argument("--batch", action="store_true",
                            help="Run the tasks that are ready, then exit.")
        parser.add_argument("--max-tasks", type=int, default=None,
                            help="Exit after running this many tasks.")
        parser.add_argument("--worker-id", default=None,
                            help="Unique id of this worker (default: generated).")
        parser.add_argument("--no-startup-delay", action="store_true",
                            help="Do not wait a random fraction of a second before the first poll.")
        parser.add_argument("--no-schedule", action="store_true",
                            help="Do not enqueue periodic jobs (backups, digests, purges) from this worker.")
        parser.add_argument("--schedule", action="store_true",
                            help="With --batch: enqueue the periodic jobs that are due before running the queue.")

    def handle(self, *args, **options):
        if options["interval"] < 0:
            raise CommandError("--interval must be zero or more.", returncode=2)
        worker_args = [
            "--queue-name", options["queue"],
            "--interval", str(options["interval"]),
            "--no-reload",
        ]
        if options["batch"]:
            worker_args.append("--batch")
        if options["max_tasks"]:
            worker_args += ["--max-tasks", str(options["max_tasks"])]
        if options["worker_id"]:
            worker_args += ["--worker-id", options["worker_id"]]
        if options["no_startup_delay"]:
            worker_args.append("--no-startup-delay")
        if not options["no_schedule"]:
            from mamori.core import schedule

            if not options["batch"]:
                schedule.SchedulerThread().start()
            elif options["schedule"]:
                schedule.enqueue_due()
        call_command("db_worker", *worker_args, verbosity=options["verbosity"])
