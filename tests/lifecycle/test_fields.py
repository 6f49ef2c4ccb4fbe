"""EncryptedTextField (used by SIEM webhook secrets) and the SIEM data migration."""

from __future__ import annotations

import logging

import pytest
from django.core import serializers
from django.core.exceptions import FieldError
from django.db import connection
from django.forms.models import model_to_dict

from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent, ProviderEvent
from mamori.lifecycle import keys
from mamori.lifecycle.fields import EncryptedTextField, Sealed, encrypted_columns
from mamori.lifecycle.keys import DecryptionError
from mamori.lifecycle.models import TenantDataKey
from mamori.lifecycle.rotation import rotate_tenant
from mamori.siem.actions import create_subscription
from mamori.siem.models import SECRET_PURPOSE, WebhookSubscription
from mamori.tenancy.context import use_tenant


def _raw_secret(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM siem_webhooksubscription WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def _create(admin, n=0):
    return create_subscription(actor=Actor.for_user(admin), url=f"https://1.1.1.1/hook{n}")


def test_webhook_secret_is_stored_encrypted(tenant, admin):
    sub, secret = _create(admin)
    raw = _raw_secret(sub.pk)
    assert raw.startswith("mk1.1.") and secret not in raw
    assert keys.decrypt_text(tenant.pk, raw, purpose=SECRET_PURPOSE) == secret
    fresh = WebhookSubscription.objects.get(pk=sub.pk)
    assert fresh.secret == secret
    # Serialisers and model_to_dict see the ciphertext only.
    assert secret not in serializers.serialize("json", [fresh])
    assert model_to_dict(fresh, fields=["secret"]).get("secret") in (None, raw)
    assert ("siem.WebhookSubscription", "secret") in {(c.model_label, c.field) for c in encrypted_columns()}


def test_assigning_and_updating_encrypts(tenant, admin):
    sub, _secret = _create(admin)
    sub.secret = "new-secret-value"
    sub.save()
    raw = _raw_secret(sub.pk)
    assert raw.startswith("mk1.") and "new-secret-value" not in raw
    assert WebhookSubscription.objects.get(pk=sub.pk).secret == "new-secret-value"
    WebhookSubscription.objects.filter(pk=sub.pk).update(secret="via-update")
    assert "via-update" not in _raw_secret(sub.pk)
    assert WebhookSubscription.objects.get(pk=sub.pk).secret == "via-update"
    # Saving other fields does not re-encrypt (the token stays the same).
    token = _raw_secret(sub.pk)
    fresh = WebhookSubscription.objects.get(pk=sub.pk)
    fresh.description = "changed"
    fresh.save()
    assert _raw_secret(sub.pk) == token


def test_deferred_field_loads_and_decrypts(tenant, admin):
    sub, secret = _create(admin)
    assert WebhookSubscription.objects.only("url").get(pk=sub.pk).secret == secret


def test_equality_lookups_are_refused(tenant, admin):
    with pytest.raises(FieldError):
        WebhookSubscription.objects.filter(secret="x").count()


def test_tampered_or_moved_column_fails(tenant, admin, other_tenant, outsider):
    sub, _ = _create(admin)
    token = _raw_secret(sub.pk)
    with use_tenant(other_tenant):
        other, _ = create_subscription(actor=Actor.for_user(outsider), url="https://1.1.1.1/other")
        WebhookSubscription.objects.filter(pk=other.pk).update(secret=Sealed(token))
        with pytest.raises(DecryptionError):
            _ = WebhookSubscription.objects.get(pk=other.pk).secret
    # Same tenant, but a token of another purpose copied into the column.
    WebhookSubscription.objects.filter(pk=sub.pk).update(
        secret=Sealed(keys.encrypt_text(tenant.pk, "x", purpose="other.purpose")))
    with pytest.raises(DecryptionError):
        _ = WebhookSubscription.objects.get(pk=sub.pk).secret
    # Plain text written behind Mamori's back is refused, not trusted.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE siem_webhooksubscription SET secret = %s WHERE id = %s", ["plain", sub.pk])
    with pytest.raises(DecryptionError):
        _ = WebhookSubscription.objects.get(pk=sub.pk).secret


def test_purpose_is_required():
    with pytest.raises(TypeError):
        EncryptedTextField()  # type: ignore[call-arg]


def test_secrets_and_keys_never_reach_audit_or_logs(tenant, admin, caplog):
    caplog.set_level(logging.DEBUG)
    sub, secret = _create(admin)
    with use_tenant(None):
        rotate_tenant(tenant, actor=Actor.system("test"))
    deks = [keys._unwrap_row(row) for row in TenantDataKey.objects.all()]
    needles = [secret] + [d.hex() for d in deks] + [keys._b64e(d) for d in deks]
    stored = repr([(e.before, e.after, e.target_label) for e in AuditEvent.objects.all()])
    stored += repr([(e.before, e.after, e.target_label) for e in ProviderEvent.objects.all()])
    for needle in needles:
        assert needle not in stored
        assert needle not in caplog.text
    assert "keys.tenant_rotated" in repr(list(AuditEvent.objects.values_list("action", flat=True)))


def test_siem_migration_encrypts_existing_secrets(tenant, admin):
    """The data migration's forward and backward functions, on rows as they were before it."""
    import importlib

    from django.db.migrations.loader import MigrationLoader

    migration = importlib.import_module("mamori.siem.migrations.0002_encrypt_webhook_secrets")
    # The models as the migration's RunPython sees them (secret still a plain text column).
    apps = MigrationLoader(connection).project_state(("siem", "0001_initial")).apps
    sub, secret = _create(admin)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE siem_webhooksubscription SET secret = %s WHERE id = %s", [secret, sub.pk])
    with use_tenant(None):
        migration.encrypt_secrets(apps, None)
        migration.encrypt_secrets(apps, None)  # idempotent
    raw = _raw_secret(sub.pk)
    assert raw.startswith("mk1.") and keys.decrypt_text(tenant.pk, raw, purpose=SECRET_PURPOSE) == secret
    with use_tenant(None):
        migration.decrypt_secrets(apps, None)
    assert _raw_secret(sub.pk) == secret
