"""Row-level security on PostgreSQL: the database layer of tenant isolation.

These run raw SQL as the application role, below the ORM, to show that the
database itself keeps tenants apart.
"""

import pytest
from django.core import checks
from django.db import connection, transaction
from django.test import Client

from mamori.audit.events import Actor
from mamori.records.actions import create_label, create_record, create_workspace
from mamori.tenancy.context import use_tenant
from mamori.tenancy.models import tenant_models
from mamori.tenancy.rls import USER_LINKED_TABLES, rls_status

pytestmark = pytest.mark.postgres


def _seed(tenant, admin, other_tenant, outsider):
    ws = create_workspace(actor=Actor.for_user(admin), name="A-space")
    label = create_label(actor=Actor.for_user(admin), name="a-label")
    create_record(actor=Actor.for_user(admin), workspace_id=ws.pk, title="A secret", label_ids=[label.pk])
    with use_tenant(other_tenant):
        ws_b = create_workspace(actor=Actor.for_user(outsider), name="B-space")
        create_record(actor=Actor.for_user(outsider), workspace_id=ws_b.pk, title="B secret")


def _sql(query, params=None):
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall()


def test_every_tenant_table_has_forced_rls_with_policy(db):
    status = rls_status(connection)
    assert len(status) == len(tenant_models()) + len(USER_LINKED_TABLES)
    assert len(tenant_models()) >= 9
    for table, st in status.items():
        assert st == {"exists": True, "enabled": True, "forced": True, "policy": True}, table


def test_raw_sql_with_tenant_a_sees_none_of_tenant_b(tenant, admin, other_tenant, outsider):
    _seed(tenant, admin, other_tenant, outsider)
    with use_tenant(tenant):
        assert _sql("SELECT current_user")[0][0] == "mamori_app"
        titles = [row[0] for row in _sql("SELECT title FROM records_record")]
        assert titles == ["A secret"]
        assert _sql("SELECT count(*) FROM records_record WHERE tenant_id = %s", [other_tenant.pk])[0][0] == 0
        for model in tenant_models():
            rows = _sql(f'SELECT count(*) FROM "{model._meta.db_table}" WHERE tenant_id <> %s', [tenant.pk])
            assert rows[0][0] == 0, model._meta.db_table


def test_raw_sql_with_no_tenant_sees_nothing(tenant, admin, other_tenant, outsider):
    _seed(tenant, admin, other_tenant, outsider)
    with use_tenant(None):
        for model in tenant_models():
            assert _sql(f'SELECT count(*) FROM "{model._meta.db_table}"')[0][0] == 0, model._meta.db_table


def test_app_role_cannot_write_into_another_tenant(tenant, admin, other_tenant, outsider):
    _seed(tenant, admin, other_tenant, outsider)
    from django.db import DatabaseError, transaction

    with use_tenant(tenant):
        ws_id = _sql("SELECT id FROM records_workspace")[0][0]
        with pytest.raises(DatabaseError, match="row-level security"):
            with transaction.atomic():
                _sql(
                    "INSERT INTO records_label (tenant_id, name, colour) VALUES (%s, 'x', '#000000')",
                    [other_tenant.pk],
                )
        updated = _sql(
            "UPDATE records_workspace SET name = 'moved' WHERE id = %s AND tenant_id = %s RETURNING id",
            [ws_id, other_tenant.pk],
        )
        assert updated == []


def test_app_role_owns_nothing_and_cannot_bypass_rls(db):
    role = _sql(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'mamori_app'"
    )
    assert role == [(False, False)]
    owned = _sql(
        "SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
        "WHERE r.rolname = 'mamori_app' AND c.relkind = 'r'"
    )
    assert owned == []


def test_web_requests_run_as_app_role_with_request_tenant(tenant, admin, console_client):
    """The middleware pins role and tenant for the whole request transaction."""
    from django.urls import path

    seen = {}

    def probe(request):
        from django.http import HttpResponse

        seen["row"] = _sql("SELECT current_user, current_setting('mamori.tenant_id', true)")[0]
        return HttpResponse("ok")

    import mamori.urls_tenant as tenant_urls

    tenant_urls.urlpatterns.insert(0, path("__probe__/", probe))
    try:
        from django.urls import clear_url_caches

        clear_url_caches()
        Client().get("/t/acme/__probe__/")
    finally:
        tenant_urls.urlpatterns.pop(0)
        clear_url_caches()
    assert seen["row"] == ("mamori_app", str(tenant.pk))


def test_check_fails_when_a_tenant_table_has_no_policy(db):
    from mamori.tenancy.checks import check_tenant_rls

    assert check_tenant_rls(databases=["default"]) == []
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute('ALTER TABLE "records_label" NO FORCE ROW LEVEL SECURITY')
    errors = check_tenant_rls(databases=["default"])
    assert [e.id for e in errors] == ["mamori.E001"]
    assert "records_label" in errors[0].msg
    assert isinstance(errors[0], checks.Error)


def test_user_linked_tables_show_only_the_current_tenants_users_rows(tenant, admin, other_tenant, outsider):
    """allauth's tables have no tenant_id: the policy goes through the (filtered) user table."""
    from allauth.mfa.models import Authenticator

    Authenticator.objects.create(user=admin, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "a"})
    with use_tenant(other_tenant):
        Authenticator.objects.create(user=outsider, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "b"})
    with use_tenant(tenant):
        assert _sql("SELECT user_id FROM mfa_authenticator") == [(admin.pk,)]
        with pytest.raises(Exception, match="row-level security"):
            with connection.cursor() as cursor, transaction.atomic():
                cursor.execute(
                    "INSERT INTO mfa_authenticator (user_id, type, data, created_at) "
                    "VALUES (%s, 'totp', '{}', now())", [outsider.pk])
    with use_tenant(None):
        assert _sql("SELECT count(*) FROM mfa_authenticator")[0][0] == 0
