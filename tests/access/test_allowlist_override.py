"""The provider's emergency override of a tenant's IP allowlist: time-boxed, audited on both sides."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from mamori.access.actions_allowlist import (
    end_allowlist_override,
    save_allowlist,
    start_allowlist_override,
)
from mamori.access.allowlist_models import IpAllowlistOverride
from mamori.access.errors import PermissionDenied
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent, ProviderEvent
from mamori.operations.actions import create_staff
from mamori.operations.models import ProviderStaff
from mamori.tenancy.context import apply_db_tenant, current_tenant, use_tenant

P = "/t/acme"
OUTSIDE = "198.51.100.20"
STAFF_PASSWORD = "provider staff passphrase 9"


def _restore():
    tenant = current_tenant()
    if tenant is not None:
        apply_db_tenant(tenant.pk)


@pytest.fixture
def staff(tenant):
    with use_tenant(None):
        return create_staff(actor=Actor.system("test"), email="ops@provider.example", password=STAFF_PASSWORD)


@pytest.fixture
def locked(admin):
    save_allowlist(actor=Actor.for_user(admin), enabled=True, entries=[("203.0.113.0/24", "")],
                   current_ip="203.0.113.1")


def _login_page(addr=OUTSIDE):
    response = Client().get(f"{P}/accounts/login/", REMOTE_ADDR=addr)
    _restore()
    return response.status_code


def test_override_lets_everyone_in_until_it_expires(tenant, staff, locked):
    assert _login_page() == 403
    override = start_allowlist_override(staff=staff, tenant=tenant, minutes=30, reason="Ticket 4711: office IP changed")
    assert _login_page() == 200
    started = AuditEvent.objects.get(action="security.ip_allowlist_override_started")
    assert started.actor_type == "provider_staff" and started.actor_label == staff.email
    assert started.after["reason"] == "Ticket 4711: office IP changed" and started.after["minutes"] == 30
    provider = ProviderEvent.objects.get(action="security.ip_allowlist_override_started")
    assert provider.tenant_ref == tenant.pk
    # 31 minutes later the override has ended by itself.
    later = timezone.now() + timedelta(minutes=31)
    with mock.patch("mamori.access.allowlist.timezone.now", return_value=later):
        assert _login_page("198.51.100.44") == 403
    assert not override.is_active(later)


def test_override_can_be_ended_early(tenant, staff, locked):
    start_allowlist_override(staff=staff, tenant=tenant, minutes=60, reason="Ticket 4712: locked out")
    assert _login_page() == 200
    ended = end_allowlist_override(staff=staff, tenant=tenant)
    assert ended is not None and ended.ended_by == staff.email
    assert _login_page("198.51.100.45") == 403
    assert AuditEvent.objects.filter(action="security.ip_allowlist_override_ended").exists()
    assert end_allowlist_override(staff=staff, tenant=tenant) is None


def test_override_is_bounded_and_needs_a_reason(tenant, staff):
    for minutes, reason in ((0, "long enough reason"), (24 * 60 + 1, "long enough reason"), ("x", "long enough"),
                            (30, "short"), (30, "")):
        with pytest.raises(ValidationError):
            start_allowlist_override(staff=staff, tenant=tenant, minutes=minutes, reason=reason)
    start_allowlist_override(staff=staff, tenant=tenant, minutes=5, reason="Ticket 1: needed")
    with pytest.raises(ValidationError):  # one at a time
        start_allowlist_override(staff=staff, tenant=tenant, minutes=5, reason="Ticket 2: needed")


def test_support_staff_may_not_override(tenant):
    with use_tenant(None):
        support = create_staff(actor=Actor.system("test"), email="help@provider.example", password=STAFF_PASSWORD,
                               role=ProviderStaff.StaffRole.SUPPORT)
    with pytest.raises(PermissionDenied):
        start_allowlist_override(staff=support, tenant=tenant, minutes=30, reason="Ticket 3: please")
    assert not IpAllowlistOverride.objects.exists()


def test_tenant_admin_sees_the_override(admin, tenant, staff, locked, console_client):
    start_allowlist_override(staff=staff, tenant=tenant, minutes=30, reason="Ticket 4713: visible")
    client = console_client(admin)
    html = client.get(f"{P}/settings/security/ip-allowlist/", REMOTE_ADDR="203.0.113.5",
                      HTTP_ACCEPT_LANGUAGE="en").content.decode()
    _restore()
    assert 'id="override-notice"' in html and "Ticket 4713: visible" in html and staff.email in html


def test_provider_console_starts_and_ends_an_override(tenant, staff, locked):
    client = Client()
    with use_tenant(None):
        assert client.post("/provider/login/", {"email": staff.email, "password": STAFF_PASSWORD}).status_code == 302
        url = f"/provider/tenants/{tenant.slug}/ip-allowlist-override/"
        page = client.get(url)
        assert page.status_code == 200 and tenant.name in page.content.decode()
        assert f'href="{url}"' in client.get("/provider/").content.decode()
        bad = client.post(url, {"do": "start", "minutes": "99999", "reason": "x"})
        assert bad.status_code == 422
        assert client.post(url, {"do": "start", "minutes": "30", "reason": "Ticket 4714: locked out"}).status_code == 302
        assert 'id="override-expires"' in client.get(url).content.decode()
    _restore()
    assert _login_page() == 200
    with use_tenant(None):
        assert client.post(url, {"do": "end"}).status_code == 302
        assert client.get("/provider/tenants/nope/ip-allowlist-override/").status_code == 404
    _restore()
    assert _login_page("198.51.100.46") == 403
    actions = list(AuditEvent.objects.filter(action__startswith="security.ip_allowlist_override").order_by("id")
                   .values_list("action", flat=True))
    assert actions == ["security.ip_allowlist_override_started", "security.ip_allowlist_override_ended"]
