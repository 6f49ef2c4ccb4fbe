"""The irrecoverable purge of a terminated tenant (CLD.8.1.5, 11.2.7).

``purge_termination`` runs these steps in order; the step reached and the counts so far are
stored on the ``Termination`` row (``progress``) in the same transaction as each piece of
work, so a purge killed at any point continues where it stopped when run again (by the
job, ``mamori termination purge SLUG`` or the worker), and never counts a row twice:

1. ``sessions``  — the console sessions of the tenant's users are ended;
2. ``tables``    — every row of every tenant table (``mamori.lifecycle.walk.data_tables()``,
   in reverse insert order), in batches of ``MAMORI_PURGE_BATCH_SIZE``, each batch its own
   transaction inside ``tenant_context``. The tenant's audit log is sealed first with a
   signed digest at its head, and deleted through ``mamori.audit.purge.allow_purge`` (the
   only way past the append-only trigger on PostgreSQL). ``lifecycle.TenantDataKey`` is
   left for step 5. Provider tables that keep a tenant's people's addresses beside its id
   (notice and incident deliveries) are anonymised, not deleted
   (``walk.register_provider_scrub``);
3. ``files``     — every file under ``tenant_storage_prefix`` in the default storage;
4. ``backups``   — every per-tenant backup (``mamori.lifecycle.tenant_backup``);
5. ``keys``      — the tenant's data keys are destroyed (``destroy_tenant_keys``): their
   rows stay, with the fingerprint and no key material, so nothing can silently create a
   new key for the tenant, and whatever they encrypted anywhere is unreadable for good;
6. ``certificate`` — ``finish_purge`` issues the signed deletion certificate and marks the
   tenant ``purged``.
"""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Callable, Iterator
from importlib import import_module

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from mamori.audit.events import Actor
from mamori.lifecycle import actions_termination as acts
from mamori.lifecycle.models import DeletionCertificate, TenantDataKey, Termination
from mamori.lifecycle.walk import DataTable, data_tables, provider_scrubs, tenant_storage_prefix
from mamori.tenancy.context import tenant_context
from mamori.tenancy.models import Tenant

logger = logging.getLogger("mamori.lifecycle")
STEPS = ("sessions", "tables", "files", "backups", "keys", "certificate")
KEY_TABLE = TenantDataKey._meta.label
FILE_BATCH = 500


def purge_tables() -> list[DataTable]:
    """The tables the ``tables`` step empties, in deletion order (referencing tables first)."""
    return [t for t in reversed(data_tables()) if t.label != KEY_TABLE]


def batch_size() -> int:
    return max(1, int(getattr(settings, "MAMORI_PURGE_BATCH_SIZE", 500)))


def _save_progress(termination_id: int, update: Callable[[dict], None]) -> dict:
    """Change the stored progress under a row lock (call inside the step's transaction)."""
    row = Termination.objects.select_for_update().get(pk=termination_id)
    progress = dict(row.progress or {})
    progress.setdefault("tables", {})
    update(progress)
    Termination.objects.filter(pk=termination_id).update(progress=progress)
    return progress


def _advance(termination_id: int, step: str, **values) -> None:
    def update(progress: dict) -> None:
        progress.update(values)
        progress["step"] = step

    with transaction.atomic():
        _save_progress(termination_id, update)


# --- 1. sessions -----------------------------------------------------------------------------

def _purge_sessions(termination: Termination, tenant: Tenant) -> None:
    try:
        from allauth.usersessions.models import UserSession
    except (ImportError, RuntimeError):  # usersessions not installed
        _advance(termination.pk, "tables", sessions=0)
        return
    with tenant_context(tenant):
        keys = list(UserSession.objects.filter(user__tenant_id=tenant.pk).values_list("session_key", flat=True))
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in keys:
        store(session_key=key).delete()
    _advance(termination.pk, "tables", sessions=len(keys))


# --- 2. tables -------------------------------------------------------------------------------

def fast_deletable(model, emptied: set[str]) -> bool:
    """True when rows of ``model`` can go with one plain DELETE: every table that points at it is
    one the purge has already emptied for this tenant (earlier in ``purge_tables()``), it has no
    automatic many-to-many table and nothing points at it from its own table. Otherwise Django's
    collector deletes the batch (cascades, SET NULL, self references in the right order)."""
    for field in model._meta.many_to_many:
        through = field.remote_field.through
        if through._meta.auto_created or through._meta.label not in emptied:
            return False
    for relation in model._meta.related_objects:
        related = relation.related_model
        if related is model or related._meta.label not in emptied:
            return False
    return True


def _delete_rows(queryset, fast: bool) -> dict[str, int]:
    if fast:
        return {queryset.model._meta.label: queryset._raw_delete(queryset.db)}
    _total, detail = queryset.delete()
    return detail


def _delete_batch(table: DataTable, tenant: Tenant, termination_id: int, size: int, fast: bool = False,
                  after=None) -> tuple[int, object]:
    """Delete one batch of ``table``'s rows of ``tenant`` (those after primary key ``after``, when
    given); returns how many rows it selected and the last primary key."""
    from mamori.audit.models import AuditEvent

    with tenant_context(tenant):
        _save_progress(termination_id, lambda p: None)  # the row lock: one purger at a time
        rows = table.rows(tenant.pk)
        if after is not None:  # keyset: the index scan starts past the rows deleted already
            rows = rows.filter(pk__gt=after)
        pks = list(rows.values_list("pk", flat=True)[:size])
        if not pks:
            return 0, None
        if fast:  # the tenant's rows from the first key to the last are exactly these: one range
            # DELETE instead of an IN list of ``size`` parameters (built and sent per batch)
            queryset = table.rows(tenant.pk).filter(pk__gte=pks[0], pk__lte=pks[-1])
        else:
            queryset = table.model._base_manager.filter(pk__in=pks)
        if table.model is AuditEvent:
            from mamori.audit.purge import allow_purge

            with allow_purge():
                detail = _delete_rows(queryset, fast)
        else:
            detail = _delete_rows(queryset, fast)

        def update(progress: dict) -> None:
            counts = progress["tables"]
            for label, count in detail.items():  # cascades into other tables count there
                if count:
                    counts[label] = int(counts.get(label, 0)) + int(count)

        _save_progress(termination_id, update)
        return len(pks), pks[-1]


def _seal_audit_log(termination_id: int, tenant: Tenant) -> None:
    """Sign the tenant's audit chain at its head before its events go, so ``mamori audit verify``
    still accepts the (now empty) chain: it starts after the signed checkpoint."""
    from mamori.audit.canonical import chain_name
    from mamori.audit.digests import create_digest

    with tenant_context(tenant):
        progress = _save_progress(termination_id, lambda p: None)
        if progress.get("audit_sealed"):
            return
        create_digest(chain_name(tenant.pk))
        _save_progress(termination_id, lambda p: p.update(audit_sealed=True))


def _purge_tables(termination: Termination, tenant: Tenant, size: int,
                  on_batch: Callable[[str, int], None] | None) -> None:
    emptied: set[str] = set()
    pause = max(0, int(getattr(settings, "MAMORI_PURGE_PAUSE_MS", 50))) / 1000
    for table in purge_tables():
        if table.label == "audit.AuditEvent":
            _seal_audit_log(termination.pk, tenant)
        fast = fast_deletable(table.model, emptied)
        # Batches walk the primary key (pk > the last one deleted) instead of starting at the
        # lowest key each time: on PostgreSQL a scan from the start would step over every row
        # deleted so far (dead until vacuumed), which makes a large table's purge quadratic. A
        # last pass from the start catches any row the walk skipped.
        after = None
        while True:
            deleted, last = _delete_batch(table, tenant, termination.pk, size, fast, after)
            if deleted and pause:
                time.sleep(pause)  # leave the database and the CPU to the other tenants' requests
            if on_batch is not None:
                on_batch(table.label, deleted)
            if deleted == 0:
                if after is None:
                    break
                after = None  # the pass from the start
                continue
            after = last
        emptied.add(table.label)
    _scrub_provider_records(termination, tenant)
    _advance(termination.pk, "files")


def _scrub_provider_records(termination: Termination, tenant: Tenant) -> None:
    """Replace the tenant's people's addresses kept in provider tables (notice and incident
    deliveries…; ``walk.register_provider_scrub``). Idempotent; counts kept for the certificate."""
    counts: dict[str, int] = {}
    with transaction.atomic():
        for item in provider_scrubs():
            counts[item.name] = int(item.scrub(tenant.pk))

        def update(progress: dict) -> None:
            done = dict(progress.get("scrubbed") or {})
            for name, rows in counts.items():
                done[name] = done.get(name, 0) + rows
            progress["scrubbed"] = done

        _save_progress(termination.pk, update)


# --- 3. files --------------------------------------------------------------------------------

def walk_files(prefix: str, storage=None) -> Iterator[str]:
    """Every file name under ``prefix`` in ``storage`` (default storage), depth first."""
    storage = storage or default_storage
    try:
        directories, files = storage.listdir(prefix)
    except FileNotFoundError:
        return
    for name in files:
        yield posixpath.join(prefix, name)
    for directory in directories:
        yield from walk_files(posixpath.join(prefix, directory) + "/", storage)


def _remove_empty_dirs(prefix: str) -> None:
    """Local storage leaves empty directories behind; remove them (best effort)."""
    import os
    import shutil

    try:
        path = default_storage.path(prefix)
    except NotImplementedError:  # remote storage: no directories
        return
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)


def _purge_files(termination: Termination, tenant: Tenant) -> None:
    prefix = tenant_storage_prefix(tenant.pk)
    progress = Termination.objects.get(pk=termination.pk).progress or {}
    if "files_total" not in progress:
        # Counted once, before anything is removed: a re-run after a crash finds fewer files.
        total = sum(1 for _name in walk_files(prefix))
        with transaction.atomic():
            _save_progress(termination.pk, lambda p: p.setdefault("files_total", total))
    while True:
        names = []
        for name in walk_files(prefix):
            names.append(name)
            if len(names) >= FILE_BATCH:
                break
        if not names:
            break
        for name in names:
            default_storage.delete(name)
    _remove_empty_dirs(prefix)
    _advance(termination.pk, "backups")


# --- 4. per-tenant backups ---------------------------------------------------------------------

def _purge_backups(termination: Termination, tenant: Tenant) -> None:
    try:
        from mamori.lifecycle.tenant_backup import delete_tenant_backups
    except ImportError:  # no per-tenant backup module in this build: nothing to delete
        removed = 0
    else:
        removed = int(delete_tenant_backups(tenant.pk) or 0)

    def update(progress: dict) -> None:
        progress["backups"] = int(progress.get("backups", 0)) + removed
        progress["step"] = "keys"

    with transaction.atomic():
        _save_progress(termination.pk, update)


# --- 5. data keys ----------------------------------------------------------------------------

def _destroy_keys(termination: Termination, tenant: Tenant, actor: Actor) -> None:
    from mamori.lifecycle.actions import destroy_tenant_keys

    destroy_tenant_keys(actor=actor, tenant=tenant)
    with tenant_context(tenant):  # every version ever destroyed (also by an interrupted earlier run)
        rows = list(TenantDataKey.objects.filter(state=TenantDataKey.State.DESTROYED).order_by("version")
                    .values("version", "fingerprint"))
    _advance(termination.pk, "certificate", keys=[{"version": r["version"], "fingerprint": r["fingerprint"]}
                                                   for r in rows])


# --- the whole purge --------------------------------------------------------------------------

def purge_termination(termination_id: int, *, actor: Actor, force: bool = False, size: int | None = None,
                      on_batch: Callable[[str, int], None] | None = None) -> DeletionCertificate:
    """Purge the tenant of a termination whose grace period has ended (``force``: now), or continue
    an interrupted purge. Returns the deletion certificate (the existing one if already purged)."""
    termination = Termination.objects.get(pk=termination_id)
    if termination.state == Termination.State.PURGED:
        return DeletionCertificate.objects.get(termination_id=termination.pk)
    termination = acts.begin_purge(actor=actor, termination=termination, force=force)
    tenant = Tenant.objects.get(pk=termination.tenant_id)
    size = size or batch_size()
    while True:
        step = (Termination.objects.get(pk=termination.pk).progress or {}).get("step", "sessions")
        if step == "sessions":
            _purge_sessions(termination, tenant)
        elif step == "tables":
            _purge_tables(termination, tenant, size, on_batch)
        elif step == "files":
            _purge_files(termination, tenant)
        elif step == "backups":
            _purge_backups(termination, tenant)
        elif step == "keys":
            _destroy_keys(termination, tenant, actor)
        else:  # "certificate" (or "done" when another run finished meanwhile)
            break
    certificate = acts.finish_purge(actor=actor, termination=termination)
    logger.info("tenant %s purged; deletion certificate %s", tenant.slug, certificate.certificate_id)
    return certificate


def purge_tenant(tenant: Tenant, *, actor: Actor, force: bool = False, size: int | None = None,
                 on_batch: Callable[[str, int], None] | None = None) -> DeletionCertificate:
    """Purge ``tenant`` (its open termination; or return the certificate of a finished purge)."""
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    termination = (Termination.objects.filter(tenant_id=tenant.pk, state__in=Termination.OPEN_STATES).first()
                   or Termination.objects.filter(tenant_id=tenant.pk, state=Termination.State.PURGED).first())
    if termination is None:
        raise ValidationError({"tenant": _("This tenant has no termination: terminate it first.")})
    return purge_termination(termination.pk, actor=actor, force=force, size=size, on_batch=on_batch)
