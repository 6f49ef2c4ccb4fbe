"""Single sign-on journey (issue 4) in Japanese and English: the tenant's sign-in page offers
"Sign in with <IdP>"; the browser goes through the real test OpenID Provider
(tests/sso/oidc_provider, npm oidc-provider on loopback) and lands on the dashboard, signed in
as the existing user the IdP vouched for. Skipped without Node.js and the installed package,
unless MAMORI_REQUIRE_IDP=1 makes that a failure (tests/sso/conftest.py)."""

from __future__ import annotations

import pytest

from mamori.access.roles import Role
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.tenancy.context import use_tenant
from tests.e2e.journeys import check_page, heading, make_tenant, shot_name, tr
from tests.sso.conftest import CLIENT_ID, CLIENT_SECRET, start_op  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_user_signs_in_through_the_openid_provider(start_op, jpage, lang, live_server, screenshot,  # noqa: F811
                                                   settings):
    settings.MAMORI_SSO_ALLOW_HTTP_LOOPBACK = True
    from mamori.accounts.models import User
    from mamori.sso.actions import save_connection

    page = jpage
    tenant, admin = make_tenant("ssoco", "SSO株式会社", admin_email="admin@ssoco.example", lang=lang)
    fields = {"name": "Mamori Test IdP", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
              "enabled": True, "jit_enabled": False, "jit_role": Role.VIEWER}
    with use_tenant(tenant):
        viewer = User(tenant=tenant, email="yamada@ssoco.example", name="山田 太郎", role=Role.VIEWER, language=lang)
        viewer.set_unusable_password()
        viewer.save()
        conn = save_connection(actor=Actor.for_user(admin), issuer="http://127.0.0.1:9", **fields)
    base = f"{live_server.url}/t/ssoco"
    op = start_op(f"{base}/accounts/oidc/{conn.provider_id}/login/callback/")
    with use_tenant(tenant):
        conn = save_connection(actor=Actor.for_user(admin), issuer=op.base, **fields)
    op.set_user("sub-yamada", viewer.email, name="Yamada")

    page.goto(f"{base}/accounts/login/")
    heading(page, lang, "Sign in")
    button = page.get_by_role("button", name=tr(lang, "Sign in with %(name)s", name="Mamori Test IdP"))
    assert button.is_visible()
    screenshot(shot_name("sso-sign-in", lang))
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    button.click()
    page.wait_for_url(f"{base}/")  # through the IdP and back
    heading(page, lang, "Dashboard")
    check_page(page, lang)
    assert page.locator(".who").inner_text() == "山田 太郎"
    screenshot(shot_name("sso-signed-in", lang))
    with use_tenant(tenant):
        login = AuditEvent.objects.filter(action="auth.login").order_by("-pk").first()
        assert login.after["method"] == "sso_oidc" and login.actor_id == str(viewer.pk)
    assert violations == []
