"""Every route of the tenant console, taken from the URL resolver (never a hand-kept list).

For each route: an anonymous visitor is sent to the tenant's sign-in page; a user
signed in at another tenant is anonymous here (same redirect, never data); a viewer
cannot write; a tenant admin of another tenant asking for this tenant's object ids
through their own prefix gets 404. A new route fails these tests until it is
covered: its path parameters need a value below, and a public route must be added,
knowingly, to the short PUBLIC list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from mamori.audit.models import AuditEvent

TENANT_URLCONF = "mamori.urls_tenant"
SIGN_IN = "/t/acme/accounts/login/"

# Routes anyone may open without signing in. Keep this list short and reviewed.
PUBLIC = {
    "account_login",          # the sign-in page
    "account_reset_password",  # asks for an e-mail address; never reveals whether it exists
    "accounts:welcome",       # one-time sign-in link (GET shows a button; POST uses the link)
    "accounts:invitation",    # invitation link (GET shows the form; an unknown link is a 404 page)
    "set_language",           # language switch on the sign-in page
}
# Public routes whose sample parameter (an unknown secret) is answered with a clear 404 page.
PUBLIC_UNKNOWN_IS_404 = {"accounts:invitation"}
# Single sign-on protocol endpoints Mamori serves itself (the rest are allauth's). The identity
# provider sends an anonymous browser here, so they are public by protocol; with the sample
# parameter (a connection that does not exist) they answer 404 and reveal nothing. The sign-in
# flow itself, with its refusals, is tested against a real provider in tests/sso.
SSO_PROTOCOL = {"openid_connect_callback"}
# allauth's own routes are its responsibility; we check the ones the console links to.
ALLAUTH_CHECKED = {"account_login", "account_logout", "account_reset_password",
                   "account_reauthenticate"}
# Console writes a viewer may do: revoking one's own API token only reduces access.
VIEWER_MAY_POST = {"console:token_revoke", "set_language", "account_logout", "account_login",
                   "account_reset_password", "accounts:welcome", "accounts:set_password",
                   "accounts:invitation", "accounts:change_password", "accounts:end_sessions",
                   # one's own sessions (ending them only reduces access)
                   "console:my_session_end", "console:my_sessions_end_others",
                   # hiding a provider notice's banner for oneself (mamori.notices)
                   "console:notice_dismiss"}


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    module: str
    params: tuple[str, ...]

    def __str__(self) -> str:
        return self.name


def _params(pattern) -> list[str]:
    converters = getattr(pattern, "converters", None)
    if converters is not None:
        return list(converters)
    return list(pattern.regex.groupindex)


def walk(patterns, prefix: str = "", namespace: str = "", params: tuple = ()):
    for entry in patterns:
        entry_params = params + tuple(_params(entry.pattern))
        if isinstance(entry, URLResolver):
            ns = ":".join(filter(None, [namespace, entry.namespace or ""]))
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), ns, entry_params)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            callback = entry.callback
            module = getattr(callback, "__module__", "") or ""
            yield Route(name, prefix + str(entry.pattern), module, entry_params)


def all_routes() -> list[Route]:
    return list(walk(get_resolver(TENANT_URLCONF).url_patterns))


def checked_routes() -> list[Route]:
    return [r for r in all_routes() if not r.module.startswith("allauth.") or r.name in ALLAUTH_CHECKED]


ROUTES = checked_routes()
CONSOLE_ROUTES = [r for r in ROUTES if r.name.startswith("console:")]
# Path parameters that name a page rather than a tenant's object (help topics).
NON_OBJECT_PARAMS = {"slug"}
OBJECT_ROUTES = [r for r in CONSOLE_ROUTES if set(r.params) - NON_OBJECT_PARAMS]


def test_every_route_is_named():
    unnamed = [r.route for r in all_routes() if not r.name]
    assert not unnamed, f"name these routes so the route table can reverse them: {unnamed}"


def test_public_routes_are_few_and_exist():
    names = {r.name for r in ROUTES}
    assert PUBLIC <= names
    assert len(PUBLIC) <= 5, "every public route is an unauthenticated attack surface; keep them few"


def test_table_covers_the_console():
    names = {r.name for r in CONSOLE_ROUTES}
    # The navigation of base.html and the pages of the issue must all be in the table.
    for required in ["dashboard", "workspaces", "records", "labels", "users", "audit", "tokens",
                     "labels_css", "record_create", "record_edit", "record_delete", "audit_event",
                     "signins", "signins_export", "my_signins"]:
        assert f"console:{required}" in names


# --- Values for path parameters: objects of tenant "acme" -----------------------------------

@pytest.fixture
def acme_objects(tenant, admin, editor, viewer, workspace, label, record, settings, tmp_path):
    from mamori.accounts.actions import create_api_token
    from mamori.audit.events import Actor

    admin_token, _ = create_api_token(actor=Actor.for_user(admin), user=admin, name="admin token")
    viewer_token, _ = create_api_token(actor=Actor.for_user(admin), user=viewer, name="viewer token")
    from mamori.siem.models import WebhookSubscription

    subscription = WebhookSubscription.objects.create(url="https://siem.example/hook", secret="0" * 64)
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    from mamori.evidence.actions import request_export
    from mamori.evidence.export import build_package

    export = request_export(actor=Actor.for_user(admin), since=timezone.now() - timedelta(days=1),
                            until=timezone.now())
    build_package(export.pk, tenant)
    from mamori.lifecycle.actions_export import request_tenant_export
    from mamori.lifecycle.export import build_export

    data_export = request_tenant_export(actor=Actor.for_user(admin), enqueue=False)
    build_export(data_export.pk, tenant)
    from mamori.access.actions import add_unit_member, create_unit

    unit = create_unit(actor=Actor.for_user(admin), name="Sales", code="SALES")
    add_unit_member(actor=Actor.for_user(admin), unit_id=unit.pk, user_id=editor.pk)
    from tests.accounts.test_sessions import other_session

    sessions = {f"{who}_session": other_session(user) for who, user in (("admin", admin), ("viewer", viewer))}
    from mamori.scim.actions import create_scim_token

    scim_token, _raw = create_scim_token(actor=Actor.for_user(admin), name="IdP")
    import io

    from mamori.records.actions_attachments import upload_attachment

    attachment = upload_attachment(actor=Actor.for_user(admin), record_id=record.pk,
                                   file=io.BytesIO(b"%PDF-1.4 route table"), filename="route.pdf", size=20)
    from mamori.support.actions import create_request
    from tests.support.conftest import support_staff

    support_request = create_request(staff=support_staff(), tenant=tenant, reason="Route table", scope="read_only",
                                     hours=1)
    return {
        "support_request": support_request,
        "attachment": attachment,
        **sessions,
        "scim_token": scim_token,
        "unit": unit,
        "export": export,
        "data_export": data_export,
        "subscription": subscription,
        "workspace": workspace, "record": record, "label": label, "editor": editor,
        "event": AuditEvent.objects.order_by("-id").first(),
        "admin_token": admin_token, "viewer_token": viewer_token,
    }


def params_for(route: Route, objects: dict, *, as_viewer: bool = False) -> dict:
    """Fill every path parameter; an unknown route/parameter fails loudly."""
    url_name = route.name.split(":")[-1]
    by_prefix = {
        "workspace": objects["workspace"], "record": objects["record"], "label": objects["label"],
        "audit": objects["event"], "siem": objects["subscription"], "evidence": objects["export"],
        "token": objects["viewer_token" if as_viewer else "admin_token"], "unit": objects["unit"],
        "security_scim": objects["scim_token"], "data_export": objects["data_export"],
        "security_support_access": objects["support_request"],
    }
    values = {}
    for param in route.params:
        if param == "secret":
            values[param] = "x" * 43
        elif param == "slug" and url_name == "help_topic":
            values[param] = "roles"
        elif param == "user_id":
            values[param] = objects["editor"].pk
        elif param == "provider_id":
            values[param] = "sso999999"  # no such connection
        elif param == "attachment_id":
            values[param] = objects["attachment"].pk
        elif param == "session_id":
            values[param] = objects["viewer_session" if as_viewer else "admin_session"].pk
        elif param == "pk":
            owner = next((obj for prefix, obj in by_prefix.items() if url_name.startswith(prefix)), None)
            if owner is None:
                pytest.fail(f"route {route.name} ({route.route}): say which object its 'pk' is in params_for()")
            values[param] = owner.pk
        else:
            pytest.fail(f"route {route.name} ({route.route}): add a value for parameter {param!r} in params_for()")
    return values


def url(route: Route, objects: dict, slug: str = "acme", **kw) -> str:
    return f"/t/{slug}" + reverse(route.name, urlconf=TENANT_URLCONF, kwargs=params_for(route, objects, **kw))


def assert_sign_in_redirect(response, route):
    assert response.status_code == 302, (route.name, response.status_code)
    assert response["Location"].startswith(SIGN_IN), (route.name, response["Location"])


# --- The table ---------------------------------------------------------------------------------

@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_anonymous_is_sent_to_sign_in(route, acme_objects):
    client = Client()
    response = client.get(url(route, acme_objects))
    if route.name in SSO_PROTOCOL:
        assert response.status_code == 404, (route.name, response.status_code)
        return
    if route.name in PUBLIC:
        allowed = (200, 302, 404) if route.name in PUBLIC_UNKNOWN_IS_404 else (200, 302)
        assert response.status_code in allowed, (route.name, response.status_code)
        if response.status_code == 302:
            assert not response["Location"].startswith(SIGN_IN)
        return
    assert_sign_in_redirect(response, route)
    if route.name != "account_logout":
        assert_sign_in_redirect(client.post(url(route, acme_objects)), route)


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_user_of_another_tenant_is_anonymous_here(route, acme_objects, outsider, console_client):
    client = console_client(outsider)  # signed in at /t/globex/
    events_before = AuditEvent.objects.count()
    response = client.get(url(route, acme_objects))
    if route.name in SSO_PROTOCOL:
        assert response.status_code == 404, (route.name, response.status_code)
        assert AuditEvent.objects.count() == events_before
        return
    if route.name in PUBLIC:
        allowed = (200, 302, 404) if route.name in PUBLIC_UNKNOWN_IS_404 else (200, 302)
        assert response.status_code in allowed, (route.name, response.status_code)
        return
    assert_sign_in_redirect(response, route)
    if route.name != "account_logout":
        assert_sign_in_redirect(client.post(url(route, acme_objects)), route)
        assert AuditEvent.objects.count() == events_before  # nothing happened in acme


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_other_tenants_admin_gets_404_for_our_ids_under_their_prefix(route, acme_objects, outsider,
                                                                     console_client):
    client = console_client(outsider)
    target = url(route, acme_objects, slug="globex")
    statuses = {client.get(target).status_code, client.post(target).status_code}
    assert statuses <= {404, 405}, (route.name, statuses)
    assert 404 in statuses, (route.name, statuses)


@pytest.mark.parametrize("route", CONSOLE_ROUTES, ids=str)
def test_viewer_cannot_write(route, acme_objects, viewer, console_client):
    client = console_client(viewer)
    target = url(route, acme_objects, as_viewer=True)
    response = client.post(target, {"name": "x", "title": "x"})
    if route.name in VIEWER_MAY_POST:
        assert response.status_code in (200, 302), (route.name, response.status_code)
        return
    assert response.status_code in (403, 405), (route.name, response.status_code)
    if route.name.split(":")[-1].endswith(("_create", "_edit", "_delete")):
        assert client.get(target).status_code == 403, route.name  # the form itself is refused too


@pytest.mark.parametrize("route", CONSOLE_ROUTES, ids=str)
def test_admin_pages_render_without_inline_script_or_style(route, acme_objects, admin, console_client):
    client = console_client(admin)
    response = client.get(url(route, acme_objects))
    assert response.status_code in (200, 405), (route.name, response.status_code)
    if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
        html = response.content.decode()
        assert " style=" not in html, route.name  # the CSP forbids inline styles
        assert "<script>" not in html and "<script " not in html.replace('<script src="', ""), route.name
