"""Fixtures of the support access tests: staff, a signed-in provider client, grants."""

from __future__ import annotations

import pytest
from django.test import Client

from mamori.audit.events import Actor
from mamori.tenancy.context import use_tenant

STAFF_PASSWORD = "provider staff passphrase 9"


def support_staff(email: str = "support@provider.example"):
    """A support staff member (for tests outside tests/support, e.g. the console route table)."""
    from mamori.operations.actions import create_staff

    with use_tenant(None):
        return create_staff(actor=Actor.system("test"), email=email, password=STAFF_PASSWORD, role="support")


@pytest.fixture
def make_staff(db):
    from mamori.operations.actions import create_staff

    def _make(role: str = "support", email: str | None = None):
        with use_tenant(None):
            return create_staff(actor=Actor.system("test"), email=email or f"{role}@provider.example",
                                password=STAFF_PASSWORD, role=role, name=f"{role.title()} Person")

    return _make


@pytest.fixture
def staff(make_staff):
    return make_staff("support")


@pytest.fixture
def provider_client():
    """A client whose session is signed in to the provider console as ``staff`` (both factors
    done: the keys ``complete_sign_in`` writes; the sign-in pages have their own tests)."""
    from mamori.operations.middleware import PROVIDER_MFA_KEY, PROVIDER_SESSION_KEY

    def _client(staff, client: Client | None = None) -> Client:
        client = client or Client()
        session = client.session
        session[PROVIDER_SESSION_KEY] = staff.pk
        session[PROVIDER_MFA_KEY] = True
        session.save()
        return client

    return _client


@pytest.fixture
def make_grant(tenant, admin):
    """request → (optionally) approval, through the actions."""
    from mamori.support import actions

    def _make(staff, *, scope="read_only", hours=4, approve=True, approve_hours=None, on=None):
        target = on or tenant
        with use_tenant(None):
            grant = actions.request_access(staff=staff, tenant=target, reason="Ticket 4711: export fails",
                                           scope=scope, hours=hours)
        if approve:
            approver = admin if target == tenant else _admin_of(target)
            with use_tenant(target):
                grant = actions.approve_request(actor=Actor.for_user(approver), tenant=target, grant_id=grant.pk,
                                                hours=approve_hours)
        return grant

    return _make


def _admin_of(tenant):
    from mamori.access.roles import Role
    from mamori.accounts.models import User

    with use_tenant(tenant):
        return User.objects.filter(role=Role.TENANT_ADMIN, is_active=True).order_by("pk").first()


@pytest.fixture
def support_session(provider_client, make_grant, staff):
    """(client, grant): the staff member inside the tenant console under an approved grant."""

    def _open(scope="read_only", **kwargs):
        grant = make_grant(staff, scope=scope, **kwargs)
        client = provider_client(staff)
        response = client.post(f"/provider/support/{grant.tenant.slug}/{grant.pk}/open/")
        assert response.status_code == 302, response.content[:300]
        entered = client.get(response["Location"])
        assert entered.status_code == 302 and entered["Location"] == f"/t/{grant.tenant.slug}/", entered
        return client, grant

    return _open
