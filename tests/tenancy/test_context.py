import pytest

from mamori.records.models import Record, Workspace
from mamori.tenancy.context import NoTenantError, tenant_context, use_tenant


@pytest.mark.django_db
def test_tenant_manager_raises_without_tenant():
    with pytest.raises(NoTenantError):
        list(Workspace.objects.all())
    with pytest.raises(NoTenantError):
        Record.objects.count()


def test_tenant_manager_scopes_to_active_tenant(tenant, admin, other_tenant, outsider):
    from mamori.audit.events import Actor
    from mamori.records.actions import create_workspace

    create_workspace(actor=Actor.for_user(admin), name="Alpha")
    with use_tenant(other_tenant):
        create_workspace(actor=Actor.for_user(outsider), name="Beta")
        assert list(Workspace.objects.values_list("name", flat=True)) == ["Beta"]
    assert list(Workspace.objects.values_list("name", flat=True)) == ["Alpha"]


def test_save_refuses_other_tenant(tenant, admin, other_tenant, outsider):
    from mamori.audit.events import Actor
    from mamori.records.actions import create_workspace

    ws = create_workspace(actor=Actor.for_user(admin), name="Alpha")
    with use_tenant(other_tenant):
        ws.name = "hijack"
        with pytest.raises(NoTenantError):
            ws.save()


def test_cannot_switch_tenant_inside_tenant_context(tenant, other_tenant):
    with tenant_context(tenant):
        with pytest.raises(NoTenantError):
            with tenant_context(other_tenant):
                pass
