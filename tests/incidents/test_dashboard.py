"""Tenant console: the incident banner shows only the tenant's own notified incidents."""

from __future__ import annotations

from mamori.incidents import actions as acts
from mamori.tenancy.context import use_tenant


def test_only_notified_tenants_see_the_notice(make_incident, officer, tenant, admin, viewer, outsider,
                                              console_client):
    incident = make_incident([tenant])
    hidden = make_incident([tenant], title_en="Not announced yet", title_ja="未告知")
    with use_tenant(None):
        acts.add_incident_update(staff=officer, incident=hidden, text_ja="内部メモ", text_en="internal note",
                                 public=False)
    viewer_page = console_client(viewer).get("/t/acme/")
    assert viewer_page.status_code == 200 and b"incident-notices" not in viewer_page.content  # nothing notified yet
    with use_tenant(None):
        acts.notify_affected_tenants(staff=officer, incident=incident, text_ja="現在、API の応答が遅くなっています",
                                     text_en="API responses are slow", enqueue=False)
    page = console_client(viewer).get("/t/acme/").content.decode()
    assert 'id="incident-notices"' in page and f"{incident.reference}" in page
    assert "現在、API の応答が遅くなっています" in page  # the tenant's language
    assert "API の応答遅延" in page
    assert hidden.reference not in page and "内部メモ" not in page
    with use_tenant(outsider.tenant):
        other = console_client(outsider).get("/t/globex/").content.decode()
    assert "incident-notices" not in other and incident.reference not in other


def test_the_banner_follows_the_users_language(make_incident, officer, tenant, admin, console_client):
    with use_tenant(tenant):
        admin.language = "en"
        admin.save(update_fields=["language"])
    incident = make_incident([tenant])
    with use_tenant(None):
        acts.notify_affected_tenants(staff=officer, incident=incident, text_ja="日本語", text_en="English notice",
                                     enqueue=False)
    page = console_client(admin).get("/t/acme/").content.decode()
    assert "English notice" in page and "Slow API responses" in page


def test_anonymous_pages_and_the_provider_console_have_no_banner(make_incident, officer, tenant, staff_client):
    from django.test import Client

    incident = make_incident([tenant])
    with use_tenant(None):
        acts.notify_affected_tenants(staff=officer, incident=incident, text_ja="本文", text_en="text", enqueue=False)
    login = Client().get("/t/acme/accounts/login/")
    assert login.status_code == 200 and b"incident-notices" not in login.content
    assert b"incident-notices" not in staff_client(officer).get("/provider/incidents/").content
