"""Shared fixtures: two tenants, each with an admin, an editor and a viewer.

Every test that touches tenant data gets ``tenant`` activated explicitly; the
``other_*`` fixtures live in a second tenant so cross-tenant tests are one
fixture away. PostgreSQL-only and browser tests skip with a reason unless
``MAMORI_REQUIRE_POSTGRES`` / ``MAMORI_REQUIRE_BROWSER`` make them mandatory.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest
from django.db import connection
from django.test import Client

from mamori.access.roles import Perm, Role, can
from mamori.audit.events import Actor
from mamori.tenancy.context import use_tenant


def pytest_collection_modifyitems(config, items):
    require_pg = os.environ.get("MAMORI_REQUIRE_POSTGRES") == "1"
    require_browser = os.environ.get("MAMORI_REQUIRE_BROWSER") == "1"
    on_pg = "postgres" in os.environ.get("DATABASE_URL", "")
    has_chromium = bool(shutil.which("chromium")) or os.path.exists("/usr/bin/chromium")
    for item in items:
        if "postgres" in item.keywords and not on_pg:
            if require_pg:
                item.add_marker(pytest.mark.xfail(reason="MAMORI_REQUIRE_POSTGRES=1 but DATABASE_URL is not PostgreSQL", run=False, strict=True))
            else:
                item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://…"))
        if "browser" in item.keywords and not has_chromium and not require_browser:
            item.add_marker(pytest.mark.skip(reason="needs Debian's chromium (apt-get install chromium)"))


@pytest.fixture(autouse=True)
def _fast_hasher(settings, request):
    """Argon2 is the configured hasher; most tests use a fast one (tests marked `argon2` keep it)."""
    if "argon2" not in request.keywords:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _provider_mfa_off(settings):
    """Provider staff MFA (MAMORI_PROVIDER_MFA, on by default) is off for tests that sign staff in
    with a password only; tests/operations/test_staff_mfa.py turns it on."""
    settings.MAMORI_PROVIDER_MFA = False


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the installation's language, as a fresh process (a command, a worker
    thread) does: a request's language stays active in its thread after the response, so a test
    must not inherit the previous test's."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Per-token request counts start from zero (token ids repeat once a test's rows roll back)."""
    from mamori.access import ratelimit

    ratelimit.reset()


@pytest.fixture(autouse=True)
def _clear_cache():
    """allauth counts sign-in attempts per IP in the cache; each test starts from zero."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def make_tenant(db):
    from mamori.tenancy.actions import create_tenant

    def _make(slug: str, name: str | None = None, admin_email: str | None = None):
        with use_tenant(None):
            tenant, admin, _secret = create_tenant(
                actor=Actor.system("test"), slug=slug, name=name or slug.title(),
                admin_email=admin_email or f"owner@{slug}.example",
            )
        return tenant

    return _make


@pytest.fixture
def tenant(make_tenant):
    t = make_tenant("acme", "Acme 株式会社")
    with use_tenant(t):
        yield t


@pytest.fixture
def other_tenant(make_tenant):
    return make_tenant("globex", "Globex")


def _user(tenant, email, role, password="correct horse battery staple"):
    from mamori.accounts.models import User

    with use_tenant(tenant):
        existing = User.objects.filter(email=email).first()
        if existing:
            return existing
        user = User(tenant=tenant, email=email, name=email.split("@")[0], role=role)
        user.set_password(password)
        user.save()
        return user


PASSWORD = "correct horse battery staple"


@pytest.fixture
def admin(tenant):
    return _user(tenant, "admin@acme.example", Role.TENANT_ADMIN)


@pytest.fixture
def editor(tenant):
    return _user(tenant, "editor@acme.example", Role.EDITOR)


@pytest.fixture
def viewer(tenant):
    return _user(tenant, "viewer@acme.example", Role.VIEWER)


@pytest.fixture
def outsider(other_tenant):
    """A tenant admin of another tenant."""
    return _user(other_tenant, "admin@globex.example", Role.TENANT_ADMIN)


@pytest.fixture
def storage(settings, tmp_path):
    """The default storage: a directory of this test only (real files); returns its path."""
    root = tmp_path / "files"
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(root)}}}
    return root


@pytest.fixture
def user_factory():
    return _user


@pytest.fixture
def console_client():
    """A Django test client signed in as ``user`` in the user's tenant console."""

    def _client(user, *, reauthenticated: bool = True) -> Client:
        client = Client()
        response = client.post(
            f"/t/{user.tenant.slug}/accounts/login/",
            {"login": user.email, "password": PASSWORD},
        )
        assert response.status_code == 302, response.content[:500]
        if reauthenticated:
            # As if the password had just been re-entered (what allauth's re-authentication
            # page records), so tests of destructive pages start inside that window;
            # tests/console/test_reauthentication.py covers the page itself.
            session = client.session
            session["account_authentication_methods"] = [
                *session.get("account_authentication_methods", []),
                {"method": "password", "at": time.time(), "reauthenticated": True},
            ]
            session.save()
        client.tenant_prefix = f"/t/{user.tenant.slug}"
        return client

    return _client


@pytest.fixture
def api_token():
    """Create an API token for ``user`` and return the raw token string."""
    from mamori.accounts.actions import create_api_token

    def _token(user) -> str:
        with use_tenant(user.tenant):
            if can(user, Perm.USE_API):
                _row, raw = create_api_token(actor=Actor.for_user(user), user=user, name="test")
            else:  # e.g. a viewer: issued the way the provider's CLI does it
                _row, raw = create_api_token(actor=Actor.system("test"), user=user, name="test",
                                             issued_by_cli=True)
        return raw

    return _token


@pytest.fixture
def api_client():
    def _client(raw_token: str) -> Client:
        return Client(HTTP_AUTHORIZATION=f"Bearer {raw_token}")

    return _client


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"
