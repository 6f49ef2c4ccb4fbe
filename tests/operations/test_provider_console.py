"""Provider console: staff sign-in, tenants, provider log, outbox — and no way into tenant data."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client

from mamori.audit.events import Actor
from mamori.audit.models import ProviderEvent
from mamori.operations.actions import create_staff
from mamori.operations.middleware import PROVIDER_SESSION_KEY
from mamori.operations.models import OutboxMessage, ProviderStaff
from mamori.tenancy.context import NoTenantError, current_tenant, tenant_context, use_tenant

STAFF_PASSWORD = "provider staff passphrase 9"
PAGES = ["/provider/", "/provider/log/", "/provider/outbox/"]


@pytest.fixture
def staff(db):
    with use_tenant(None):
        return create_staff(actor=Actor.system("test"), email="ops@provider.example", password=STAFF_PASSWORD)


def _sign_in(client: Client, email: str, password: str, **extra):
    return client.post("/provider/login/", {"email": email, "password": password, **extra})


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    response = _sign_in(client, staff.email, STAFF_PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/provider/"
    return client


def _body_without_csrf(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


@pytest.mark.parametrize("path", [*PAGES, "/provider/outbox/1/"])
def test_anonymous_is_sent_to_sign_in(db, path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/provider/login/?next=")


def test_sign_in_page_has_csrf_protection(staff):
    page = Client().get("/provider/login/")
    assert page.status_code == 200 and b"csrfmiddlewaretoken" in page.content
    strict = Client(enforce_csrf_checks=True)
    assert _sign_in(strict, staff.email, STAFF_PASSWORD).status_code == 403


def test_unknown_email_and_wrong_password_get_the_same_answer(staff):
    unknown = _sign_in(Client(), "nobody@provider.example", STAFF_PASSWORD)
    wrong = _sign_in(Client(), staff.email, "not the password at all")
    assert unknown.status_code == wrong.status_code == 200
    assert _body_without_csrf(unknown).replace("nobody@provider.example", "X") == \
        _body_without_csrf(wrong).replace(staff.email, "X")
    assert ProviderEvent.objects.filter(action="provider.login_failed").count() == 2
    assert PROVIDER_SESSION_KEY not in Client().session


def test_sign_in_rotates_the_session_and_is_logged(staff):
    client = Client()
    client.get("/provider/login/")
    session = client.session
    session["before"] = True
    session.save()
    before = client.cookies["sessionid"].value
    response = _sign_in(client, "OPS@provider.example ", STAFF_PASSWORD)
    assert response.status_code == 302
    after = client.cookies["sessionid"].value
    assert after != before
    assert client.session[PROVIDER_SESSION_KEY] == staff.pk
    event = ProviderEvent.objects.get(action="provider.login")
    assert event.actor_type == "provider_staff" and event.actor_label == staff.email and event.ip == "127.0.0.1"


def test_next_is_kept_inside_the_provider_console(staff):
    client = Client()
    assert _sign_in(client, staff.email, STAFF_PASSWORD, next="/provider/log/")["Location"] == "/provider/log/"
    client = Client()
    assert _sign_in(client, staff.email, STAFF_PASSWORD, next="https://evil.example/")["Location"] == "/provider/"
    client = Client()
    assert _sign_in(client, staff.email, STAFF_PASSWORD, next="/t/acme/")["Location"] == "/provider/"


def test_repeated_failures_are_throttled(staff):
    for _ in range(5):
        _sign_in(Client(), staff.email, "wrong password attempt")
    response = _sign_in(Client(), staff.email, STAFF_PASSWORD)
    assert response.status_code == 429
    assert PROVIDER_SESSION_KEY not in Client().session
    assert not ProviderEvent.objects.filter(action="provider.login").exists()


def test_inactive_staff_cannot_sign_in_and_loses_the_session(staff, staff_client):
    ProviderStaff.objects.filter(pk=staff.pk).update(is_active=False)
    assert staff_client.get("/provider/").status_code == 302
    assert _sign_in(Client(), staff.email, STAFF_PASSWORD).status_code == 200


def test_dashboard_lists_tenants_escaped(staff_client, make_tenant):
    make_tenant("acme", "Acme <script>alert(1)</script> 株式会社")
    make_tenant("globex", "Globex")
    page = staff_client.get("/provider/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "acme" in html and "globex" in html and "Asia/Tokyo" in html and "jp-east" in html
    assert "&lt;script&gt;" in html and "<script>alert(1)" not in html
    assert html.index(">acme<") < html.index(">globex<")
    assert "Content-Security-Policy" in page.headers


def test_provider_log_is_newest_first(staff_client, make_tenant):
    make_tenant("acme")
    html = staff_client.get("/provider/log/").content.decode()
    assert '<td class="mono">acme</td>' in html  # the tenant an event concerns, by slug
    # staff created → signed in → tenant created; newest first is the reverse.
    assert html.index("tenant.created") < html.index("provider.login") < html.index("provider.staff_created")


def test_outbox_list_and_detail_is_logged(staff_client):
    message = OutboxMessage.objects.create(from_email="no-reply@localhost", to="user@acme.example",
                                           subject="Your <b>link</b>", body="Body line\nhttp://x/welcome/abc/",
                                           raw="")
    listing = staff_client.get("/provider/outbox/").content.decode()
    assert "user@acme.example" in listing and "Your &lt;b&gt;link&lt;/b&gt;" in listing
    assert "http://x/welcome/abc/" not in listing  # bodies only on the detail page
    detail = staff_client.get(f"/provider/outbox/{message.pk}/")
    assert detail.status_code == 200 and "http://x/welcome/abc/" in detail.content.decode()
    event = ProviderEvent.objects.get(action="provider.outbox_message_viewed")
    assert event.target_id == str(message.pk)
    assert staff_client.get("/provider/outbox/999999/").status_code == 404


def test_sign_out_is_post_only_and_logged(staff_client):
    assert staff_client.get("/provider/logout/").status_code == 405
    response = staff_client.post("/provider/logout/")
    assert response.status_code == 302 and response["Location"] == "/provider/login/"
    assert ProviderEvent.objects.filter(action="provider.logout").count() == 1
    assert staff_client.get("/provider/").status_code == 302


def test_staff_session_is_anonymous_on_tenant_urls(staff_client, make_tenant):
    make_tenant("demo")
    for path in ["/t/demo/", "/t/demo/users/", "/t/demo/audit/"]:
        response = staff_client.get(path)
        assert response.status_code == 302, path
        assert "/t/demo/accounts/login/" in response["Location"], path
    login_page = staff_client.get("/t/demo/accounts/login/")
    assert login_page.status_code == 200
    assert b"ops@provider.example" not in login_page.content


def test_provider_requests_run_with_no_tenant(staff_client, tenant, admin, monkeypatch):
    """Inside a provider view: no active tenant in the ORM; on PostgreSQL, RLS shows no tenant row."""
    from mamori.operations import views
    from mamori.records.actions import create_record, create_workspace
    from mamori.records.models import Record

    workspace = create_workspace(actor=Actor.for_user(admin), name="Secret projects")
    create_record(actor=Actor.for_user(admin), workspace_id=workspace.pk, title="Confidential")
    seen = {}
    real = views.list_tenants_across_tenants

    def spy():
        seen["tenant"] = current_tenant()
        try:
            Record.objects.count()
        except NoTenantError:
            seen["orm"] = "refused"
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM records_record")
                seen["records"] = cursor.fetchone()[0]
                cursor.execute("SELECT count(*) FROM accounts_user")
                seen["users"] = cursor.fetchone()[0]
                cursor.execute("SELECT current_user")
                seen["role"] = cursor.fetchone()[0]
        return real()

    monkeypatch.setattr(views, "list_tenants_across_tenants", spy)
    assert staff_client.get("/provider/").status_code == 200
    assert seen["tenant"] is None and seen["orm"] == "refused"
    if connection.vendor == "postgresql":
        from django.conf import settings

        assert seen == {**seen, "records": 0, "users": 0, "role": settings.DB_APP_ROLE}


@pytest.mark.postgres
def test_raw_sql_with_no_tenant_sees_no_tenant_rows(tenant, admin):
    from mamori.records.actions import create_record, create_workspace

    workspace = create_workspace(actor=Actor.for_user(admin), name="W")
    create_record(actor=Actor.for_user(admin), workspace_id=workspace.pk, title="R")
    with use_tenant(None), tenant_context(None):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM records_record")
            assert cursor.fetchone()[0] == 0
            cursor.execute("SELECT count(*) FROM audit_auditevent")
            assert cursor.fetchone()[0] == 0
    with tenant_context(tenant):  # the same rows are there for their own tenant
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM records_record")
            assert cursor.fetchone()[0] == 1


def test_sign_in_page_in_japanese_and_english(db):
    ja = Client(HTTP_ACCEPT_LANGUAGE="ja").get("/provider/login/").content.decode()
    en = Client(HTTP_ACCEPT_LANGUAGE="en").get("/provider/login/").content.decode()
    assert 'lang="ja"' in ja and "Provider console" not in ja  # translated (wording: mamori/locale)
    assert "Provider console" in en and 'lang="en"' in en


def test_idle_staff_session_is_signed_out_and_logged(staff_login, settings):
    """ASVS 7.3.1: a provider console session unused for MAMORI_PROVIDER_IDLE_MINUTES ends."""
    import time

    from mamori.audit.models import ProviderEvent
    from mamori.operations.middleware import PROVIDER_SEEN_KEY

    settings.MAMORI_PROVIDER_IDLE_MINUTES = 30
    client = staff_login("operator")
    assert client.get("/provider/").status_code == 200
    session = client.session
    session[PROVIDER_SEEN_KEY] = int(time.time()) - 29 * 60  # still within the limit
    session.save()
    assert client.get("/provider/").status_code == 200
    assert client.session[PROVIDER_SEEN_KEY] >= int(time.time()) - 5  # the use was noted
    session = client.session
    session[PROVIDER_SEEN_KEY] = int(time.time()) - 31 * 60
    session.save()
    response = client.get("/provider/")
    assert response.status_code == 302 and "/provider/login/" in response["Location"]
    event = ProviderEvent.objects.get(action="provider.session_expired")
    assert event.after["idle_minutes"] == 31 and event.target_id == str(client.staff.pk)
    assert client.get("/provider/").status_code == 302  # the session is gone, not just this request
