"""``mamori keys status|rotate-master|rotate-tenant|generate-master-key``: the tenants' data keys.

``rotate-master`` re-wraps every data key with a new master key in one transaction; the
new key comes from ``--new-key-file`` or ``MAMORI_NEW_MASTER_KEY_FILE`` /
``MAMORI_NEW_MASTER_KEY``. ``rotate-tenant SLUG`` creates a new data key version and
re-encrypts the tenant's values in small batches; when interrupted, run it again and it
resumes. See docs/keys.md.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from mamori.core.env import read_secret
from mamori.core.management.base import cli_actor, dump_json, invalid, validation_failed
from mamori.lifecycle import keys
from mamori.lifecycle.actions import rotate_master_key
from mamori.lifecycle.models import MasterKeyMarker, TenantDataKey
from mamori.lifecycle.rotation import remaining_old_tokens, rotate_tenant
from mamori.tenancy.context import tenant_context
from mamori.tenancy.models import Tenant


class Command(BaseCommand):
    help = "Show and rotate the master key and the tenants' data keys."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True,
                                    metavar="{status,rotate-master,rotate-tenant,generate-master-key}")
        status = sub.add_parser("status", help="Master key in use and every tenant's data key versions.")
        status.add_argument("--json", action="store_true", help="Print the result as JSON.")
        master = sub.add_parser("rotate-master", help="Re-wrap every data key with a new master key (atomic).")
        master.add_argument("--new-key-file", help="File with the new master key (base64 of 32 bytes). "
                                                   "Default: MAMORI_NEW_MASTER_KEY_FILE or MAMORI_NEW_MASTER_KEY.")
        tenant = sub.add_parser("rotate-tenant", help="New data key for one tenant; re-encrypt its values (resumable).")
        tenant.add_argument("slug")
        tenant.add_argument("--batch-size", type=int, default=200, help="Values per transaction (default 200).")
        tenant.add_argument("--background", action="store_true",
                            help="Create the new key now; re-encrypt in the worker (mamori worker).")
        generate = sub.add_parser("generate-master-key", help="Write a new random master key to a file (mode 0600).")
        generate.add_argument("path")

    def handle(self, *args, **options):
        try:
            return getattr(self, "_" + options["subcommand"].replace("-", "_"))(options)
        except keys.MasterKeyError as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise validation_failed(exc) from None

    # --- status -----------------------------------------------------------------------------

    def _status(self, options):
        provider = keys.get_key_provider()
        marker = MasterKeyMarker.objects.filter(name="master").first()
        data = {"master_key": {"id": provider.key_id, "source": provider.source,
                               "in_use_id": marker.kek_id if marker else None,
                               "matches": marker is None or marker.kek_id == provider.key_id},
                "tenants": []}
        for tenant in Tenant.objects.order_by("slug"):
            with tenant_context(tenant):
                rows = list(TenantDataKey.objects.order_by("version"))
                active = next((r for r in rows if r.state == TenantDataKey.State.ACTIVE), None)
                rotating = any(r.state == TenantDataKey.State.RETIRING for r in rows)
                data["tenants"].append({
                    "slug": tenant.slug,
                    "rotation_pending": remaining_old_tokens(active.version) if rotating and active else 0,
                    "keys": [{"version": r.version, "state": r.state, "fingerprint": r.fingerprint,
                              "master_key_id": r.kek_id, "created_at": r.created_at,
                              "retired_at": r.retired_at, "destroyed_at": r.destroyed_at} for r in rows],
                })
        if options["json"]:
            self.stdout.write(dump_json(data))
        else:
            m = data["master_key"]
            line = f"Master key {m['id']} from {m['source']}"
            if m["matches"]:
                self.stdout.write(self.style.SUCCESS(line + " (in use)."))
            else:
                self.stdout.write(self.style.ERROR(line + f": WRONG KEY, the data keys use {m['in_use_id']}."))
            for t in data["tenants"]:
                versions = ", ".join(f"v{k['version']} {k['state']} {k['fingerprint'][:16]}" for k in t["keys"])
                extra = f" — rotation pending, {t['rotation_pending']} values left" if t["rotation_pending"] else ""
                self.stdout.write(f"{t['slug']}: {versions or 'no data key yet'}{extra}")
        if not data["master_key"]["matches"]:
            raise CommandError("The configured master key is not the one the data keys are wrapped with.")

    # --- rotation ---------------------------------------------------------------------------

    def _new_provider(self, options) -> keys.LocalKeyProvider:
        if options["new_key_file"]:
            path = Path(options["new_key_file"])
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise invalid(f"Cannot read the new master key file: {exc}") from None
            return keys.LocalKeyProvider(keys.parse_master_key(text, str(path)), str(path))
        text = read_secret("MAMORI_NEW_MASTER_KEY")
        if not text:
            raise invalid("Give the new master key with --new-key-file PATH or MAMORI_NEW_MASTER_KEY_FILE.")
        source = "MAMORI_NEW_MASTER_KEY_FILE" if os.environ.get("MAMORI_NEW_MASTER_KEY_FILE") else "MAMORI_NEW_MASTER_KEY"
        return keys.LocalKeyProvider(keys.parse_master_key(text, source), source)

    def _rotate_master(self, options):
        new = self._new_provider(options)
        summary = rotate_master_key(actor=cli_actor(), new_provider=new)
        self.stdout.write(self.style.SUCCESS(
            f"Re-wrapped {summary['data_keys']} data keys of {summary['tenants']} tenants: master key "
            f"{summary['old_master_key_id']} → {summary['new_master_key_id']}."))
        self.stdout.write("Now configure the new key (MAMORI_MASTER_KEY_FILE) and restart every process; "
                          "processes still using the old key refuse to work instead of writing with it.")

    def _rotate_tenant(self, options):
        slug = options["slug"].strip().lower()
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise invalid(f"No tenant with slug {options['slug']!r}.")
        if options["batch_size"] < 1:
            raise invalid("--batch-size must be at least 1.")

        if options["background"]:
            from mamori.lifecycle.actions import start_tenant_key_rotation
            from mamori.lifecycle.tasks import rotate_tenant_key_task

            actor = cli_actor()
            with tenant_context(tenant):
                active = start_tenant_key_rotation(actor=actor)
            rotate_tenant_key_task.enqueue(tenant_id=tenant.pk, requested_by=actor.label)
            self.stdout.write(self.style.SUCCESS(
                f"Tenant {tenant.slug}: data key v{active.version} active; re-encryption queued for the worker "
                "(`mamori keys status` shows the progress)."))
            return

        def progress(what: str, count: int) -> None:
            self.stdout.write(f"  {what}: {count} re-encrypted")

        active = rotate_tenant(tenant, actor=cli_actor(), batch_size=options["batch_size"], progress=progress)
        self.stdout.write(self.style.SUCCESS(
            f"Tenant {tenant.slug}: data key v{active.version} ({active.fingerprint[:16]}) active; "
            "older versions retired."))

    def _generate_master_key(self, options):
        path = Path(options["path"])
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise invalid(f"{path} exists; refusing to overwrite a key.") from None
        except OSError as exc:
            raise invalid(f"Cannot create {path}: {exc}") from None
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(keys.generate_master_key() + "\n")
        self.stdout.write(self.style.SUCCESS(
            f"Wrote a new master key to {path} (mode 0600), id {keys.kek_id_for(keys.parse_master_key(path.read_text(), str(path)))}."))
