"""Re-encrypting a tenant's values with its active data key (the middle step of a rotation).

Works in batches, one short transaction each, so it can be interrupted at any point and
run again: a value is either still on the old key (decrypts, re-encrypted next time) or
already on the new one. Walks every registered column (``mamori.lifecycle.fields``) and
every registered hook (for example the re-encryption of record attachment files, which
streams each file between short transactions: ``mamori.records.attachments``).
"""

from __future__ import annotations

from collections.abc import Callable

from mamori.audit.events import Actor
from mamori.lifecycle import keys
from mamori.lifecycle.fields import (
    Sealed,
    encrypted_columns,
    reencrypt_hook_options,
    reencrypt_hooks,
)
from mamori.lifecycle.models import TenantDataKey
from mamori.tenancy.context import require_tenant, tenant_context
from mamori.tenancy.models import Tenant, TenantModel

BATCH_SIZE = 200


def _old_tokens(model, field: str, active_version: int):
    return (model.objects.filter(**{f"{field}__startswith": f"{keys.TOKEN_PREFIX}."})
            .exclude(**{f"{field}__startswith": f"{keys.TOKEN_PREFIX}.{active_version}."}))


def _tenant_columns():
    for column in encrypted_columns():
        model = column.model
        if not issubclass(model, TenantModel):
            raise TypeError(f"Encrypted column {column.model_label}.{column.field} is not on a tenant model.")
        yield column, model


def remaining_old_tokens(active_version: int) -> int:
    """How many values of the active tenant still use another key version than ``active_version``
    (registered columns, and what every hook that can count reports, e.g. attachment files)."""
    tenant = require_tenant()
    left = sum(_old_tokens(model, column.field, active_version).count() for column, model in _tenant_columns())
    for name in reencrypt_hooks():
        remaining = reencrypt_hook_options(name).remaining
        if remaining is not None:
            left += int(remaining(tenant.pk, active_version) or 0)
    return left


def reencrypt_tenant(tenant: Tenant, *, batch_size: int = BATCH_SIZE,
                     progress: Callable[[str, int], None] | None = None) -> int:
    """Re-encrypt every value of ``tenant`` that is not on its active key; return how many."""
    total = 0
    for column, model in _tenant_columns():
        done = 0
        while True:
            with tenant_context(tenant):
                active = TenantDataKey.objects.get(state=TenantDataKey.State.ACTIVE)
                rows = list(_old_tokens(model, column.field, active.version).select_for_update()
                            .order_by("pk").values_list("pk", column.field)[:batch_size])
                for pk, token in rows:
                    plain = keys.decrypt_for_tenant(tenant.pk, str(token), purpose=column.purpose)
                    new = keys.encrypt_with_row(active, plain, purpose=column.purpose)
                    model.objects.filter(pk=pk).update(**{column.field: Sealed(new)})
            done += len(rows)
            if progress and rows:
                progress(f"{column.model_label}.{column.field}", done)
            if len(rows) < batch_size:
                break
        total += done
    for name, hook in reencrypt_hooks().items():
        with tenant_context(tenant):
            active = TenantDataKey.objects.get(state=TenantDataKey.State.ACTIVE)

        def reencrypt(token: str, purpose: str, _active=active) -> str:
            if keys.token_version(token) == _active.version:
                return token
            plain = keys.decrypt_for_tenant(tenant.pk, token, purpose=purpose)
            return keys.encrypt_with_row(_active, plain, purpose=purpose)

        if reencrypt_hook_options(name).own_transactions:
            count = hook(tenant.pk, reencrypt)  # opens its own short tenant transactions
        else:
            with tenant_context(tenant):
                count = hook(tenant.pk, reencrypt)
        total += count or 0
        if progress:
            progress(name, count or 0)
    return total


def rotate_tenant(tenant: Tenant, *, actor: Actor, batch_size: int = BATCH_SIZE,
                  progress: Callable[[str, int], None] | None = None) -> TenantDataKey:
    """All three steps of a tenant key rotation; safe to run again after an interruption."""
    from mamori.lifecycle.actions import finish_tenant_key_rotation, start_tenant_key_rotation

    with tenant_context(tenant):
        start_tenant_key_rotation(actor=actor)
    count = reencrypt_tenant(tenant, batch_size=batch_size, progress=progress)
    with tenant_context(tenant):
        return finish_tenant_key_rotation(actor=actor, reencrypted=count)
