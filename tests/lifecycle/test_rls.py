"""Data keys are tenant rows under forced row-level security (PostgreSQL)."""

import pytest
from django.db import connection

from mamori.lifecycle.keys import encrypt_for_tenant
from mamori.lifecycle.models import TenantDataKey
from mamori.tenancy.context import use_tenant
from mamori.tenancy.rls import rls_status

pytestmark = pytest.mark.postgres


def test_data_key_table_has_forced_rls(db):
    assert rls_status(connection)["lifecycle_tenantdatakey"] == {
        "exists": True, "enabled": True, "forced": True, "policy": True}


def test_raw_sql_sees_only_the_current_tenants_keys(tenant, other_tenant):
    encrypt_for_tenant(tenant.pk, b"a", purpose="t.p")
    with use_tenant(None):
        encrypt_for_tenant(other_tenant.pk, b"b", purpose="t.p")
    with connection.cursor() as cursor:
        cursor.execute("SELECT tenant_id FROM lifecycle_tenantdatakey")
        assert [r[0] for r in cursor.fetchall()] == [tenant.pk]
    assert list(TenantDataKey.objects_across_tenants.values_list("tenant_id", flat=True)) == [tenant.pk]
    with use_tenant(None), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM lifecycle_tenantdatakey")
        assert cursor.fetchone()[0] == 0
