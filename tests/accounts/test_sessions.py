"""Sessions (issue 4, item 6): per-tenant idle timeout and absolute lifetime, session ids rotated at
sign-in and privilege change, users list and end their own sessions, admins end all of a user's."""

from __future__ import annotations

import time

import pytest
from allauth.usersessions.models import UserSession
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client

from mamori.access.errors import NotFound, PermissionDenied
from mamori.accounts import actions
from mamori.accounts.actions_sessions import end_own_session, update_session_policy
from mamori.accounts.models import SessionPolicy
from mamori.accounts.sessions import DEFAULT, SESSION_KEY, session_policy_for_tenant
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.tenancy.context import use_tenant
from tests.api.conftest import ApiClient
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

HOME = "/t/acme/"
LOGIN = "/t/acme/accounts/login/"


def other_session(user, *, ip: str = "192.0.2.99", ua: str = "Other/1.0 (Windows) Firefox/130.0") -> UserSession:
    """A real, valid session of ``user`` in another browser (a Django session and its list row)."""
    store = SessionStore()
    store["_auth_user_id"] = str(user.pk)
    store["_auth_user_backend"] = "mamori.accounts.backends.TenantAuthenticationBackend"
    store["_auth_user_hash"] = user.get_session_auth_hash()
    store[SESSION_KEY] = {"start": time.time(), "seen": time.time()}
    store.create()
    return UserSession.objects.create(user=user, ip=ip, user_agent=ua, session_key=store.session_key)


def _sign_in(user, client: Client | None = None, **extra) -> Client:
    client = client or Client()
    response = client.post(LOGIN, {"login": user.email, "password": PASSWORD}, **extra)
    assert response.status_code == 302, response.content[:300]
    return client


def _shift(client: Client, *, start: float = 0, seen: float = 0) -> None:
    """Time travel: move the session's sign-in and last-use times back by that many seconds."""
    session = client.session
    state = dict(session[SESSION_KEY])
    state["start"] -= start
    state["seen"] -= seen
    session[SESSION_KEY] = state
    session.save()


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- Policy -----------------------------------------------------------------------------------

def test_defaults_are_nist_aal2(tenant):
    assert session_policy_for_tenant(tenant) == DEFAULT
    assert (DEFAULT.idle_timeout_minutes, DEFAULT.absolute_lifetime_hours) == (30, 12)


def test_update_policy_is_checked_and_audited(tenant, admin):
    limits = update_session_policy(actor=Actor.for_user(admin), idle_timeout_minutes=15, absolute_lifetime_hours=8)
    assert session_policy_for_tenant(tenant) == limits
    event = AuditEvent.objects.get(action="security.session_policy_updated")
    assert event.before == {"idle_timeout_minutes": 30, "absolute_lifetime_hours": 12}
    assert event.after == {"idle_timeout_minutes": 15, "absolute_lifetime_hours": 8}
    from django.core.exceptions import ValidationError

    for bad in ({"idle_timeout_minutes": 0}, {"idle_timeout_minutes": 1441}, {"absolute_lifetime_hours": 721},
                {"idle_timeout_minutes": 600, "absolute_lifetime_hours": 2}, {"idle_timeout_minutes": "x"}):
        with pytest.raises(ValidationError) as exc:
            update_session_policy(actor=Actor.for_user(admin), **bad)
        assert set(exc.value.message_dict) <= {"idle_timeout_minutes", "absolute_lifetime_hours"}
    assert SessionPolicy.objects.get().idle_timeout_minutes == 15


def test_only_security_managers_change_the_policy(tenant, editor):
    with pytest.raises(PermissionDenied):
        update_session_policy(actor=Actor.for_user(editor), idle_timeout_minutes=5)
    assert not SessionPolicy.objects.exists()
    assert AuditEvent.objects.filter(action="access.denied").exists()


def test_policies_are_per_tenant(tenant, admin, other_tenant):
    update_session_policy(actor=Actor.for_user(admin), idle_timeout_minutes=5)
    with use_tenant(other_tenant):
        assert session_policy_for_tenant(other_tenant) == DEFAULT


# --- Enforcement ------------------------------------------------------------------------------

def test_sign_in_records_the_session_clock(tenant, editor):
    client = _sign_in(editor)
    state = client.session[SESSION_KEY]
    assert abs(state["start"] - time.time()) < 5 and state["seen"] == state["start"]


def test_idle_session_is_signed_out_with_a_message_and_an_event(tenant, editor):
    client = _sign_in(editor)
    _shift(client, start=29 * 60, seen=29 * 60)
    assert client.get(HOME).status_code == 200  # 29 minutes idle: still fine
    _shift(client, start=31 * 60, seen=31 * 60)
    response = client.get("/t/acme/records/?q=1")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN) and "next=" in response["Location"]
    assert not _signed_in(client)
    event = AuditEvent.objects.get(action="auth.session_expired")
    assert event.target_id == str(editor.pk) and event.after["reason"] == "idle"
    assert event.after["idle_timeout_minutes"] == 30
    assert not AuditEvent.objects.filter(action="auth.logout").exists()
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "30" in page  # "signed out after 30 minutes without activity"


def test_absolute_lifetime_ends_even_an_active_session(tenant, editor):
    client = _sign_in(editor)
    _shift(client, start=12 * 3600 + 1)  # used a moment ago, but signed in 12 hours ago
    response = client.get(HOME)
    assert response.status_code == 302 and not _signed_in(client)
    event = AuditEvent.objects.get(action="auth.session_expired")
    assert event.after["reason"] == "absolute"
    from mamori.accounts.queries_signins import result_of, signin_reason

    assert result_of(event) == "signout" and signin_reason(event) == "absolute"  # in the sign-in history


def test_activity_keeps_the_session_alive(tenant, editor):
    client = _sign_in(editor)
    _shift(client, start=3600, seen=25 * 60)
    assert client.get(HOME).status_code == 200
    assert time.time() - client.session[SESSION_KEY]["seen"] < 5  # last use written (older than a minute)
    _shift(client, seen=25 * 60)
    assert client.get(HOME).status_code == 200  # 50 minutes since sign-in, never 30 idle


def test_last_use_is_written_at_most_once_a_minute(tenant, editor):
    client = _sign_in(editor)
    _shift(client, seen=30)
    before = client.session[SESSION_KEY]["seen"]
    client.get(HOME)
    assert client.session[SESSION_KEY]["seen"] == before


def test_a_shorter_policy_applies_to_open_sessions_at_once(tenant, admin, editor):
    client = _sign_in(editor)
    _shift(client, seen=6 * 60)
    update_session_policy(actor=Actor.for_user(admin), idle_timeout_minutes=5)
    assert client.get(HOME).status_code == 302 and not _signed_in(client)


def test_a_session_without_a_clock_starts_one(tenant, editor):
    client = _sign_in(editor)
    session = client.session
    del session[SESSION_KEY]
    session.save()
    assert client.get(HOME).status_code == 200
    assert SESSION_KEY in client.session


def test_htmx_requests_are_told_where_to_go(tenant, editor):
    client = _sign_in(editor)
    _shift(client, seen=3600)
    response = client.get(HOME, HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"].startswith(LOGIN)


# --- Session ids -----------------------------------------------------------------------------

def test_session_id_changes_at_sign_in(tenant, editor):
    client = Client()
    client.get(LOGIN)
    session = client.session
    session["anonymous"] = True
    session.save()
    before = client.session.session_key
    _sign_in(editor, client)
    assert client.session.session_key != before
    assert not Session.objects.filter(session_key=before).exists()


def test_role_change_ends_the_users_sessions(tenant, admin, editor):
    client = _sign_in(editor)
    key = client.session.session_key
    assert UserSession.objects.filter(session_key=key).exists()
    actions.update_user(actor=Actor.for_user(admin), user=editor.pk, role="viewer")
    response = client.get(HOME)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert not UserSession.objects.filter(user=editor).exists()
    assert not Session.objects.filter(session_key=key).exists()
    # Signing in again gives a new session id with the new role.
    again = _sign_in(editor, Client())
    assert again.session.session_key != key


def test_admin_ending_all_sessions_removes_them(tenant, admin, editor):
    first, second = _sign_in(editor), _sign_in(editor, Client())
    keys = {first.session.session_key, second.session.session_key}
    assert UserSession.objects.filter(user=editor).count() == 2
    actions.end_sessions(actor=Actor.for_user(admin), user=editor.pk)
    assert not UserSession.objects.filter(user=editor).exists()
    assert not Session.objects.filter(session_key__in=keys).exists()
    assert first.get(HOME).status_code == 302 and second.get(HOME).status_code == 302


def test_admin_ends_sessions_from_the_console(tenant, admin, editor, console_client):
    victim = _sign_in(editor)
    response = console_client(admin).post(f"/t/acme/users/{editor.pk}/end-sessions/")
    assert response.status_code == 302
    assert victim.get(HOME).status_code == 302
    assert not UserSession.objects.filter(user=editor).exists()


# --- My sessions ----------------------------------------------------------------------------

MINE = "/t/acme/me/sessions/"


def test_my_sessions_lists_mine_with_the_current_one_marked(tenant, editor, viewer):
    editor.language = "en"
    editor.save(update_fields=["language"])
    client = _sign_in(editor, HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0",
                      REMOTE_ADDR="198.51.100.4")
    other_session(editor, ip="203.0.113.50")
    other_session(viewer, ip="203.0.113.77")
    html = client.get(MINE, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "198.51.100.4" in html and "203.0.113.50" in html
    assert "203.0.113.77" not in html  # not someone else's
    assert "Firefox · Linux" in html and "this session" in html
    assert html.count("End session") == 1  # only the other one can be ended here


def test_ending_another_of_my_sessions(tenant, editor):
    client = _sign_in(editor)
    phone = _sign_in(editor, Client(), HTTP_USER_AGENT="Phone/1.0 (iPhone)")
    row = UserSession.objects.get(session_key=phone.session.session_key)
    response = client.post(f"{MINE}{row.pk}/end/")
    assert response.status_code == 302
    assert phone.get(HOME).status_code == 302  # that browser is signed out
    assert client.get(HOME).status_code == 200  # this one is not
    event = AuditEvent.objects.get(action="user.session_ended")
    assert event.target_id == str(editor.pk) and event.before["user_agent"].startswith("Phone/1.0")


def test_the_current_and_other_users_sessions_cannot_be_ended_that_way(tenant, editor, viewer):
    client = _sign_in(editor)
    mine = UserSession.objects.get(session_key=client.session.session_key)
    theirs = other_session(viewer)
    assert client.post(f"{MINE}{mine.pk}/end/").status_code == 404
    assert client.post(f"{MINE}{theirs.pk}/end/").status_code == 404
    assert UserSession.objects.filter(pk=theirs.pk).exists()
    with pytest.raises(NotFound):
        end_own_session(actor=Actor.for_user(editor), session_id=theirs.pk)


def test_sign_out_of_every_other_session_keeps_this_one(tenant, editor):
    client = _sign_in(editor)
    other = _sign_in(editor, Client())
    old_key = client.session.session_key
    response = client.post(f"{MINE}end-others/")
    assert response.status_code == 302
    assert other.get(HOME).status_code == 302
    assert client.get(HOME).status_code == 200
    assert client.session.session_key != old_key  # rotated
    assert list(UserSession.objects.filter(user=editor).values_list("session_key", flat=True)) == \
        [client.session.session_key]
    assert AuditEvent.objects.filter(action="user.sessions_ended").exists()


def test_activity_updates_the_list(tenant, editor):
    client = _sign_in(editor, REMOTE_ADDR="198.51.100.4")
    _shift(client, seen=120)
    client.get(HOME, REMOTE_ADDR="198.51.100.5")
    row = UserSession.objects.get(session_key=client.session.session_key)
    assert row.ip == "198.51.100.5"


@pytest.mark.postgres
def test_user_sessions_are_isolated_by_row_level_security(tenant, editor, other_tenant, outsider):
    row = other_session(editor)
    with use_tenant(other_tenant):
        assert not UserSession.objects.filter(pk=row.pk).exists()
        assert UserSession.objects.filter(user=outsider).count() == 0
    assert UserSession.objects.filter(pk=row.pk).exists()


# --- Console page and API ---------------------------------------------------------------------

PAGE = "/t/acme/settings/security/sessions/"


def test_console_policy_page_saves_with_reauthentication(tenant, admin, console_client):
    client = console_client(admin)
    assert client.get(PAGE).status_code == 200
    response = client.post(PAGE, {"idle_timeout_minutes": "20", "absolute_lifetime_hours": "24"})
    assert response.status_code == 302
    assert session_policy_for_tenant(tenant).absolute_lifetime_hours == 24
    html = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "NIST SP 800-63B" in html  # 24 h is longer than AAL2's 12 h: the page says so
    stale = console_client(admin, reauthenticated=False)
    response = stale.post(PAGE, {"idle_timeout_minutes": "10", "absolute_lifetime_hours": "8"})
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    assert session_policy_for_tenant(tenant).idle_timeout_minutes == 20


def test_console_policy_page_shows_errors(tenant, admin, console_client):
    response = console_client(admin).post(PAGE, {"idle_timeout_minutes": "900", "absolute_lifetime_hours": "1"})
    assert response.status_code == 200 and not SessionPolicy.objects.exists()


def test_console_policy_page_is_for_admins(tenant, editor, console_client):
    assert console_client(editor).get(PAGE).status_code == 403


def test_security_overview_links_the_page(tenant, admin, console_client):
    assert PAGE in console_client(admin).get("/t/acme/settings/security/").content.decode()


API = "/api/v1/security/session-policy"


def test_api_get_and_put(tenant, admin, api_token):
    api = ApiClient(api_token(admin))
    assert api.get(API).json() == {"idle_timeout_minutes": 30, "absolute_lifetime_hours": 12, "nist_notes": []}
    response = api.request("PUT", API, {"idle_timeout_minutes": 60, "absolute_lifetime_hours": 12})
    assert response.status_code == 200
    assert [n["field"] for n in response.json()["nist_notes"]] == ["idle_timeout_minutes"]
    with use_tenant(tenant):
        assert session_policy_for_tenant(tenant).idle_timeout_minutes == 60
    bad = api.request("PUT", API, {"idle_timeout_minutes": 0, "absolute_lifetime_hours": 1000},
                      HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"idle_timeout_minutes", "absolute_lifetime_hours"}


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_api_is_for_admins(request, role, api_token):
    api = ApiClient(api_token(request.getfixturevalue(role)))
    assert api.get(API).status_code == 403
    assert api.request("PUT", API, {"idle_timeout_minutes": 5, "absolute_lifetime_hours": 1}).status_code == 403


# --- Sign out every user of the tenant (ASVS 7.4.5) --------------------------------------------

END_ALL = "/t/acme/settings/security/sessions/end-all/"


def test_end_all_sessions_signs_out_every_user_of_this_tenant_only(tenant, admin, editor, viewer,
                                                                   other_tenant, outsider):
    from mamori.accounts.actions_sessions import end_all_sessions

    editor_browser, viewer_browser = _sign_in(editor), _sign_in(viewer)
    other_session(editor)
    with use_tenant(other_tenant):
        kept = other_session(outsider)
    from mamori.accounts.models import User

    summary = end_all_sessions(actor=Actor.for_user(admin))
    assert summary["users"] == User.objects.count() >= 3 and summary["sessions_ended"] >= 3
    assert editor_browser.get(HOME).status_code == 302 and viewer_browser.get(HOME).status_code == 302
    assert not UserSession.objects.filter(user__in=[editor, viewer]).exists()
    with use_tenant(other_tenant):
        assert UserSession.objects.filter(pk=kept.pk).exists()
    event = AuditEvent.objects.get(action="security.all_sessions_ended")
    assert event.actor_id == str(admin.pk) and event.after["users"] == summary["users"]


def test_end_all_sessions_is_for_security_admins(tenant, editor):
    from mamori.accounts.actions_sessions import end_all_sessions

    with pytest.raises(PermissionDenied):
        end_all_sessions(actor=Actor.for_user(editor))
    assert not AuditEvent.objects.filter(action="security.all_sessions_ended").exists()


def test_console_end_all_keeps_the_admins_session_and_needs_reauthentication(tenant, admin, editor,
                                                                             console_client):
    victim = _sign_in(editor)
    stale = console_client(admin, reauthenticated=False)
    response = stale.post(END_ALL)
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    assert victim.get(HOME).status_code == 200
    client = console_client(admin)
    response = client.post(END_ALL, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"].endswith(PAGE)
    assert victim.get(HOME).status_code == 302
    page = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and "全ユーザーをサインアウトしました" in page.content.decode()  # admin reads Japanese
    assert client.get(END_ALL).status_code == 405
    assert console_client(editor).post(END_ALL).status_code == 403


def test_api_end_all_sessions(tenant, admin, editor, api_token):
    victim = _sign_in(editor)
    assert ApiClient(api_token(editor)).request("POST", "/api/v1/security/sessions/end-all", {}).status_code == 403
    assert victim.get(HOME).status_code == 200
    response = ApiClient(api_token(admin)).request("POST", "/api/v1/security/sessions/end-all", {})
    assert response.status_code == 200 and response.json()["sessions_ended"] >= 1
    assert victim.get(HOME).status_code == 302
