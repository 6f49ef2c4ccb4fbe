"""Lifecycle: system backups and restore drills (backup helper)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("lifecycle", "0004_termination")]

    operations = [
        migrations.CreateModel(
            name="RestoreDrill",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("started_at", models.DateTimeField(db_index=True, verbose_name="started")),
                ("finished_at", models.DateTimeField(blank=True, null=True, verbose_name="finished")),
                ("backup_file", models.CharField(blank=True, default="", max_length=200, verbose_name="backup")),
                ("result", models.CharField(choices=[("running", "Running"), ("passed", "Passed"), ("failed", "Failed")],
                                            default="running", max_length=10, verbose_name="result")),
                ("checks", models.JSONField(blank=True, default=list, verbose_name="checks")),
                ("figures", models.JSONField(blank=True, default=dict, verbose_name="figures")),
                ("error", models.TextField(blank=True, default="", verbose_name="error")),
            ],
            options={
                "verbose_name": "restore drill",
                "verbose_name_plural": "restore drills",
                "ordering": ["-started_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="SystemBackup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("file_name", models.CharField(max_length=200, unique=True, verbose_name="file")),
                ("created_at", models.DateTimeField(db_index=True, verbose_name="created")),
                ("engine", models.CharField(max_length=20, verbose_name="database engine")),
                ("size", models.BigIntegerField(verbose_name="size (bytes)")),
                ("sha256", models.CharField(max_length=64, verbose_name="SHA-256 of the file")),
                ("plaintext_size", models.BigIntegerField(default=0)),
                ("plaintext_sha256", models.CharField(default="", max_length=64)),
                ("key_id", models.CharField(default="", max_length=32, verbose_name="backup key id")),
                ("rows", models.BigIntegerField(default=0, verbose_name="rows")),
                ("mamori_version", models.CharField(default="", max_length=40)),
                ("tags", models.CharField(blank=True, default="", max_length=100, verbose_name="generations")),
                ("verified_at", models.DateTimeField(blank=True, null=True, verbose_name="verified")),
                ("verify_ok", models.BooleanField(blank=True, null=True, verbose_name="verification passed")),
                ("verify_error", models.TextField(blank=True, default="")),
                ("offsite_state", models.CharField(
                    choices=[("none", "Not configured"), ("copied", "Copied and checked"), ("failed", "Copy failed")],
                    default="none", max_length=10, verbose_name="off-site copy")),
                ("offsite_at", models.DateTimeField(blank=True, null=True)),
                ("offsite_error", models.TextField(blank=True, default="")),
                ("pruned_at", models.DateTimeField(blank=True, null=True, verbose_name="pruned")),
            ],
            options={
                "verbose_name": "system backup",
                "verbose_name_plural": "system backups",
                "ordering": ["-created_at", "-id"],
            },
        ),
    ]
