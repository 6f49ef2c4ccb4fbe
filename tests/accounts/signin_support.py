"""Helpers for the sign-in history tests (accounts, console, API)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from unittest import mock

from django.db import transaction
from django.test import Client

from mamori.access.roles import Role
from mamori.audit.events import Actor, record_event
from mamori.core.context import RequestContext, reset_request_context, set_request_context
from tests.conftest import PASSWORD


def sign_in(email: str, password: str = PASSWORD, *, ip: str = "192.0.2.1", ua: str = "TestBrowser/1.0",
            slug: str = "acme", client: Client | None = None):
    client = client or Client()
    response = client.post(f"/t/{slug}/accounts/login/", {"login": email, "password": password},
                           REMOTE_ADDR=ip, HTTP_USER_AGENT=ua)
    response.client = client
    return response


@contextmanager
def request_context(ip: str | None = "192.0.2.1", ua: str = "TestBrowser/1.0"):
    token = set_request_context(RequestContext(request_id="test", ip=ip, user_agent=ua))
    try:
        yield
    finally:
        reset_request_context(token)


def record_signin(user, when: datetime, *, action: str = "auth.login", ip: str = "192.0.2.1",
                  method: str = "password", reason: str = "", email: str | None = None):
    """Write a sign-in event as the signal receivers do, at time ``when`` (aware)."""
    target = ("accounts.user", str(user.pk), user.email) if user is not None else ("accounts.user", "", email)
    after = {"method": method, **({"reason": reason} if reason else {})}
    actor = Actor.for_user(user) if user is not None and action in ("auth.login", "auth.logout") \
        else Actor.anonymous(target[2])
    with request_context(ip), mock.patch("django.utils.timezone.now", return_value=when), transaction.atomic():
        return record_event(action, actor=actor, target=target, after=after)


def unit_world(tenant, user_factory):
    """Units Sales (with Sales/Tokyo) and Support; a unit admin of Sales; one user in each unit."""
    from mamori.access.models import OrgUnit, UnitAdminScope, UnitMembership

    sales = OrgUnit.objects.create(tenant=tenant, name="Sales")
    tokyo = OrgUnit.objects.create(tenant=tenant, name="Tokyo", parent=sales)
    support = OrgUnit.objects.create(tenant=tenant, name="Support")
    boss = user_factory(tenant, "boss@acme.example", Role.UNIT_ADMIN)
    seller = user_factory(tenant, "seller@acme.example", Role.EDITOR)
    helper = user_factory(tenant, "helper@acme.example", Role.EDITOR)
    UnitAdminScope.objects.create(tenant=tenant, user=boss, unit=sales)
    UnitMembership.objects.create(tenant=tenant, user=seller, unit=tokyo)
    UnitMembership.objects.create(tenant=tenant, user=helper, unit=support)
    return boss, seller, helper
