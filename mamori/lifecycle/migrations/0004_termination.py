"""Lifecycle: termination, purge and deletion certificates (termination helper)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("lifecycle", "0003_tenant_exports"),
        ("tenancy", "0002_user_linked_rls"),
    ]

    operations = [
        migrations.CreateModel(
            name="Termination",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("state", models.CharField(choices=[("scheduled", "Scheduled (grace period)"), ("cancelled", "Cancelled"), ("purging", "Purging"), ("purged", "Purged")], default="scheduled", max_length=12, verbose_name="state")),
                ("requested_at", models.DateTimeField(verbose_name="requested")),
                ("requested_by", models.CharField(max_length=300, verbose_name="requested by")),
                ("requested_by_type", models.CharField(max_length=20)),
                ("reason", models.TextField(blank=True, default="", verbose_name="reason")),
                ("grace_days", models.PositiveIntegerField(verbose_name="grace period (days)")),
                ("ends_at", models.DateTimeField(verbose_name="grace period ends")),
                ("contact_emails", models.JSONField(blank=True, default=list)),
                ("reminders_sent", models.JSONField(blank=True, default=list)),
                ("cancelled_at", models.DateTimeField(blank=True, null=True, verbose_name="cancelled")),
                ("cancelled_by", models.CharField(blank=True, default="", max_length=300)),
                ("purge_started_at", models.DateTimeField(blank=True, null=True, verbose_name="purge started")),
                ("purged_at", models.DateTimeField(blank=True, null=True, verbose_name="purged")),
                ("progress", models.JSONField(blank=True, default=dict)),
                ("tenant", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="tenancy.tenant")),
            ],
            options={
                "verbose_name": "termination",
                "verbose_name_plural": "terminations",
                "ordering": ["-requested_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="DeletionCertificate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("certificate_id", models.CharField(max_length=36, unique=True)),
                ("tenant_ref", models.BigIntegerField()),
                ("tenant_slug", models.CharField(max_length=40)),
                ("tenant_name", models.CharField(max_length=200)),
                ("issued_at", models.DateTimeField()),
                ("rows_deleted", models.BigIntegerField(default=0)),
                ("files_removed", models.BigIntegerField(default=0)),
                ("key_id", models.CharField(max_length=64)),
                ("signature", models.TextField()),
                ("sha256", models.CharField(max_length=64)),
                ("document", models.TextField()),
                ("emailed_to_count", models.PositiveIntegerField(default=0)),
                ("termination", models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name="certificate", to="lifecycle.termination")),
            ],
            options={
                "verbose_name": "deletion certificate",
                "verbose_name_plural": "deletion certificates",
                "ordering": ["-issued_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="TerminationPolicy",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("grace_days", models.PositiveIntegerField(verbose_name="grace period (days)")),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("updated_by", models.CharField(blank=True, default="", max_length=200)),
                ("tenant", models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="tenancy.tenant")),
            ],
            options={
                "verbose_name": "termination policy",
                "verbose_name_plural": "termination policies",
            },
        ),
        migrations.AddConstraint(
            model_name="termination",
            constraint=models.UniqueConstraint(condition=models.Q(("state__in", ["scheduled", "purging"])), fields=("tenant",), name="lifecycle_termination_one_open"),
        ),
    ]
