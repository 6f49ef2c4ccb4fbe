"""Shared data for the user-lifecycle tests: an organization tree, a unit admin scoped to
"Sales" (and its descendants), users inside and outside that scope, and mail delivery."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tasks_db.models import DBTaskResult

from mamori.access.roles import Role
from mamori.audit.models import AuditEvent
from mamori.core.tasks import send_mail_task
from tests.conftest import PASSWORD

STRONG = "a long enough passphrase 2026"


@pytest.fixture
def org(tenant):
    from mamori.access.models import OrgUnit

    root = OrgUnit.objects.create(name="Acme")
    sales = OrgUnit.objects.create(name="Sales", parent=root)
    east = OrgUnit.objects.create(name="Sales East", parent=sales)
    hr = OrgUnit.objects.create(name="HR", parent=root)
    return {"root": root, "sales": sales, "east": east, "hr": hr}


def _member(user_factory, tenant, email, role, unit):
    from mamori.access.models import UnitMembership

    user = user_factory(tenant, email, role)
    UnitMembership.objects.get_or_create(tenant=tenant, user=user, unit=unit)
    return user


@pytest.fixture
def unit_admin(tenant, org, user_factory):
    from mamori.access.models import UnitAdminScope

    user = _member(user_factory, tenant, "unitadmin@acme.example", Role.UNIT_ADMIN, org["sales"])
    UnitAdminScope.objects.create(tenant=tenant, user=user, unit=org["sales"])
    return user


@pytest.fixture
def sales_user(tenant, org, user_factory):
    """In "Sales East", below the unit admin's "Sales"."""
    return _member(user_factory, tenant, "seller@acme.example", Role.EDITOR, org["east"])


@pytest.fixture
def hr_user(tenant, org, user_factory):
    """In "HR": outside the unit admin's scope."""
    return _member(user_factory, tenant, "hr@acme.example", Role.EDITOR, org["hr"])


def deliver() -> int:
    """Run the queued mail tasks (what ``mamori worker`` does) into Django's mail backend."""
    sent = 0
    for task in DBTaskResult.objects.filter(task_path="mamori.core.tasks.send_mail_task").order_by("pk"):
        sent += send_mail_task.call(**task.args_kwargs["kwargs"])
        task.delete()
    return sent


def events(action: str, **filters):
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("id"))


def signed_in(user) -> Client:
    client = Client()
    response = client.post(f"/t/{user.tenant.slug}/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:300]
    return client


def is_signed_in(client: Client, slug: str = "acme") -> bool:
    response = client.get(f"/t/{slug}/")
    return response.status_code == 200
