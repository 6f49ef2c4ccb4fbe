"""``mamori tenant export SLUG [--output FILE]``: a full export run by the provider.

The export is built in this process (no worker needed). It is recorded in the tenant's
log (with the CLI as actor) and in the provider log; with ``--output`` the ZIP is also
copied to a local file (written next to it first and renamed, so a failed copy leaves
nothing behind), which is audited like a download. Without ``--output`` the ZIP stays
in the storage, where the tenant's admins can download it until it expires.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from mamori.core.management.base import cli_actor, dump_json, invalid, validation_failed


def add_subcommand(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="Export all data of a tenant to a signed ZIP (CSV, JSON lines, attachments, manifest).")
    parser.add_argument("slug", help="The tenant's slug.")
    parser.add_argument("--output", default=None,
                        help="Also write the ZIP to this file (it must not exist yet).")
    parser.add_argument("--json", action="store_true", help="Print the result as JSON.")


def handle(options, stdout) -> None:
    from mamori.lifecycle.actions_export import record_export_download, request_tenant_export
    from mamori.lifecycle.export import build_export
    from mamori.lifecycle.export_queries import open_export
    from mamori.lifecycle.models import TenantExport
    from mamori.tenancy.context import tenant_context
    from mamori.tenancy.models import Tenant

    tenant = Tenant.objects.filter(slug=options["slug"]).first()
    if tenant is None:
        raise invalid(f"No tenant with the slug {options['slug']!r}.")
    output = Path(options["output"]).expanduser() if options.get("output") else None
    if output is not None:
        if output.exists():
            raise invalid(f"{output} already exists; choose another file.")
        if not output.parent.is_dir():
            raise invalid(f"The folder {output.parent} does not exist.")
    actor = cli_actor()
    try:
        with tenant_context(tenant):
            export = request_tenant_export(actor=actor, provider=True, enqueue=False)
    except ValidationError as exc:
        raise validation_failed(exc) from None
    build_export(export.pk, tenant)
    with tenant_context(tenant):
        export = TenantExport.objects.get(pk=export.pk)
    if export.status != TenantExport.Status.COMPLETED:
        raise CommandError(f"The export failed: {export.error}", returncode=1)
    if output is not None:
        partial = output.with_name(f".{output.name}.partial")
        try:
            digest = hashlib.sha256()
            with tenant_context(tenant):
                source = open_export(export)
            with source, partial.open("xb") as target:
                for block in iter(lambda: source.read(1 << 20), b""):
                    digest.update(block)
                    target.write(block)
            if digest.hexdigest() != export.sha256:
                raise CommandError("The stored ZIP does not match its SHA-256; nothing was written.", returncode=1)
            os.replace(partial, output)
        except OSError as exc:
            raise CommandError(f"Could not write {output}: {exc.strerror or exc}", returncode=1) from None
        finally:
            partial.unlink(missing_ok=True)
        with tenant_context(tenant):
            record_export_download(actor=actor, export=export, provider=True)
    result = {"tenant": tenant.slug, "export_id": export.pk, "status": export.status, "rows": export.rows_done,
              "tables": export.table_count, "files": export.file_count, "unreadable_files": export.unreadable_files,
              "size": export.file_size, "sha256": export.sha256, "expires_at": export.expires_at.isoformat(),
              "output": str(output) if output else None}
    if options.get("json"):
        stdout.write(dump_json(result))
        return
    stdout.write(f"Exported tenant {tenant.slug}: {export.rows_done} rows in {export.table_count} tables, "
                 f"{export.file_count} files ({export.file_size} bytes).")
    if export.unreadable_files:
        stdout.write(f"  {export.unreadable_files} file(s) could not be decrypted; see manifest.json.")
    stdout.write(f"  SHA-256: {export.sha256}")
    if output is not None:
        stdout.write(f"  Written to {output}")
    else:
        stdout.write(f"  Stored as export {export.pk}; tenant admins can download it until {export.expires_at:%Y-%m-%d %H:%M} UTC.")
