"""Sign-in monitoring (issue 3, item 5): every outcome is an audit event with IP, user agent and
method; lockouts are recorded once; the home page shows the previous sign-in; last_signins()."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from mamori.access.roles import Role
from mamori.accounts import queries_signins as signins
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.tenancy.context import use_tenant
from tests.accounts.signin_support import record_signin, sign_in
from tests.conftest import PASSWORD


def _events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def _form_answer(response) -> str:
    """The sign-in page's answer without the per-request CSRF token and echoed address."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
    return re.sub(r'(id="id_login") value="[^"]*"', r"\1", html)


# --- Success ------------------------------------------------------------------------------------

def test_password_sign_in_is_recorded_with_ip_user_agent_and_method(tenant, admin):
    response = sign_in(admin.email, ip="203.0.113.5", ua="Mozilla/5.0 Test")
    assert response.status_code == 302
    [event] = _events("auth.login")
    assert (event.ip, event.user_agent) == ("203.0.113.5", "Mozilla/5.0 Test")
    assert event.after == {"method": "password"}
    assert (event.actor_id, event.target_type, event.target_id) == (str(admin.pk), "accounts.user", str(admin.pk))


def test_user_agent_is_truncated(tenant, admin):
    sign_in(admin.email, ua="X" * 2000)
    assert len(_events("auth.login")[0].user_agent) == 512


def test_one_time_link_sign_in_records_method_login_link(tenant, admin):
    from mamori.accounts.actions import issue_login_link

    secret = issue_login_link(actor=Actor.system("test"), user=admin)
    Client().post(f"/t/acme/welcome/{secret}/", REMOTE_ADDR="198.51.100.4")
    [event] = _events("auth.login")
    assert event.after == {"method": "login_link"} and event.ip == "198.51.100.4"


def test_sign_out_is_recorded(tenant, admin):
    client = sign_in(admin.email).client
    client.post("/t/acme/accounts/logout/")
    [event] = _events("auth.logout")
    assert event.target_id == str(admin.pk)


# --- Failures -----------------------------------------------------------------------------------

def test_failures_record_the_reason_but_the_page_answers_the_same(tenant, admin, user_factory):
    suspended = user_factory(tenant, "gone@acme.example", Role.EDITOR)
    suspended.is_active = False
    suspended.save(update_fields=["is_active"])
    answers = [
        sign_in(admin.email, "wrong password", ip="198.51.100.1"),
        sign_in(suspended.email, PASSWORD, ip="198.51.100.2"),
        sign_in("nobody@acme.example", "whatever pass", ip="198.51.100.3"),
    ]
    assert {r.status_code for r in answers} == {200}
    assert len({_form_answer(r) for r in answers}) == 1  # nothing tells the three cases apart
    failed = _events("auth.login_failed")
    assert [(e.after["reason"], e.target_id, e.target_label, e.ip) for e in failed] == [
        ("bad_credentials", str(admin.pk), admin.email, "198.51.100.1"),
        ("account_inactive", str(suspended.pk), suspended.email, "198.51.100.2"),
        ("unknown_account", "", "nobody@acme.example", "198.51.100.3"),
    ]
    assert all(e.after["method"] == "password" and e.actor_type == "anonymous" for e in failed)
    assert not _events("auth.login")


# --- Lockout ------------------------------------------------------------------------------------

def test_lockout_is_recorded_once_when_the_address_limit_fills(tenant, admin):
    client = Client()
    for _ in range(5):  # ACCOUNT_RATE_LIMITS: 5 failures per 5 minutes per address
        sign_in(admin.email, "wrong password", client=client)
    [lockout] = _events("auth.lockout")
    assert lockout.target_id == str(admin.pk) and lockout.ip == "192.0.2.1"
    assert lockout.after["scope"] == ["account"] and lockout.after["failures"] == 5
    until = datetime.fromisoformat(lockout.after["until"])
    assert timedelta(minutes=4) < until - timezone.now() <= timedelta(minutes=5, seconds=1)
    failures = len(_events("auth.login_failed"))
    # Locked: even the right password is refused, and nothing more is recorded.
    for password in ("wrong password", PASSWORD):
        response = sign_in(admin.email, password, client=client)
        assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert len(_events("auth.lockout")) == 1
    assert len(_events("auth.login_failed")) == failures
    assert not _events("auth.login")


def test_a_lockout_at_one_tenant_does_not_lock_the_same_address_at_another(tenant, other_tenant,
                                                                              user_factory):
    user_factory(tenant, "same@example.com", Role.EDITOR)
    user_factory(other_tenant, "same@example.com", Role.EDITOR)
    for n in range(5):
        sign_in("same@example.com", "wrong password", ip=f"198.51.100.{n + 10}")
    assert _events("auth.lockout")
    response = sign_in("same@example.com", PASSWORD, slug="globex", ip="203.0.113.9")
    assert response.status_code == 302 and "_auth_user_id" in response.client.session


def test_lockout_per_ip_address(tenant):
    for n in range(10):  # 10 failures per minute per IP address, on ten different addresses
        sign_in(f"guess{n}@acme.example", "wrong password", ip="198.51.100.77")
    [lockout] = _events("auth.lockout")
    assert lockout.after["scope"] == ["ip"] and lockout.ip == "198.51.100.77"
    assert lockout.target_label == "guess9@acme.example" and lockout.target_id == ""


def test_a_new_lockout_after_the_previous_one_ended_is_recorded_again(tenant, admin):
    from django.core.cache import cache

    for _ in range(5):
        sign_in(admin.email, "wrong password")
    assert len(_events("auth.lockout")) == 1
    cache.clear()  # the lockout window has passed…
    from mamori.accounts.models import ThrottleCounter

    ThrottleCounter.objects.all().delete()  # …and Mamori's throttle has forgotten the failures
    for _ in range(5):
        sign_in(admin.email, "wrong password")
    assert len(_events("auth.lockout")) == 2


# --- Previous sign-in on the home page ----------------------------------------------------------

@pytest.fixture
def english(admin):
    admin.language = "en"
    admin.save(update_fields=["language"])
    return admin


def test_home_page_shows_the_previous_sign_in_in_tokyo_time(tenant, admin, english):
    assert tenant.time_zone == "Asia/Tokyo"
    earlier = datetime(2026, 3, 1, 23, 30, 5, tzinfo=UTC)  # 2026-03-02 08:30:05 in Tokyo
    record_signin(admin, earlier, ip="198.51.100.20", method="login_link")
    client = sign_in(admin.email, ip="203.0.113.30").client
    html = client.get("/t/acme/").content.decode()
    assert "2026-03-02 08:30:05" in html and "+09:00" in html
    assert "198.51.100.20" in html and "One-time sign-in link" in html
    assert 'href="/t/acme/me/sign-ins/"' in html
    assert "203.0.113.30" not in html  # the current sign-in is not "previous"


def test_previous_sign_in_is_relative_to_this_session_not_the_newest(tenant, admin, english):
    first = sign_in(admin.email, ip="198.51.100.1").client
    sign_in(admin.email, ip="198.51.100.2")  # a newer session elsewhere
    html = first.get("/t/acme/").content.decode()
    assert "This is your first sign-in." in html and "198.51.100.2" not in html


def test_home_page_counts_failed_attempts_since_the_previous_sign_in(tenant, admin, english):
    record_signin(admin, timezone.now() - timedelta(days=2))
    for ip in ("198.51.100.8", "198.51.100.9"):
        sign_in(admin.email, "wrong password", ip=ip)
    html = sign_in(admin.email).client.get("/t/acme/").content.decode()
    assert "Failed sign-in attempts with your account since then: 2" in html


def test_home_page_in_japanese(tenant, admin):
    record_signin(admin, datetime(2026, 3, 1, 23, 30, 5, tzinfo=UTC), method="login_link")
    client = sign_in(admin.email).client
    html = client.get("/t/acme/").content.decode()
    assert '<html lang="ja">' in html and "2026-03-02 08:30:05" in html
    assert "One-time sign-in link" not in html  # translated


# --- Queries ------------------------------------------------------------------------------------

def test_last_signins_two_queries_for_any_number_of_users(tenant, admin, editor, viewer, outsider):
    base = datetime(2026, 5, 1, tzinfo=UTC)
    record_signin(admin, base, ip="198.51.100.1")
    record_signin(admin, base + timedelta(hours=1), ip="198.51.100.2", method="login_link")
    record_signin(admin, base + timedelta(hours=2), action="auth.logout")
    record_signin(editor, base, ip="198.51.100.3")
    with CaptureQueriesContext(connection) as queries:
        last = signins.last_signins([admin.pk, editor.pk, viewer.pk, outsider.pk])
    assert len(queries) <= 2
    assert last == {
        admin.pk: (base + timedelta(hours=1), "198.51.100.2", "login_link"),
        editor.pk: (base, "198.51.100.3", "password"),
    }
    assert signins.last_signins([]) == {}


def test_my_signins_include_failures_and_lockouts_of_my_account_only(tenant, admin, viewer):
    for _ in range(5):
        sign_in(viewer.email, "wrong password")
    sign_in(admin.email, "wrong password", ip="198.51.100.50")
    page = signins.my_signins(viewer)
    assert {e.action for e in page.events} == {"auth.login_failed", "auth.lockout"}
    assert [e.action for e in signins.my_signins(viewer, result="lockout").events] == ["auth.lockout"]
    assert all(e.ip != "198.51.100.50" for e in page.events)


def test_other_tenants_sign_ins_are_never_visible(tenant, admin, outsider):
    sign_in(outsider.email, slug="globex", ip="198.51.100.99")
    sign_in(outsider.email, "wrong password", slug="globex", ip="198.51.100.99")
    sign_in(admin.email, ip="192.0.2.10")
    page = signins.search_signins(admin, signins.SigninFilters())
    assert page.events and all(e.ip != "198.51.100.99" for e in page.events)
    with use_tenant(outsider.tenant):
        theirs = signins.search_signins(outsider, signins.SigninFilters())
        assert {e.ip for e in theirs.events} == {"198.51.100.99"}
        assert signins.last_signins([admin.pk]) == {}


@pytest.mark.parametrize("when", [datetime(2026, 1, 1, 15, 0, tzinfo=UTC)])
def test_method_and_reason_labels(tenant, admin, when):
    event = record_signin(None, when, action="auth.login_failed", reason="account_inactive", email="x@acme.example")
    assert signins.result_of(event) == "failure"
    with translation.override("en"):
        assert str(signins.reason_label(signins.signin_reason(event))) == "Account suspended"
    assert timezone.localtime(event.occurred_at, ZoneInfo("Asia/Tokyo")).hour == 0
