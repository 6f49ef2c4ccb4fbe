"""Walk one tenant's data: the shared map used by the export, the per-tenant backup and the purge.

Every concrete ``TenantModel`` — Mamori's own and those a provider's apps add later — plus
the allauth tables that hang off a user (``mamori.tenancy.rls.USER_LINKED_TABLES``) holds
customer data. ``data_tables()`` lists them in an order where a referenced table comes
before the tables that point at it (insert in this order, delete in reverse), so nobody
keeps a hand-written list that a new model could be missing from.

Secrets never leave through an export (``exportable_fields``): password and token
hashes, encrypted columns, wrapped keys. A backup keeps them (it is encrypted with the
tenant's data key and restores a working tenant); a purge deletes them like any row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO

from django.apps import apps
from django.db import models

from mamori.tenancy.models import TenantModel, tenant_models
from mamori.tenancy.rls import USER_LINKED_TABLES

# Column names that hold secrets (or material derived from them) in any table.
SECRET_FIELD_NAMES = frozenset({
    "password", "token_hash", "secret_hash", "key_hash", "session_stamp", "wrapped_key",
    "secret", "client_secret", "verifier",
})
SECRET_FIELD_SUFFIXES = ("_hash", "_secret", "_encrypted")
# Whole tables that are nothing but secrets or key material: never exported.
SECRET_TABLES = frozenset({"accounts.PasswordHistory", "lifecycle.TenantDataKey"})
# Per-table extra secret columns (``register_secret_fields`` adds more, e.g. from a provider app).
_EXTRA_SECRET_FIELDS: dict[str, set[str]] = {
    "mfa.Authenticator": {"data"},  # TOTP secret, WebAuthn credential, recovery-code seed
    "usersessions.UserSession": {"session_key", "data"},  # a session key signs anyone in as its user
    "account.EmailConfirmation": {"key"},  # an e-mail confirmation link
    "socialaccount.SocialToken": {"token"},  # an identity provider's access token
}
# Columns the name rules would catch that are not secrets: the audit chain's public hashes.
_PUBLIC_FIELDS: dict[str, set[str]] = {"audit.AuditEvent": {"prev_hash", "hash"}}


@dataclass(frozen=True)
class DataTable:
    """One table holding a tenant's data and how its rows are found."""

    model: type[models.Model]
    tenant_lookup: str  # "tenant_id" or, for user-linked tables, "user__tenant_id"

    @property
    def label(self) -> str:
        return self.model._meta.label

    @property
    def db_table(self) -> str:
        return self.model._meta.db_table

    @property
    def user_linked(self) -> bool:
        """Not a tenant model: found through a user (or through a row that hangs off one)."""
        return self.tenant_lookup != "tenant_id"

    def rows(self, tenant_id: int) -> models.QuerySet:
        """All rows of this table for one tenant, in primary-key order.

        Uses the base manager (no active-tenant filter): call it inside
        ``tenant_context(tenant)`` so PostgreSQL row-level security agrees.
        """
        return self.model._base_manager.filter(**{self.tenant_lookup: tenant_id}).order_by("pk")


def register_secret_fields(label: str, *names: str) -> None:
    """Mark more columns of a model (``"app.Model"``) as secrets that an export must leave out."""
    _EXTRA_SECRET_FIELDS.setdefault(label, set()).update(names)


def _user_linked_models() -> list[type[models.Model]]:
    by_table = {m._meta.db_table: m for m in apps.get_models()}
    return [by_table[t] for t in USER_LINKED_TABLES if t in by_table]


def _dependencies(model: type[models.Model], candidates: set) -> set:
    deps = set()
    for field in model._meta.concrete_fields:
        target = field.related_model if field.is_relation else None
        if target is not None and target is not model and target in candidates:
            deps.add(target)
    return deps


def _dependent_tables(known: dict) -> list[DataTable]:
    """Tables outside the tenant models and the user-linked list whose rows hang off a
    tenant's rows through a non-null foreign key (allauth's ``EmailAddress``,
    ``EmailConfirmation``, ``SocialToken`` …), parents first. Found from the schema so
    that a table added by a library update is purged, exported and backed up too."""
    found: list[DataTable] = []
    changed = True
    while changed:
        changed = False
        for model in sorted(apps.get_models(), key=lambda m: m._meta.label):
            if model in known or model._meta.proxy:
                continue
            for field in model._meta.concrete_fields:
                target = field.related_model if field.is_relation else None
                if target in known and not field.null and target is not model:
                    known[model] = f"{field.name}__{known[target]}"
                    found.append(DataTable(model, known[model]))
                    changed = True
                    break
    return found


def data_tables() -> list[DataTable]:
    """Every table of a tenant's data, referenced tables first (a stable topological order)."""
    found: list[type[models.Model]] = [*tenant_models(), *_user_linked_models()]
    candidates = set(found)
    ordered: list[type[models.Model]] = []
    placed: set = set()
    remaining = sorted(found, key=lambda m: m._meta.label)
    while remaining:
        progress = False
        for model in list(remaining):
            if _dependencies(model, candidates) <= placed:
                ordered.append(model)
                placed.add(model)
                remaining.remove(model)
                progress = True
        if not progress:  # a cycle between tables: keep the rest in label order
            ordered.extend(remaining)
            break
    tables = [DataTable(m, "tenant_id" if issubclass(m, TenantModel) else "user__tenant_id") for m in ordered]
    return tables + _dependent_tables({t.model: t.tenant_lookup for t in tables})


def is_secret_field(model: type[models.Model], field: models.Field) -> bool:
    from mamori.lifecycle.fields import EncryptedTextField

    if field.name in _PUBLIC_FIELDS.get(model._meta.label, ()):
        return False
    return (field.name in SECRET_FIELD_NAMES or field.name.endswith(SECRET_FIELD_SUFFIXES)
            or field.name in _EXTRA_SECRET_FIELDS.get(model._meta.label, ())
            or isinstance(field, EncryptedTextField))


def exportable_tables() -> list[DataTable]:
    return [t for t in data_tables() if t.label not in SECRET_TABLES]


def exportable_fields(model: type[models.Model]) -> list[models.Field]:
    """The concrete columns of ``model`` that an export may contain (secrets left out)."""
    return [f for f in model._meta.concrete_fields if not is_secret_field(model, f)]


def column_names(fields: Iterable[models.Field]) -> list[str]:
    """Export column names: the attribute name (``user_id`` for a foreign key)."""
    return [f.attname for f in fields]


def tenant_storage_prefix(tenant_id: int) -> str:
    """Where every file of one tenant lives in the default storage (attachments, exports,
    per-tenant backups). The purge deletes everything under it."""
    return f"tenants/{int(tenant_id)}/"


# --- Files that belong to a tenant's rows (attachments, …) -------------------------------------

@dataclass(frozen=True)
class TenantFile:
    """One stored file of a tenant, as the export and the per-tenant backup see it."""

    archive_name: str  # path inside an export or backup archive, e.g. "attachments/12/report.pdf"
    owner_label: str  # the row it belongs to: model label ("records.Attachment") …
    owner_pk: int  # … and primary key
    size: int  # plaintext size in bytes
    open: Callable[[], IO[bytes]]  # a readable stream of the plaintext (decrypted) bytes


@dataclass(frozen=True)
class FileSource:
    """A kind of tenant file. ``files(tenant_id)`` lists them (call inside ``tenant_context``);
    ``restore(owner_row, stream)`` stores the plaintext again for a restored row (re-encrypted
    with the key of the row's tenant, which may be a new tenant)."""

    name: str
    files: Callable[[int], Iterable[TenantFile]]
    restore: Callable[[models.Model, IO[bytes]], None] | None = None


_FILE_SOURCES: dict[str, FileSource] = {}


def register_file_source(source: FileSource) -> None:
    """Called from an app's ``ready()``; registering the same name again replaces it."""
    _FILE_SOURCES[source.name] = source


def file_sources() -> list[FileSource]:
    return list(_FILE_SOURCES.values())


# --- provider records that name a tenant's people ----------------------------------------------

@dataclass(frozen=True)
class ProviderScrub:
    """A provider table that keeps a tenant id beside personal data (for example the address
    a maintenance notice was mailed to). The purge cannot delete such rows — they are the
    provider's record of having told the tenant — but it must not keep the people's
    addresses either: ``scrub(tenant_id)`` replaces them and returns the rows it changed.
    It must be idempotent (a resumed purge calls it again)."""

    name: str
    scrub: Callable[[int], int]


_PROVIDER_SCRUBS: dict[str, ProviderScrub] = {}


def register_provider_scrub(scrub: ProviderScrub) -> None:
    """Called from an app's ``ready()``; registering the same name again replaces it."""
    _PROVIDER_SCRUBS[scrub.name] = scrub


def provider_scrubs() -> list[ProviderScrub]:
    return list(_PROVIDER_SCRUBS.values())
