"""Provider-side actions on tenants."""

from __future__ import annotations

from django.conf import settings

from mamori.access.roles import Role
from mamori.audit.events import Actor, record_event, record_provider_event, snapshot
from mamori.core.actions import action
from mamori.tenancy.context import tenant_context
from mamori.tenancy.models import Tenant

TENANT_AUDIT_FIELDS = ["slug", "name", "status", "data_region", "time_zone", "language",
                       "contract_start", "contract_end"]


@action
def create_tenant(*, actor: Actor, slug: str, name: str, admin_email: str, language: str = "ja",
                  time_zone: str | None = None, data_region: str | None = None,
                  admin_name: str = "") -> tuple[Tenant, object, str]:
    """Create a tenant with its first tenant admin; return (tenant, admin, one-time link secret).

    Written to the provider log and to the new tenant's own log, so the customer
    sees from its first event who created it.
    """
    from mamori.accounts.actions import create_user, issue_login_link

    tenant = Tenant(
        slug=(slug or "").strip().lower(),
        name=(name or "").strip(),
        language=language,
        time_zone=time_zone or settings.DEFAULT_TENANT_TIME_ZONE,
        data_region=data_region or settings.DEFAULT_DATA_REGION,
    )
    tenant.full_clean()
    tenant.save()
    record_provider_event("tenant.created", actor=actor, target=tenant, tenant_ref=tenant.pk,
                          after=snapshot(tenant, TENANT_AUDIT_FIELDS))
    with tenant_context(tenant):
        record_event("tenant.created", actor=actor, target=tenant, after=snapshot(tenant, TENANT_AUDIT_FIELDS))
        admin = create_user(actor=actor, email=admin_email, name=admin_name, role=Role.TENANT_ADMIN,
                            bypass_permission=True)
        secret = issue_login_link(actor=actor, user=admin)
    return tenant, admin, secret


def list_tenants_across_tenants():
    """Tenants for provider views and the CLI (the Tenant table holds no customer content)."""
    return Tenant.objects.order_by("slug")
