"""Issue 6 item 1: envelope encryption with per-tenant data keys."""

from __future__ import annotations

import pytest

from mamori.audit.models import AuditEvent
from mamori.lifecycle import keys
from mamori.lifecycle.keys import DecryptionError, decrypt_for_tenant, encrypt_for_tenant
from mamori.lifecycle.models import TenantDataKey
from mamori.tenancy.context import use_tenant

P = "test.secret"


def test_round_trip_and_lazy_key(tenant):
    token = encrypt_for_tenant(tenant.pk, b"hello \x00 world", purpose=P)
    assert token.isascii() and token.startswith("mk1.1.")
    assert b"hello" not in token.encode()
    assert decrypt_for_tenant(tenant.pk, token, purpose=P) == b"hello \x00 world"
    with use_tenant(tenant):
        row = TenantDataKey.objects.get()
        assert row.state == "active" and row.version == 1 and len(row.fingerprint) == 64
        assert AuditEvent.objects.filter(action="keys.tenant_key_created").count() == 1
    # A second encryption reuses the key and the nonce differs.
    assert encrypt_for_tenant(tenant.pk, b"hello \x00 world", purpose=P) != token


def test_works_without_an_active_tenant(tenant):
    with use_tenant(None):
        token = encrypt_for_tenant(tenant.pk, b"x", purpose=P)
        assert decrypt_for_tenant(tenant.pk, token, purpose=P) == b"x"


@pytest.mark.parametrize("mutate", [
    lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],
    lambda t: t[:10] + ("A" if t[10] != "A" else "B") + t[11:],
    lambda t: t[:-8],
    lambda t: t.replace("mk1.1.", "mk1.2."),
    lambda t: t.replace("mk1.", "mk2."),
    lambda t: "garbage",
    lambda t: "",
    lambda t: "mk1.1.A",
])
def test_tampering_fails(tenant, mutate):
    token = encrypt_for_tenant(tenant.pk, b"secret value", purpose=P)
    with pytest.raises(DecryptionError):
        decrypt_for_tenant(tenant.pk, mutate(token), purpose=P)


def test_wrong_purpose_fails(tenant):
    token = encrypt_for_tenant(tenant.pk, b"s", purpose=P)
    with pytest.raises(DecryptionError):
        decrypt_for_tenant(tenant.pk, token, purpose="other.purpose")


def test_wrong_tenant_fails(tenant, other_tenant):
    token = encrypt_for_tenant(tenant.pk, b"s", purpose=P)
    with use_tenant(None):
        encrypt_for_tenant(other_tenant.pk, b"t", purpose=P)  # the other tenant has a v1 key too
        with pytest.raises(DecryptionError):
            decrypt_for_tenant(other_tenant.pk, token, purpose=P)


def test_other_tenant_context_refused(tenant, other_tenant):
    from mamori.tenancy.context import NoTenantError

    with use_tenant(tenant), pytest.raises(NoTenantError):
        encrypt_for_tenant(other_tenant.pk, b"s", purpose=P)


def test_text_plaintext_refused(tenant):
    with pytest.raises(TypeError):
        encrypt_for_tenant(tenant.pk, "text", purpose=P)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        encrypt_for_tenant(tenant.pk, b"x", purpose="bad purpose with spaces")


def test_tenants_get_different_keys(tenant, other_tenant):
    encrypt_for_tenant(tenant.pk, b"a", purpose=P)
    with use_tenant(None):
        encrypt_for_tenant(other_tenant.pk, b"b", purpose=P)
    with use_tenant(tenant):
        a = TenantDataKey.objects.get()
    with use_tenant(other_tenant):
        b = TenantDataKey.objects.get()
    assert a.fingerprint != b.fingerprint and a.wrapped_key != b.wrapped_key


def test_cache_is_bounded(tenant):
    keys.clear_cache()
    for i in range(keys._CACHE_SIZE + 10):
        keys._cache_put(("x", i, ""), b"k" * 32)
    assert len(keys._cache) == keys._CACHE_SIZE
    keys.clear_cache()
