"""``mamori backup create-tenant | list-tenant | restore-tenant`` (delegated by ``mamori backup``).

Exit status: 0 done; 1 the backup or restore failed (the message names the file); 2 bad input
(unknown slug, no backup before the time, missing confirmation …). Nothing is written on 1 or 2.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError

COMMANDS = ("create-tenant", "list-tenant", "restore-tenant")
EXIT_FAILED = 1
EXIT_INVALID = 2


def add_subcommands(subparsers) -> None:
    p = subparsers.add_parser("create-tenant", help="Take an encrypted logical backup of one tenant now.")
    p.add_argument("slug")
    p = subparsers.add_parser("list-tenant", help="List one tenant's backups, newest first.")
    p.add_argument("slug")
    p.add_argument("--json", action="store_true", help="Print the result as JSON.")
    p = subparsers.add_parser("restore-tenant",
                              help="Restore one tenant from its newest backup taken at or before --at.")
    p.add_argument("slug")
    p.add_argument("--at", required=True,
                   help="ISO 8601 time (e.g. 2026-11-20T09:00+09:00; without an offset: the tenant's time zone).")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--as-new", metavar="NEWSLUG", help="Restore into a new tenant with this slug.")
    mode.add_argument("--in-place", action="store_true",
                      help="Replace the tenant's current data with the backup's (needs --yes).")
    p.add_argument("--name", default="", help="Name of the new tenant (with --as-new; default: the same name).")
    p.add_argument("--yes", action="store_true", help="Confirm an in-place restore.")


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {m}" if field != "__all__" else str(m)
                         for field, messages in exc.message_dict.items() for m in messages)
    return "; ".join(exc.messages)


def handle(command: str, options: dict, stdout) -> int:
    from mamori.core.management.base import cli_actor
    from mamori.lifecycle import tenant_backup as tb
    from mamori.lifecycle import tenant_backup_jobs as jobs

    try:
        tenant = jobs.tenant_by_slug(options["slug"])
        if command == "create-tenant":
            backup = jobs.take_backup(tenant, actor=cli_actor())
            stdout.write(f"Backup {backup.uuid} of {tenant.slug}: {backup.row_count} rows in {backup.table_count} "
                         f"tables, {backup.file_count} files, {backup.size} bytes ({backup.storage_name}).\n")
            return 0
        if command == "list-tenant":
            rows = [{"uuid": str(b.uuid), "taken_at": b.taken_at.isoformat(), "status": b.status,
                     "trigger": b.trigger, "rows": b.row_count, "files": b.file_count, "size": b.size,
                     "file": b.storage_name, "error": b.error} for b in jobs.backups_of(tenant)]
            if options.get("json"):
                stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
            elif not rows:
                stdout.write(f"No backups of {tenant.slug}.\n")
            else:
                for r in rows:
                    stdout.write(f"{r['taken_at']}  {r['uuid']}  {r['status']:<8} {r['trigger']:<9} "
                                 f"rows={r['rows']} files={r['files']} size={r['size']}\n")
            return 0
        if command == "restore-tenant":
            from mamori.lifecycle.actions_tenant_backup import restore_tenant_backup

            at = jobs.parse_time(options["at"], tenant)
            backup = jobs.backup_at(tenant, at)
            if options.get("in_place") and not options.get("yes"):
                raise ValidationError({"yes": f"An in-place restore replaces every row and file of {tenant.slug} "
                                              f"with the backup of {backup.taken_at.isoformat()}; add --yes."})
            mode = "in_place" if options.get("in_place") else "as_new"
            target, result = restore_tenant_backup(actor=cli_actor(), backup=backup, mode=mode,
                                                   new_slug=options.get("as_new") or "",
                                                   new_name=options.get("name") or "", confirmed=bool(options.get("yes")))
            stdout.write(f"Restored {sum(result.restored.values())} rows and {result.files} files of {tenant.slug} "
                         f"from backup {backup.uuid} ({backup.taken_at.isoformat()}) into {target.slug} "
                         f"({'in place' if mode == 'in_place' else 'new tenant'}); "
                         f"{result.sessions_ended} users must sign in again; API and SCIM tokens must be issued "
                         "again.\n")
            return 0
    except ValidationError as exc:
        message = _errors(exc)
        # A backup that cannot be used (damaged, another schema) is a failure; the rest is bad input.
        code = EXIT_FAILED if hasattr(exc, "error_dict") and "backup" in exc.error_dict else EXIT_INVALID
        stdout.write(f"Nothing was changed: {message}\n")
        return code
    except tb.TenantBackupError as exc:
        stdout.write(f"Nothing was changed: {exc}\n")
        return EXIT_FAILED
    stdout.write(f"Unknown command {command}\n")
    return EXIT_INVALID
