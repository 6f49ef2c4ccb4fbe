"""The provider console's role matrix (docs/operations/provider-console.md): every page of this
app, for each staff role, answers 200 or 403 — and the navigation shows only the allowed links."""

from __future__ import annotations

import pytest

from mamori.operations.pages import PROVIDER_PAGES

# path → roles that may open it (GET). Pages of other apps (notices, incidents…) test their own.
MATRIX = {
    "/provider/": {"operator", "security_officer", "support"},
    "/provider/log/": {"operator", "security_officer"},
    "/provider/outbox/": {"operator"},
    "/provider/backups/": {"operator", "security_officer"},
    "/provider/terminations/": {"operator", "security_officer", "support"},
    "/provider/schedules/": {"operator", "security_officer"},
    "/provider/vulnerabilities/": {"operator", "security_officer"},
    "/provider/tenants/acme/backups/": {"operator", "security_officer", "support"},
    "/provider/tenants/acme/termination/": {"operator", "security_officer", "support"},
    "/provider/tenants/acme/ip-allowlist-override/": {"operator", "security_officer", "support"},
    "/provider/tenants/acme/attachment-limit/": {"operator", "security_officer", "support"},
}
ROLES = ("operator", "security_officer", "support")


@pytest.fixture
def clients(staff_login, make_tenant, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    make_tenant("acme")
    return {role: staff_login(role) for role in ROLES}


def test_role_matrix(clients):
    seen = {}
    for path, allowed in MATRIX.items():
        for role, client in clients.items():
            seen[(path, role)] = client.get(path).status_code
    expected = {(path, role): 200 if role in allowed else 403 for path, allowed in MATRIX.items() for role in ROLES}
    assert seen == expected


def test_post_only_actions_are_role_checked(clients, make_staff):
    from mamori.lifecycle.models import DeletionCertificate

    assert DeletionCertificate.objects.count() == 0
    for role in ("security_officer", "support"):
        assert clients[role].post("/provider/schedules/audit.daily_digests/run/").status_code == 403
    assert clients["support"].get("/provider/certificates/1/").status_code == 403
    assert clients["operator"].get("/provider/certificates/1/").status_code == 404
    assert clients["support"].get("/provider/outbox/1/").status_code == 403


def test_navigation_shows_only_allowed_links(clients):
    mine = {page.url_name for page in PROVIDER_PAGES if page.section in
            {"tenants", "log", "outbox", "backups", "terminations", "schedules", "vulnerabilities"}}
    assert len(mine) == 7
    support = clients["support"].get("/provider/").content.decode()
    operator = clients["operator"].get("/provider/").content.decode()
    for link in ("/provider/log/", "/provider/outbox/", "/provider/backups/", "/provider/schedules/",
                 "/provider/vulnerabilities/"):
        assert f'href="{link}"' in operator and f'href="{link}"' not in support
    assert 'href="/provider/terminations/"' in support
