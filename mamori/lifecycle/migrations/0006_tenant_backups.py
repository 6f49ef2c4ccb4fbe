"""Lifecycle: per-tenant backups and restores (tenant-backup helper)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("lifecycle", "0005_system_backups"),
        ("tenancy", "0002_user_linked_rls"),
    ]

    operations = [
        migrations.CreateModel(
            name="TenantBackup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uuid", models.UUIDField(editable=False, unique=True)),
                ("status", models.CharField(choices=[("complete", "Complete"), ("failed", "Failed"),
                                                     ("deleted", "Deleted")],
                                            default="complete", max_length=12, verbose_name="status")),
                ("trigger", models.CharField(choices=[("scheduled", "Scheduled"), ("manual", "On demand")],
                                             default="manual", max_length=12, verbose_name="trigger")),
                ("taken_at", models.DateTimeField(db_index=True, verbose_name="taken at")),
                ("storage_name", models.CharField(default="", max_length=300)),
                ("size", models.BigIntegerField(default=0, verbose_name="size (bytes)")),
                ("sha256", models.CharField(default="", max_length=64, verbose_name="SHA-256 of the file")),
                ("key_version", models.PositiveIntegerField(default=0)),
                ("row_count", models.BigIntegerField(default=0, verbose_name="rows")),
                ("table_count", models.IntegerField(default=0, verbose_name="tables")),
                ("file_count", models.IntegerField(default=0, verbose_name="files")),
                ("counts", models.JSONField(default=dict)),
                ("schema", models.CharField(default="", max_length=64, verbose_name="schema fingerprint")),
                ("duration_ms", models.BigIntegerField(default=0)),
                ("error", models.CharField(blank=True, default="", max_length=500)),
                ("requested_by", models.CharField(blank=True, default="", max_length=254)),
                ("deleted_at", models.DateTimeField(blank=True, null=True)),
                ("tenant", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                             to="tenancy.tenant")),
            ],
            options={
                "verbose_name": "tenant backup",
                "verbose_name_plural": "tenant backups",
                "ordering": ["-taken_at", "-id"],
                "indexes": [models.Index(fields=["tenant", "status", "taken_at"], name="lifecycle_tb_tenant_time")],
            },
        ),
    ]
