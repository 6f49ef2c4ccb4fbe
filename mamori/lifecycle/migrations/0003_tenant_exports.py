"""Lifecycle: full tenant export (export helper)."""

import django.db.models.deletion
import django.db.models.manager
from django.conf import settings
from django.db import migrations, models

import mamori.lifecycle.models
import mamori.tenancy.rls


class Migration(migrations.Migration):
    dependencies = [
        ("lifecycle", "0002_master_key_marker"),
        ("tenancy", "0002_user_linked_rls"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='TenantExport',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('requested_by_label', models.CharField(blank=True, default='', max_length=200, verbose_name='requested by')),
                ('status', models.CharField(choices=[('pending', 'Waiting'), ('running', 'Exporting'), ('completed', 'Ready'), ('failed', 'Failed')], default='pending', max_length=20, verbose_name='status')),
                ('progress', models.PositiveSmallIntegerField(default=0, verbose_name='progress')),
                ('rows_total', models.BigIntegerField(default=0, verbose_name='rows to export')),
                ('rows_done', models.BigIntegerField(default=0, verbose_name='rows exported')),
                ('table_count', models.IntegerField(default=0, verbose_name='tables')),
                ('file_count', models.IntegerField(default=0, verbose_name='files')),
                ('unreadable_files', models.IntegerField(default=0, verbose_name='unreadable files')),
                ('file_path', models.CharField(blank=True, default='', max_length=300)),
                ('file_size', models.BigIntegerField(default=0)),
                ('sha256', models.CharField(blank=True, default='', max_length=64)),
                ('error', models.CharField(blank=True, default='', max_length=500)),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='requested')),
                ('started_at', models.DateTimeField(blank=True, null=True, verbose_name='started')),
                ('completed_at', models.DateTimeField(blank=True, null=True, verbose_name='completed')),
                ('expires_at', models.DateTimeField(default=mamori.lifecycle.models.default_export_expiry, verbose_name='expires')),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='requested by')),
                ('tenant', models.ForeignKey(editable=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.tenant')),
            ],
            options={
                'verbose_name': 'tenant export',
                'verbose_name_plural': 'tenant exports',
                'ordering': ['-created_at', '-id'],
                'abstract': False,
                'base_manager_name': 'objects_across_tenants',
                'constraints': [models.UniqueConstraint(condition=models.Q(('status__in', ['pending', 'running'])), fields=('tenant',), name='lifecycle_export_one_in_progress')],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('objects_across_tenants', django.db.models.manager.Manager()),
            ],
        ),
        mamori.tenancy.rls.EnableTenantRLS(model_name="tenantexport"),
    ]
