"""``mamori serve``: one command from a fresh checkout to a running Mamori.

1. Apply migrations (SQLite under MAMORI_DATA_DIR by default, or DATABASE_URL).
2. First run (no tenant at all): create the demo tenant ``demo`` ("Demo 株式会社",
   admin ``admin@demo.example``) and print the admin's one-time sign-in link.
   Later runs: while that admin has not chosen a password, print a fresh link
   (the previous unused link stops working); afterwards print nothing secret.
   (The production profile first runs ``mamori check --deploy`` and refuses to
   start on any problem it reports.)
3. Start a ``mamori worker`` child for background tasks (``--no-worker`` to run
   workers separately) and serve with gunicorn (not ``runserver``); static files
   come from WhiteNoise. SIGINT/SIGTERM stop gunicorn and the worker child.

Links and e-mails use MAMORI_BASE_URL; when it is unset it is set from the bind
address so that the printed link works on this machine.
"""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from mamori.core.management.base import cli_actor
from mamori.operations.actions import DEMO_ADMIN_EMAIL, bootstrap_demo
from mamori.operations.server import Bind, MamoriServer, TaskWorkerChild


def _port(value: str) -> int:
    port = int(value)
    if not 1 <= port <= 65535:
        raise ValueError(port)
    return port


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(number)
    return number


class Command(BaseCommand):
    help = "Migrate, create the demo tenant on first run, and serve Mamori (gunicorn + task worker)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("MAMORI_HOST", "127.0.0.1"),
                            help="Address to listen on (default: 127.0.0.1, or MAMORI_HOST).")
        parser.add_argument("--port", type=_port, default=os.environ.get("MAMORI_PORT", "8000"),
                            help="Port to listen on (default: 8000, or MAMORI_PORT).")
        parser.add_argument("--workers", type=_positive, default=2, help="Web worker processes (default: 2).")
        parser.add_argument("--threads", type=_positive, default=4, help="Threads per web worker (default: 4).")
        parser.add_argument("--no-worker", action="store_true",
                            help="Do not start a background task worker (run `mamori worker` yourself).")
        parser.add_argument("--no-demo", action="store_true",
                            help="Do not create the demo tenant or print its sign-in link.")

    def handle(self, *args, **options):
        bind = Bind(options["host"].strip("[]"), options["port"])
        self._configure_urls(bind)
        if settings.PRODUCTION:
            # The production profile refuses to start on settings `check --deploy` rejects.
            call_command("check", deploy=True)

        applied = self._migrate()
        self.stdout.write(f"Database ready ({connections[DEFAULT_DB_ALIAS].vendor}"
                          + (f", {applied} migrations applied" if applied else "") + ").")
        if not options["no_demo"]:
            self._demo()
        if settings.DATA_DIR.is_dir():
            # WhiteNoise serves from the finders; an existing STATIC_ROOT only stops its warning.
            (settings.DATA_DIR / "static").mkdir(exist_ok=True)
        # Forked web workers must not share the connection used above.
        connections.close_all()

        worker = TaskWorkerChild()
        if not options["no_worker"]:
            worker.start()
            self.stdout.write(f"Background task worker started (pid {worker.pid}).")
        else:
            self.stdout.write("No background task worker started: run `mamori worker` separately.")
        self.stdout.write(self.style.SUCCESS(
            f"Serving Mamori at {settings.BASE_URL}/ (listening on {bind.address}, "
            f"{options['workers']} workers × {options['threads']} threads). Press Ctrl+C to stop."))
        self.stdout.flush()
        try:
            MamoriServer(bind=bind, workers=options["workers"], threads=options["threads"],
                         on_exit=lambda _arbiter: worker.stop()).run()
        finally:
            worker.stop()

    def _configure_urls(self, bind: Bind) -> None:
        if not os.environ.get("MAMORI_BASE_URL"):
            os.environ["MAMORI_BASE_URL"] = bind.base_url
            settings.BASE_URL = bind.base_url
        if not settings.PRODUCTION and "MAMORI_ALLOWED_HOSTS" not in os.environ:
            hosts = list(settings.ALLOWED_HOSTS)
            for host in (bind.url_host, bind.host if not bind.is_wildcard else None):
                if host and host not in hosts:
                    hosts.append(host)
            settings.ALLOWED_HOSTS = hosts
            os.environ["MAMORI_ALLOWED_HOSTS"] = ",".join(hosts)

    def _migrate(self) -> int:
        connection = connections[DEFAULT_DB_ALIAS]
        executor = MigrationExecutor(connection)
        pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
        if pending:
            self.stdout.write(f"Applying {pending} migrations…")
            self.stdout.flush()
            try:
                call_command("migrate", interactive=False, verbosity=0)
            except Exception as exc:
                raise CommandError(f"Migrations failed: {exc}") from exc
        return pending

    def _demo(self) -> None:
        result = bootstrap_demo(actor=cli_actor())
        if result.login_url is None:
            if result.tenant is not None:
                self.stdout.write(f"Demo tenant: {settings.BASE_URL}/t/{result.tenant.slug}/")
            return
        tenant = result.tenant
        rule = "=" * 72
        lines = [
            rule,
            ("Created the demo tenant" if result.created else "Demo tenant")
            + f" {tenant.name} ({tenant.slug}): {settings.BASE_URL}/t/{tenant.slug}/",
            f"One-time sign-in link for the tenant admin {DEMO_ADMIN_EMAIL}",
            f"(single use, valid {settings.LOGIN_LINK_MAX_AGE_HOURS} hours; you then choose a password):",
            "",
            f"    {result.login_url}",
            "",
        ]
        if not result.created:
            lines.append("(A new link is printed at each start until the admin has set a password.)")
        lines.append(rule)
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
        sys.stdout.flush()
