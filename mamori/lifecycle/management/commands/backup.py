"""``mamori backup create|list|verify|restore|prune|drill``: encrypted system backups (docs/backups.md).

Exit status: 0 success; 1 a backup, check or restore failed (the message names the file);
2 bad input. ``create-tenant``, ``list-tenant`` and ``restore-tenant`` (per-tenant backups)
come from ``mamori.lifecycle.tenant_backup_cli`` when it is installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError as DatabaseOperationalError

from mamori.core.management.base import cli_actor, dump_json, invalid
from mamori.lifecycle import backup as backups
from mamori.lifecycle.backup_crypto import BackupCorrupt, BackupKeyError
from mamori.lifecycle.backup_engines import EngineError

SYSTEM_COMMANDS = ("create", "list", "verify", "restore", "prune", "drill")
TENANT_CLI = "mamori.lifecycle.tenant_backup_cli"


def _tenant_cli():
    if importlib.util.find_spec(TENANT_CLI) is None:
        return None
    return importlib.import_module(TENANT_CLI)


def failed(message: str) -> CommandError:
    return CommandError(message, returncode=1)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


class Command(BaseCommand):
    help = "Encrypted system backups: create, list, verify, restore, prune (generations) and restore drills."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        create = sub.add_parser("create", help="Write an encrypted backup of the whole database now.")
        listing = sub.add_parser("list", help="Backups in the backup directory, newest first.")
        listing.add_argument("--json", action="store_true", help="Print the result as JSON.")
        verify = sub.add_parser("verify", help="Recompute hashes and decrypt completely (default: every backup).")
        verify.add_argument("names", nargs="*", metavar="NAME", help="Backup names or file names.")
        verify.add_argument("--latest", action="store_true", help="Only the newest backup.")
        restore = sub.add_parser("restore", help="Restore a backup into a named SQLite file or PostgreSQL database.")
        restore.add_argument("name", nargs="?", metavar="NAME", help="Backup name or file name.")
        restore.add_argument("--latest", action="store_true", help="Restore the newest backup.")
        restore.add_argument("--target", required=True,
                             help="SQLite file path, or PostgreSQL database name on the configured server.")
        restore.add_argument("--force", action="store_true",
                             help="Replace an existing target (required for the live database).")
        restore.add_argument("--yes", action="store_true",
                             help="Do not ask for typed confirmation when the target is the live database.")
        prune = sub.add_parser("prune", help="Delete backups the generation policy does not keep.")
        prune.add_argument("--dry-run", action="store_true", help="Only show what would be deleted.")
        prune.add_argument("--keep-daily", type=int, default=None, help="Override MAMORI_BACKUP_KEEP_DAILY.")
        prune.add_argument("--keep-weekly", type=int, default=None, help="Override MAMORI_BACKUP_KEEP_WEEKLY.")
        drill = sub.add_parser("drill", help="Restore the newest backup into a scratch database and check it.")
        drill.add_argument("--json", action="store_true", help="Print the result as JSON.")
        for command in (create, listing, verify, restore, prune, drill):
            command.add_argument("--dir", default=None,
                                 help="Backup directory (default MAMORI_BACKUP_DIR; e.g. the off-site copy).")
        tenant_cli = _tenant_cli()
        if tenant_cli is not None:
            tenant_cli.add_subcommands(sub)

    def handle(self, *args, **options):
        command = options["subcommand"]
        if command not in SYSTEM_COMMANDS:
            code = _tenant_cli().handle(command, options, self.stdout)
            if code:
                raise CommandError(f"backup {command} failed.", returncode=code)
            return
        try:
            getattr(self, "_" + command)(options)
        except BackupKeyError as exc:
            raise failed(str(exc)) from None
        except (BackupCorrupt, backups.BackupError, EngineError) as exc:
            raise failed(str(exc)) from None

    # --- create / list ----------------------------------------------------------------------

    def _create(self, options):
        from mamori.lifecycle.backup_jobs import run_backup

        try:
            backup, row = run_backup(actor=cli_actor(), directory=options["dir"])
        except (OSError, DatabaseOperationalError) as exc:  # e.g. SQLite's "database or disk is full"
            raise failed(f"Backup failed, nothing was kept: {exc}") from None
        m = backup.manifest
        self.stdout.write(self.style.SUCCESS(
            f"{backup.path} ({_human(m['encrypted']['size'])}, {m['rows']} rows in {len(m['tables'])} tables, "
            f"{m['duration_seconds']} s)"))
        if row.offsite_state == row.Offsite.COPIED:
            self.stdout.write(f"Off-site copy checked (SHA-256) in {backups.offsite_dir()}.")
        elif row.offsite_state == row.Offsite.FAILED:
            raise failed(f"Backup written, but the off-site copy FAILED: {row.offsite_error}")

    def _list(self, options):
        from mamori.lifecycle.models import SystemBackup

        items = backups.list_backups(options["dir"])
        rows = {r.file_name: r for r in SystemBackup.objects.filter(file_name__in=[b.file_name for b in items])}
        data = []
        for b in items:
            row = rows.get(b.file_name)
            data.append({
                "file": b.file_name, "created": b.manifest.get("created"), "engine": b.engine,
                "size": b.manifest.get("encrypted", {}).get("size"), "rows": b.manifest.get("rows"),
                "tags": row.tags.split(",") if row and row.tags else [],
                "verified": row.verify_ok if row else None, "offsite": row.offsite_state if row else None,
                "error": b.manifest.get("error", ""),
            })
        if options["json"]:
            self.stdout.write(dump_json(data))
            return
        if not data:
            self.stdout.write(f"No backups in {backups.backup_dir(options['dir'])}.")
            return
        for d in data:
            if d["error"]:
                self.stdout.write(self.style.ERROR(f"{d['file']}  UNREADABLE: {d['error']}"))
                continue
            verified = {True: "verified", False: "VERIFY FAILED", None: "not verified"}[d["verified"]]
            self.stdout.write(f"{d['file']}  {d['created']}  {d['engine']}  {_human(d['size'])}  {d['rows']} rows  "
                              f"[{','.join(d['tags']) or '-'}]  {verified}  off-site: {d['offsite'] or '-'}")

    # --- verify -----------------------------------------------------------------------------

    def _selected(self, options) -> list[backups.Backup]:
        if options.get("names"):
            return [backups.find_backup(name, options["dir"]) for name in options["names"]]
        items = backups.list_backups(options["dir"])
        if options.get("latest"):
            items = items[:1]
        if not items:
            raise failed(f"No backups in {backups.backup_dir(options['dir'])}.")
        return items

    def _verify(self, options):
        from mamori.lifecycle.actions_backup import record_backup_verified
        from mamori.lifecycle.backup_crypto import load_backup_key

        key = load_backup_key()
        actor = cli_actor()
        bad = []
        for backup in self._selected(options):
            try:
                backups.verify_backup(backup, key)
            except (BackupCorrupt, BackupKeyError) as exc:
                bad.append(str(exc))
                self.stdout.write(self.style.ERROR(f"FAILED {exc}"))
                record_backup_verified(actor=actor, file_name=backup.file_name, ok=False, error=str(exc))
            else:
                self.stdout.write(self.style.SUCCESS(f"OK {backup.file_name}"))
                record_backup_verified(actor=actor, file_name=backup.file_name, ok=True)
        if bad:
            raise failed(f"{len(bad)} backup(s) failed verification: " + "; ".join(bad))

    # --- restore ----------------------------------------------------------------------------

    def _restore(self, options):
        from mamori.lifecycle.actions_backup import record_backup_restored
        from mamori.lifecycle.backup_restore import resolve_target, restore_backup

        if bool(options["name"]) == bool(options["latest"]):
            raise invalid("Give either a backup NAME or --latest.")
        if options["latest"]:
            backup = backups.newest_backup(options["dir"])
            if backup is None:
                raise failed(f"No backups in {backups.backup_dir(options['dir'])}.")
        else:
            backup = backups.find_backup(options["name"], options["dir"])
        target = resolve_target(backup, options["target"])
        if target.live:
            if not options["force"]:
                raise invalid(f"{target.name} is the live database. Restoring over it replaces ALL current data: "
                              "add --force (and confirm, or --yes in scripts).")
            if not options["yes"]:
                self._confirm(target.name)
        actor = cli_actor()
        result = restore_backup(backup, target, force=options["force"])
        record_backup_restored(actor=actor, file_name=backup.file_name, target=target.name, live=target.live,
                               rows=result["rows"])
        self.stdout.write(self.style.SUCCESS(
            f"Restored {backup.file_name} into {target.describe()}: {result['rows']} rows in {result['seconds']} s."))

    def _confirm(self, name: str) -> None:
        if not sys.stdin.isatty():
            raise invalid("Refusing to restore over the live database without confirmation: "
                          "run in a terminal, or add --yes.")
        self.stdout.write(self.style.WARNING(
            f"This replaces ALL data in the live database {name} with the backup."))
        answer = input(f"Type the target ({name}) to confirm: ").strip()
        if answer != name:
            raise invalid("Not confirmed; nothing was changed.")

    # --- prune / drill ----------------------------------------------------------------------

    def _prune(self, options):
        from mamori.lifecycle.backup_jobs import run_prune

        for flag in ("keep_daily", "keep_weekly"):
            if options[flag] is not None and options[flag] < 0:
                raise invalid(f"--{flag.replace('_', '-')} must be zero or more.")
        plan = run_prune(actor=cli_actor(), directory=options["dir"], dry_run=options["dry_run"],
                         keep_daily=options["keep_daily"], keep_weekly=options["keep_weekly"])
        verb = "Would delete" if options["dry_run"] else "Deleted"
        for backup in plan.delete:
            self.stdout.write(f"{verb} {backup.file_name}")
        for name, tags in sorted(plan.keep.items(), reverse=True):
            self.stdout.write(f"Keep {name}{backups.SUFFIX} [{','.join(tags)}]")
        self.stdout.write(self.style.SUCCESS(f"{verb} {len(plan.delete)}, kept {len(plan.keep)}."))

    def _drill(self, options):
        from mamori.lifecycle.backup_restore import run_drill

        drill = run_drill(actor=cli_actor(), directory=options["dir"])
        if options["json"]:
            self.stdout.write(dump_json({"result": drill.result, "backup": drill.backup_file, "checks": drill.checks,
                                         "figures": drill.figures, "error": drill.error}))
        else:
            for check in drill.checks:
                mark = "ok " if check["ok"] else "FAILED "
                self.stdout.write(f"  {mark}{check['name']}: {check['detail']}")
            if drill.error:
                self.stdout.write(self.style.ERROR(f"  error: {drill.error}"))
        if drill.result != drill.Result.PASSED:
            raise failed(f"Restore drill FAILED ({drill.backup_file or 'no backup'}).")
        self.stdout.write(self.style.SUCCESS(f"Restore drill passed ({drill.backup_file})."))
