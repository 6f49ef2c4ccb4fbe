"""System checks: every tenant table must be covered by forced RLS (PostgreSQL)."""

from django.core import checks
from django.db import connection
from django.db.utils import DatabaseError


@checks.register(checks.Tags.database)
def check_tenant_rls(app_configs=None, databases=None, **kwargs):
    if not databases or "default" not in databases or connection.vendor != "postgresql":
        return []
    from mamori.tenancy.rls import rls_status

    try:
        status = rls_status(connection)
    except DatabaseError as exc:  # database not reachable or not migrated
        return [checks.Warning(f"Could not read row-level security status: {exc}", id="mamori.W001")]
    errors = []
    for table, st in status.items():
        if st["exists"] and not (st["enabled"] and st["forced"] and st["policy"]):
            errors.append(
                checks.Error(
                    f"Tenant table {table} lacks forced row-level security with the tenant policy.",
                    hint="Add mamori.tenancy.rls.EnableTenantRLS (or EnableUserLinkedRLS for a user-owned third-party table) to a migration.",
                    id="mamori.E001",
                )
            )
    return errors
