"""The tenant console: the banner on every page for the affected tenants only, hidden per
user; the notices list, the tenant's calendar, release notes; the Organisation page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from mamori.access.roles import Role
from mamori.audit.models import AuditEvent
from mamori.notices.models import NoticeDismissal
from mamori.tenancy.context import use_tenant
from mamori.tenancy.models import Tenant

pytestmark = pytest.mark.django_db

BANNER = 'id="notice-banner"'


def _banner_ids(html: str) -> set[int]:
    return {int(m) for m in re.findall(r'id="notice-banner-(\d+)"', html)}


def test_banner_on_every_console_page_of_the_affected_tenant(make_notice, admin, viewer, outsider, console_client):
    notice = make_notice(publish=True, audience="chosen", tenant_ids=[admin.tenant_id])
    for path in ("/", "/records/", "/notices/", "/help/"):
        html = console_client(viewer).get(f"/t/acme{path}").content.decode()
        assert _banner_ids(html) == {notice.pk}, path
        assert "Scheduled database maintenance" in html or "データベースの定期メンテナンス" in html
    assert BANNER not in console_client(outsider).get("/t/globex/").content.decode()  # not chosen: no banner
    assert b"notice-banner" not in console_client(outsider).get("/t/globex/notices/").content


def test_drafts_cancelled_past_and_release_notices_are_not_in_the_banner(make_notice, operator, admin, console_client):
    from mamori.notices import actions

    make_notice()  # a draft
    cancelled = make_notice(publish=True)
    with use_tenant(None):
        actions.cancel_notice(staff=operator, notice_id=cancelled.pk)
    make_notice(publish=True, kind="release", components=[])
    make_notice(publish=True, kind="change", starts_at=None, ends_at=None, components=[])
    vulnerability = make_notice(publish=True, kind="vulnerability", starts_at=None, ends_at=None, components=[])
    html = console_client(admin).get("/t/acme/").content.decode()
    assert _banner_ids(html) == {vulnerability.pk}


def test_ongoing_maintenance_is_shown_until_it_ends(make_notice, admin, console_client):
    from mamori.notices.models import Notice

    notice = make_notice(publish=True)
    Notice.objects.filter(pk=notice.pk).update(starts_at=timezone.now() - timedelta(minutes=5),
                                               ends_at=timezone.now() + timedelta(minutes=30))
    html = console_client(admin).get("/t/acme/").content.decode()
    assert _banner_ids(html) == {notice.pk} and ("in progress until" in html or "実施中" in html)
    Notice.objects.filter(pk=notice.pk).update(ends_at=timezone.now() - timedelta(minutes=1))
    assert BANNER not in console_client(admin).get("/t/acme/").content.decode()


def test_hiding_the_banner_is_per_user_and_audited(make_notice, admin, viewer, console_client):
    notice = make_notice(publish=True)
    client = console_client(viewer)
    response = client.post("/t/acme/notices/dismiss/", {"notice": notice.pk, "next": "/t/acme/records/"})
    assert response.status_code == 302 and response["Location"] == "/t/acme/records/"
    assert BANNER not in client.get("/t/acme/").content.decode()
    assert f'id="notice-{notice.pk}"' in client.get("/t/acme/notices/").content.decode()  # still listed
    assert _banner_ids(console_client(admin).get("/t/acme/").content.decode()) == {notice.pk}  # others still see it
    event = AuditEvent.objects.filter(action="notice.dismissed").get()
    assert event.actor_label == viewer.email and event.after == {"notice": notice.pk}
    # Hiding again changes nothing and writes nothing.
    client.post("/t/acme/notices/dismiss/", {"notice": notice.pk})
    assert NoticeDismissal.objects.count() == 1 and AuditEvent.objects.filter(action="notice.dismissed").count() == 1


def test_dismiss_refuses_foreign_unknown_and_offsite(make_notice, admin, other_tenant, console_client):
    other = make_notice(publish=True, audience="chosen", tenant_ids=[other_tenant.pk])
    draft = make_notice(starts_at=other.starts_at + timedelta(days=1), ends_at=other.ends_at + timedelta(days=1))
    client = console_client(admin)
    assert client.post("/t/acme/notices/dismiss/", {"notice": other.pk}).status_code == 404
    assert client.post("/t/acme/notices/dismiss/", {"notice": draft.pk}).status_code == 404
    assert client.post("/t/acme/notices/dismiss/", {"notice": "x' OR 1=1"}).status_code == 404
    assert client.get("/t/acme/notices/dismiss/").status_code == 405
    mine = make_notice(publish=True, starts_at=draft.starts_at + timedelta(days=3),
                       ends_at=draft.ends_at + timedelta(days=3))
    offsite = client.post("/t/acme/notices/dismiss/", {"notice": mine.pk, "next": "https://evil.example/"})
    assert offsite.status_code == 302 and offsite["Location"] == "/t/acme/notices/"
    empty = client.post("/t/acme/notices/dismiss/", {})
    assert empty.status_code == 302 and not NoticeDismissal.objects.filter(notice=other).exists()


def test_notices_page_lists_current_and_past_in_the_users_language(make_notice, admin, console_client):
    from mamori.notices.models import Notice

    current = make_notice(publish=True)
    past = make_notice(publish=True, starts_at=current.starts_at + timedelta(days=2),
                       ends_at=current.ends_at + timedelta(days=2), title_en="Old network work")
    Notice.objects.filter(pk=past.pk).update(starts_at=timezone.now() - timedelta(days=3),
                                             ends_at=timezone.now() - timedelta(days=3) + timedelta(hours=1))
    client = console_client(admin)
    client.cookies["django_language"] = "en"
    html = client.get("/t/acme/notices/").content.decode()
    assert html.index(f'id="notice-{current.pk}"') < html.index("Earlier notices") < html.index(f'id="notice-{past.pk}"')
    assert "We upgrade the database." in html and "Degraded service" in html
    client.cookies["django_language"] = "ja"
    html = client.get("/t/acme/notices/").content.decode()
    assert "データベースを更新します。" in html and "一部機能の低下" in html


def test_tenant_calendar_needs_sign_in_and_holds_only_its_notices(make_notice, admin, other_tenant, console_client, client):
    mine = make_notice(publish=True, audience="chosen", tenant_ids=[admin.tenant_id])
    theirs = make_notice(publish=True, audience="chosen", tenant_ids=[other_tenant.pk])
    assert client.get("/t/acme/notices/maintenance.ics").status_code == 302  # to the sign-in page
    response = console_client(admin).get("/t/acme/notices/maintenance.ics")
    assert response.status_code == 200 and response["Content-Type"] == "text/calendar; charset=utf-8"
    body = response.content.decode()
    assert f"UID:notice-{mine.pk}@" in body and f"UID:notice-{theirs.pk}@" not in body
    public = client.get("/status/maintenance.ics").content.decode()
    assert "BEGIN:VEVENT" not in public  # chosen-tenant notices are never public


def test_release_notes_public_and_in_console(make_notice, admin, console_client, client):
    make_notice(publish=True, kind="release", components=[], title_en="Version 2.1", body_en="Faster search.")
    make_notice(kind="release", components=[], title_en="Version 2.2 (draft)")
    client.cookies["django_language"] = "en"
    page = client.get("/release-notes/").content.decode()
    assert "Version 2.1" in page and "Faster search." in page and "Version 2.2" not in page
    signed_in = console_client(admin)
    signed_in.cookies["django_language"] = "en"
    assert "Version 2.1" in signed_in.get("/t/acme/release-notes/").content.decode()


# --- Organisation page ---------------------------------------------------------------------

def test_organisation_shows_region_storage_and_subprocessors(admin, console_client):
    Tenant.objects.filter(pk=admin.tenant_id).update(data_region="jp-east")
    client = console_client(admin)
    client.cookies["django_language"] = "en"
    html = client.get("/t/acme/settings/organisation/").content.decode()
    assert "Japan East" in html and "Tokyo" in html and "offsite-backups" in html and "Japan West" in html
    assert "Example Cloud (demo)" in html and "Servers, database and storage" in html
    assert "owner@acme.example" in html and "admin@acme.example" in html  # who receives notices now


def test_unknown_region_is_shown_as_undeclared(admin, console_client):
    Tenant.objects.filter(pk=admin.tenant_id).update(data_region="mars-1")
    client = console_client(admin)
    client.cookies["django_language"] = "en"
    html = client.get("/t/acme/settings/organisation/").content.decode()
    assert "mars-1" in html and "not declared in the provider" in html


def test_admin_sets_the_notification_address_with_reauthentication(admin, console_client):
    stale = console_client(admin, reauthenticated=False)
    response = stale.post("/t/acme/settings/organisation/", {"notification_email": "it@acme.example"})
    assert response.status_code == 302 and "/accounts/reauthenticate/" in response["Location"]
    assert Tenant.objects.get(pk=admin.tenant_id).notification_email == ""

    client = console_client(admin)
    response = client.post("/t/acme/settings/organisation/", {"notification_email": "it@acme.example"})
    assert response.status_code == 302
    assert Tenant.objects.get(pk=admin.tenant_id).notification_email == "it@acme.example"
    event = AuditEvent.objects.get(action="tenant.notification_email_changed")
    assert event.before == {"notification_email": ""} and event.after == {"notification_email": "it@acme.example"}
    from mamori.tenancy.contacts import tenant_contacts

    assert "it@acme.example" in {c.email for c in tenant_contacts(Tenant.objects.get(pk=admin.tenant_id))}

    bad = client.post("/t/acme/settings/organisation/", {"notification_email": "not an address"})
    assert bad.status_code == 422 and bad.context["form"].errors["notification_email"]
    assert client.post("/t/acme/settings/organisation/", {"notification_email": ""}).status_code == 302
    assert Tenant.objects.get(pk=admin.tenant_id).notification_email == ""


def test_only_tenant_admins_see_the_organisation_page(tenant, user_factory, viewer, console_client):
    editor = user_factory(tenant, "ed@acme.example", Role.EDITOR)
    for user in (viewer, editor):
        client = console_client(user)
        assert client.get("/t/acme/settings/organisation/").status_code == 403
        assert client.post("/t/acme/settings/organisation/", {"notification_email": "x@acme.example"}).status_code == 403
    assert Tenant.objects.get(pk=tenant.pk).notification_email == ""


def test_action_refuses_non_admins(tenant, viewer):
    from mamori.access.errors import PermissionDenied
    from mamori.audit.events import Actor
    from mamori.notices.actions import set_notification_email

    with pytest.raises(PermissionDenied):
        set_notification_email(actor=Actor.for_user(viewer), email="x@acme.example")
    assert AuditEvent.objects.filter(action="access.denied").exists()
