"""Issue 6: webhook signing secrets are stored encrypted with the tenant's data key.

Widens the column, encrypts every existing secret tenant by tenant (inside the tenant's
context, so row-level security on PostgreSQL admits the rows), then switches the field to
``EncryptedTextField`` (no schema change). Reversible: decrypts back to the hex secret.
"""

from django.db import migrations, models

import mamori.lifecycle.fields

PURPOSE = "siem.webhook_secret"


def _each_tenant(apps):
    from mamori.tenancy.context import tenant_context

    # The historical model: the current one may have columns later migrations add.
    Tenant = apps.get_model("tenancy", "Tenant")
    Subscription = apps.get_model("siem", "WebhookSubscription")
    for tenant in Tenant.objects.order_by("pk"):
        with tenant_context(tenant):
            yield tenant, Subscription.objects.filter(tenant_id=tenant.pk)


def encrypt_secrets(apps, schema_editor):
    from mamori.lifecycle.keys import encrypt_text, is_token

    for tenant, subscriptions in _each_tenant(apps):
        for pk, secret in subscriptions.values_list("pk", "secret"):
            if secret and not is_token(secret):
                subscriptions.filter(pk=pk).update(secret=encrypt_text(tenant.pk, secret, purpose=PURPOSE))


def decrypt_secrets(apps, schema_editor):
    from mamori.lifecycle.keys import decrypt_text, is_token

    for tenant, subscriptions in _each_tenant(apps):
        for pk, secret in subscriptions.values_list("pk", "secret"):
            if is_token(secret):
                subscriptions.filter(pk=pk).update(secret=decrypt_text(tenant.pk, secret, purpose=PURPOSE))


class Migration(migrations.Migration):

    dependencies = [
        ("siem", "0001_initial"),
        ("lifecycle", "0001_data_keys"),
        ("audit", "0003_signin_target_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhooksubscription",
            name="secret",
            field=models.TextField(editable=False),
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets, elidable=False),
        migrations.AlterField(
            model_name="webhooksubscription",
            name="secret",
            field=mamori.lifecycle.fields.EncryptedTextField(editable=False, purpose=PURPOSE),
        ),
    ]
