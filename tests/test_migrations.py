"""Models and migrations stay in step (one set of migrations for SQLite and PostgreSQL)."""

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_missing_migrations():
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exc:  # --check exits 1 when a migration is missing
        pytest.fail(f"Missing migrations:\n{out.getvalue()}" if exc.code else out.getvalue())


def test_every_tenant_model_migration_enables_rls():
    """Each tenant model's table is created in a migration that also adds EnableTenantRLS."""
    from django.db.migrations.loader import MigrationLoader

    from mamori.tenancy.models import tenant_models
    from mamori.tenancy.rls import EnableTenantRLS

    loader = MigrationLoader(None, ignore_no_migrations=True)
    enabled = {
        (key[0], op.model_name.lower())
        for key, migration in loader.disk_migrations.items()
        for op in migration.operations
        if isinstance(op, EnableTenantRLS)
    }
    missing = [m._meta.label for m in tenant_models() if (m._meta.app_label, m._meta.model_name) not in enabled]
    assert missing == []
