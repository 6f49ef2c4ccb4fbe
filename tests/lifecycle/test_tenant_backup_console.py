"""Provider console page of a tenant's per-tenant backups: list, back up now, restore (queued)."""

from __future__ import annotations

import pytest
from django.test import Client

from mamori.audit.events import Actor
from mamori.lifecycle import tenant_backup_jobs as jobs
from mamori.lifecycle.models import TenantBackup
from mamori.operations.actions import create_staff
from mamori.operations.models import ProviderStaff
from mamori.tenancy.context import use_tenant
from mamori.tenancy.models import Tenant

PASSWORD = "provider staff passphrase 9"


@pytest.fixture(autouse=True)
def _storage(storage, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def _client(role=ProviderStaff.StaffRole.OPERATOR, email="ops@provider.example") -> Client:
    with use_tenant(None):
        staff = create_staff(actor=Actor.system("test"), email=email, password=PASSWORD)
    ProviderStaff.objects.filter(pk=staff.pk).update(role=role)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert client.post("/provider/login/", {"email": email, "password": PASSWORD}).status_code == 302
    return client


def test_anonymous_is_sent_to_sign_in(tenant):
    response = Client().get(f"/provider/tenants/{tenant.slug}/backups/")
    assert response.status_code == 302 and response["Location"].startswith("/provider/login/")


def test_unknown_tenant_is_404(db):
    assert _client().get("/provider/tenants/nope/backups/").status_code == 404


def test_back_up_now_then_restore_as_new(tenant, admin):
    client = _client()
    page = client.get(f"/provider/tenants/{tenant.slug}/backups/")
    assert page.status_code == 200 and "No backups yet." in page.content.decode()
    response = client.post(f"/provider/tenants/{tenant.slug}/backups/", {"do": "create"})
    assert response.status_code == 302
    backup = TenantBackup.objects.get(tenant=tenant)
    assert backup.status == "complete" and backup.requested_by == "ops@provider.example"
    page = client.get(f"/provider/tenants/{tenant.slug}/backups/").content.decode()
    assert str(backup.uuid) in page
    # Bad input: a taken slug, a missing confirmation → field errors, nothing queued.
    bad = client.post(f"/provider/tenants/{tenant.slug}/backups/",
                      {"do": "restore", "backup": str(backup.uuid), "mode": "as_new", "new_slug": tenant.slug})
    assert bad.status_code == 422 and "exists already" in bad.content.decode()
    bad = client.post(f"/provider/tenants/{tenant.slug}/backups/",
                      {"do": "restore", "backup": str(backup.uuid), "mode": "in_place", "confirm_slug": "wrong"})
    assert bad.status_code == 422 and "to confirm" in bad.content.decode()
    assert Tenant.objects.count() == 1
    ok = client.post(f"/provider/tenants/{tenant.slug}/backups/",
                     {"do": "restore", "backup": str(backup.uuid), "mode": "as_new", "new_slug": "acme-restored"})
    assert ok.status_code == 302
    assert Tenant.objects.filter(slug="acme-restored").exists()


def test_support_staff_may_look_but_not_back_up(tenant):
    client = _client(ProviderStaff.StaffRole.SUPPORT, "support@provider.example")
    page = client.get(f"/provider/tenants/{tenant.slug}/backups/").content.decode()
    assert 'value="create"' not in page
    client.post(f"/provider/tenants/{tenant.slug}/backups/", {"do": "create"})
    assert not TenantBackup.objects.exists()


def test_dashboard_links_to_the_page(tenant):
    page = _client().get("/provider/").content.decode()
    assert f"/provider/tenants/{tenant.slug}/backups/" in page
    assert jobs.backups_of(tenant).count() == 0


def test_tenant_admins_see_their_own_backups_read_only(tenant, admin, viewer, other_tenant, console_client):
    with use_tenant(None):
        mine = jobs.take_backup(tenant, actor=Actor.system("test"))
        theirs = jobs.take_backup(other_tenant, actor=Actor.system("test"))
    page = console_client(admin).get(f"/t/{tenant.slug}/settings/data/backups/")
    body = page.content.decode()
    assert page.status_code == 200 and str(mine.uuid) in body and str(theirs.uuid) not in body
    assert "<form" not in body.split("<main", 1)[-1] or 'method="post"' not in body.split("<h1>", 1)[-1]
    assert console_client(viewer).get(f"/t/{tenant.slug}/settings/data/backups/").status_code in (403, 404)
    overview = console_client(admin).get(f"/t/{tenant.slug}/settings/data/").content.decode()
    assert f"/t/{tenant.slug}/settings/data/backups/" in overview
