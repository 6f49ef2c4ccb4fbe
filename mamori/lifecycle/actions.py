"""Key actions: rotate a tenant's data key, rotate the master key, destroy a tenant's keys.

Tenant key rotation is resumable and runs in three steps (``mamori keys rotate-tenant``):

1. ``start_tenant_key_rotation`` creates data key version N+1 (active from now on) and marks
   version N ``retiring``; if a rotation is already under way it only resumes it.
2. ``mamori.lifecycle.rotation.reencrypt_tenant`` re-encrypts every registered encrypted
   value in small transactions; old versions keep decrypting meanwhile.
3. ``finish_tenant_key_rotation`` checks that no value uses a retiring key any more and
   marks those keys ``retired``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.audit.events import Actor, record_event, record_provider_event
from mamori.core.actions import action
from mamori.lifecycle import keys
from mamori.lifecycle.models import MasterKeyMarker, TenantDataKey
from mamori.tenancy.context import require_tenant, tenant_context
from mamori.tenancy.models import Tenant

State = TenantDataKey.State


def _key_target(row: TenantDataKey) -> tuple[str, int, str]:
    return ("data_key", row.version, f"v{row.version} {row.fingerprint[:16]}")


@action
def start_tenant_key_rotation(*, actor: Actor) -> TenantDataKey:
    """Create the next data key version for the active tenant (or resume a running rotation)."""
    tenant = require_tenant()
    keys.ensure_data_key(tenant.pk)
    rows = list(TenantDataKey.objects.select_for_update().order_by("version"))
    active = next(r for r in rows if r.state == State.ACTIVE)
    if any(r.state == State.RETIRING for r in rows):
        return active  # resume: the new version exists already
    keys._unwrap_row(active)  # the configured master key must open the current key first
    new = keys.new_key_row(tenant.pk, max(r.version for r in rows) + 1)
    TenantDataKey.objects.filter(pk=active.pk).update(state=State.RETIRING)
    new.save()
    record_event("keys.tenant_rotation_started", actor=actor, target=_key_target(new),
                 before={"version": active.version, "fingerprint": active.fingerprint},
                 after={"version": new.version, "fingerprint": new.fingerprint})
    return new


@action
def finish_tenant_key_rotation(*, actor: Actor, reencrypted: int = 0) -> TenantDataKey:
    """Retire the previous versions once nothing is encrypted with them any more."""
    from mamori.lifecycle.rotation import remaining_old_tokens

    require_tenant()
    retiring = list(TenantDataKey.objects.select_for_update().filter(state=State.RETIRING).order_by("version"))
    if not retiring:
        raise ValidationError({"version": _("No key rotation is running for this tenant.")})
    active = TenantDataKey.objects.get(state=State.ACTIVE)
    left = remaining_old_tokens(active.version)
    if left:
        raise ValidationError({"version": _("%(count)s values still use the old key; run the rotation again.")
                               % {"count": left}})
    now = timezone.now()
    TenantDataKey.objects.filter(pk__in=[r.pk for r in retiring]).update(state=State.RETIRED, retired_at=now)
    record_event("keys.tenant_rotated", actor=actor, target=_key_target(active),
                 before={"versions": [r.version for r in retiring]},
                 after={"version": active.version, "fingerprint": active.fingerprint,
                        "retired": [r.version for r in retiring], "reencrypted": reencrypted})
    active.refresh_from_db()
    return active


@action
def rotate_master_key(*, actor: Actor, new_provider: keys.KeyProvider) -> dict:
    """Re-wrap every tenant's data keys (and every value registered with
    ``keys.register_master_rewrap``) with a new master key, all or nothing.

    Afterwards the new key must be configured (MAMORI_MASTER_KEY_FILE) before the next start.
    """
    old = keys.get_key_provider()
    keys.verify_master_key(old)
    if new_provider.key_id == old.key_id:
        raise ValidationError({"new_key": _("The new master key is the one already in use.")})
    tenants = rewrapped = 0
    for tenant in Tenant.objects.order_by("pk"):
        with tenant_context(tenant):
            rows = list(TenantDataKey.objects.select_for_update().exclude(state=State.DESTROYED)
                        .exclude(wrapped_key="").order_by("version"))
            for row in rows:
                aad = keys.wrap_aad(row.tenant_id, row.version)
                dek = old.unwrap(row.wrapped_key, aad=aad)
                if keys.fingerprint_for(dek) != row.fingerprint:
                    raise keys.MasterKeyError(f"Data key v{row.version} of tenant {tenant.slug} does not match "
                                              "its fingerprint; nothing was changed.")
                TenantDataKey.objects.filter(pk=row.pk).update(
                    wrapped_key=new_provider.wrap(dek, aad=aad), kek_id=new_provider.key_id)
                rewrapped += 1
            tenants += bool(rows)
    # Other values wrapped by the master key directly (e.g. provider staff TOTP secrets).
    others = {name: rewrap(old, new_provider) for name, rewrap in sorted(keys.master_rewrap_hooks().items())}
    kek_id, verifier = keys.marker_for(new_provider)
    MasterKeyMarker.objects.update_or_create(name="master", defaults={"kek_id": kek_id, "verifier": verifier})
    summary = {"old_master_key_id": old.key_id, "new_master_key_id": new_provider.key_id,
               "tenants": tenants, "data_keys": rewrapped, **others}
    record_provider_event("keys.master_rotated", actor=actor, target=("master_key", new_provider.key_id, ""),
                          after=summary)
    keys.clear_cache()
    return summary


@action
def destroy_tenant_keys(*, actor: Actor, tenant: Tenant) -> list[dict]:
    """Erase every data key of ``tenant``: what they encrypted is unreadable for good (last step of a purge).

    Returns the destroyed versions with their fingerprints (for the deletion certificate).
    """
    now = timezone.now()
    with tenant_context(tenant):
        rows = list(TenantDataKey.objects.select_for_update().exclude(state=State.DESTROYED).order_by("version"))
        TenantDataKey.objects.filter(pk__in=[r.pk for r in rows]).update(
            state=State.DESTROYED, wrapped_key="", destroyed_at=now)
    destroyed = [{"version": r.version, "fingerprint": r.fingerprint} for r in rows]
    record_provider_event("keys.tenant_keys_destroyed", actor=actor, tenant_ref=tenant.pk,
                          target=("tenant", tenant.pk, tenant.slug), after={"destroyed": destroyed})
    keys.clear_cache()
    return destroyed
