"""Tenant key rotation (resumable re-encryption) and master key rotation."""

from __future__ import annotations

import os

import pytest
from django.core.exceptions import ValidationError

from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent, ProviderEvent
from mamori.lifecycle import keys
from mamori.lifecycle.actions import (
    destroy_tenant_keys,
    finish_tenant_key_rotation,
    rotate_master_key,
    start_tenant_key_rotation,
)
from mamori.lifecycle.keys import (
    DecryptionError,
    MasterKeyError,
    decrypt_for_tenant,
    encrypt_for_tenant,
)
from mamori.lifecycle.models import TenantDataKey
from mamori.lifecycle.rotation import reencrypt_tenant, remaining_old_tokens, rotate_tenant
from mamori.siem.actions import create_subscription
from mamori.siem.models import WebhookSubscription
from mamori.tenancy.context import use_tenant

SYSTEM = Actor.system("test")


def _subscriptions(admin, n):
    return {create_subscription(actor=Actor.for_user(admin), url=f"https://1.1.1.1/hook{i}")[0].pk:
            None for i in range(n)}


def _tokens():
    return dict(WebhookSubscription.objects.values_list("pk", "secret"))


def _secrets():
    return {s.pk: s.secret for s in WebhookSubscription.objects.all()}


def test_rotate_tenant_reencrypts_and_retires(tenant, admin, other_tenant):
    _subscriptions(admin, 3)
    before_plain, before_tokens = _secrets(), _tokens()
    assert all(t.startswith("mk1.1.") for t in before_tokens.values())
    loose = encrypt_for_tenant(tenant.pk, b"loose", purpose="test.loose")
    with use_tenant(None):
        active = rotate_tenant(tenant, actor=SYSTEM)
    assert active.version == 2
    after_tokens = _tokens()
    assert all(t.startswith("mk1.2.") for t in after_tokens.values())
    assert _secrets() == before_plain
    states = dict(TenantDataKey.objects.values_list("version", "state"))
    assert states == {1: "retired", 2: "active"}
    assert TenantDataKey.objects.get(version=1).retired_at is not None
    # Retired keys still decrypt what was not re-encrypted (e.g. old backups, function-API tokens).
    assert decrypt_for_tenant(tenant.pk, loose, purpose="test.loose") == b"loose"
    assert encrypt_for_tenant(tenant.pk, b"x", purpose="test.loose").startswith("mk1.2.")
    events = list(AuditEvent.objects.filter(action__startswith="keys.").order_by("seq").values_list("action", flat=True))
    assert events == ["keys.tenant_key_created", "keys.tenant_rotation_started", "keys.tenant_rotated"]
    # The other tenant is untouched.
    with use_tenant(other_tenant):
        assert not TenantDataKey.objects.exists()


def test_rotation_is_resumable(tenant, admin):
    _subscriptions(admin, 5)
    plain = _secrets()
    start_tenant_key_rotation(actor=SYSTEM)

    class Crash(Exception):
        pass

    def crash_after_first_batch(what, count):
        raise Crash

    with use_tenant(None), pytest.raises(Crash):
        reencrypt_tenant(tenant, batch_size=2, progress=crash_after_first_batch)
    versions = sorted(t.split(".")[1] for t in _tokens().values())
    assert versions == ["1", "1", "1", "2", "2"]  # half done, committed batch kept
    assert _secrets() == plain  # both versions decrypt meanwhile
    assert remaining_old_tokens(2) == 3
    with pytest.raises(ValidationError):
        finish_tenant_key_rotation(actor=SYSTEM)
    assert TenantDataKey.objects.get(version=1).state == "retiring"
    with use_tenant(None):
        active = rotate_tenant(tenant, actor=SYSTEM, batch_size=2)  # resumes: no version 3
    assert active.version == 2 and TenantDataKey.objects.count() == 2
    assert all(t.startswith("mk1.2.") for t in _tokens().values())
    assert _secrets() == plain
    assert TenantDataKey.objects.get(version=1).state == "retired"


def test_rotate_twice(tenant, admin):
    _subscriptions(admin, 1)
    plain = _secrets()
    with use_tenant(None):
        rotate_tenant(tenant, actor=SYSTEM)
        assert rotate_tenant(tenant, actor=SYSTEM).version == 3
    assert _secrets() == plain
    assert dict(TenantDataKey.objects.values_list("version", "state")) == {1: "retired", 2: "retired", 3: "active"}


def test_finish_without_rotation_is_refused(tenant):
    with pytest.raises(ValidationError):
        finish_tenant_key_rotation(actor=SYSTEM)


def test_rotate_master_then_decrypt(tenant, other_tenant):
    token_a = encrypt_for_tenant(tenant.pk, b"a", purpose="t.p")
    with use_tenant(None):
        token_b = encrypt_for_tenant(other_tenant.pk, b"b", purpose="t.p")
    old = keys.get_key_provider()
    new = keys.LocalKeyProvider(os.urandom(32), "new")
    with use_tenant(None):
        summary = rotate_master_key(actor=SYSTEM, new_provider=new)
    assert summary["data_keys"] == 2 and summary["tenants"] == 2
    assert summary["new_master_key_id"] == new.key_id
    assert ProviderEvent.objects.filter(action="keys.master_rotated").count() == 1
    with keys.use_key_provider(new):
        assert decrypt_for_tenant(tenant.pk, token_a, purpose="t.p") == b"a"
        with use_tenant(None):
            assert decrypt_for_tenant(other_tenant.pk, token_b, purpose="t.p") == b"b"
        assert TenantDataKey.objects.get().kek_id == new.key_id
    # The old key is now the wrong one: a clear error, nothing decrypted.
    keys.clear_cache()
    assert keys.get_key_provider().key_id == old.key_id
    with pytest.raises(MasterKeyError, match="Wrong master key"):
        decrypt_for_tenant(tenant.pk, token_a, purpose="t.p")


def test_rotate_master_is_atomic(tenant, other_tenant, monkeypatch):
    encrypt_for_tenant(tenant.pk, b"a", purpose="t.p")
    with use_tenant(None):
        encrypt_for_tenant(other_tenant.pk, b"b", purpose="t.p")
    before = {}
    for t in (tenant, other_tenant):
        with use_tenant(t):
            before[t.pk] = TenantDataKey.objects.get().wrapped_key
    new = keys.LocalKeyProvider(os.urandom(32), "new")
    calls = []
    real_wrap = new.wrap

    def failing_wrap(dek, *, aad):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return real_wrap(dek, aad=aad)

    monkeypatch.setattr(new, "wrap", failing_wrap)
    with use_tenant(None), pytest.raises(RuntimeError):
        rotate_master_key(actor=SYSTEM, new_provider=new)
    for t in (tenant, other_tenant):
        with use_tenant(t):
            assert TenantDataKey.objects.get().wrapped_key == before[t.pk]
    assert not ProviderEvent.objects.filter(action="keys.master_rotated").exists()


def test_rotate_master_to_the_same_key_is_refused(tenant):
    with use_tenant(None), pytest.raises(ValidationError):
        rotate_master_key(actor=SYSTEM, new_provider=keys.get_key_provider())


def test_destroy_makes_data_unrecoverable(tenant, other_tenant):
    token = encrypt_for_tenant(tenant.pk, b"gone", purpose="t.p")
    with use_tenant(None):
        token_b = encrypt_for_tenant(other_tenant.pk, b"kept", purpose="t.p")
        destroyed = destroy_tenant_keys(actor=SYSTEM, tenant=tenant)
    assert [d["version"] for d in destroyed] == [1] and len(destroyed[0]["fingerprint"]) == 64
    row = TenantDataKey.objects.get()
    assert row.state == "destroyed" and row.wrapped_key == "" and row.destroyed_at is not None
    with pytest.raises(DecryptionError, match="destroyed"):
        decrypt_for_tenant(tenant.pk, token, purpose="t.p")
    with pytest.raises(MasterKeyError):
        encrypt_for_tenant(tenant.pk, b"new", purpose="t.p")  # no silent new key after a purge
    event = ProviderEvent.objects.get(action="keys.tenant_keys_destroyed")
    assert event.tenant_ref == tenant.pk
    with use_tenant(None):
        assert decrypt_for_tenant(other_tenant.pk, token_b, purpose="t.p") == b"kept"


def test_rotate_master_rewraps_staff_totp_secrets(tenant):
    """Staff TOTP secrets are wrapped by the master key itself: a rotation re-wraps them too,
    so a staff member's authenticator keeps working with the new key (and not with the old)."""
    from mamori.operations import mfa
    from mamori.operations.actions import create_staff
    from mamori.operations.models import ProviderStaff

    with use_tenant(None):
        staff = create_staff(actor=SYSTEM, email="ops@provider.example",
                             password="provider staff passphrase 9", role="operator")
        secret = mfa.new_secret()
        ProviderStaff.objects.filter(pk=staff.pk).update(totp_secret=mfa.seal_secret(staff.pk, secret))
        new = keys.LocalKeyProvider(os.urandom(32), "new")
        summary = rotate_master_key(actor=SYSTEM, new_provider=new)
    assert summary["staff_totp_secrets"] == 1
    staff.refresh_from_db()
    with keys.use_key_provider(new):
        assert mfa.open_secret(staff) == secret
    with pytest.raises(Exception):  # noqa: B017 - the old key no longer opens it (InvalidTag or MasterKeyError)
        mfa.open_secret(staff)
