"""The demo tenant `mamori serve` creates on first run, and the link it re-issues."""

from __future__ import annotations

import pytest

from mamori.access.errors import NotFound
from mamori.accounts.actions import consume_login_link, set_password
from mamori.accounts.models import User
from mamori.audit.events import Actor
from mamori.operations.actions import bootstrap_demo
from mamori.tenancy.context import use_tenant
from mamori.tenancy.models import Tenant

pytestmark = pytest.mark.django_db
CLI = Actor.system("cli")


def _secret(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def test_first_run_creates_the_demo_tenant_and_a_link(settings):
    settings.BASE_URL = "http://127.0.0.1:8123"
    result = bootstrap_demo(actor=CLI)
    assert result.created
    tenant = Tenant.objects.get()
    assert (tenant.slug, tenant.name, tenant.language) == ("demo", "Demo 株式会社", "ja")
    assert result.login_url.startswith("http://127.0.0.1:8123/t/demo/welcome/")
    with use_tenant(tenant):
        admin = User.objects.get()
        assert admin.email == "admin@demo.example" and admin.is_tenant_admin
        assert consume_login_link(secret=_secret(result.login_url)) == admin


def test_restart_reissues_the_link_until_a_password_is_set():
    first = bootstrap_demo(actor=CLI)
    second = bootstrap_demo(actor=CLI)
    assert not second.created and second.login_url and second.login_url != first.login_url
    tenant = Tenant.objects.get()
    with use_tenant(tenant):
        with pytest.raises(NotFound):  # the earlier unused link stopped working
            consume_login_link(secret=_secret(first.login_url))
        admin = consume_login_link(secret=_secret(second.login_url))
        set_password(actor=Actor.for_user(admin), user=admin, password="a good demo passphrase 1")
    third = bootstrap_demo(actor=CLI)
    assert third.login_url is None and third.tenant == tenant and Tenant.objects.count() == 1


def test_no_demo_on_an_installation_with_tenants(make_tenant):
    make_tenant("acme")
    result = bootstrap_demo(actor=CLI)
    assert result == type(result)(None, False, None)
    assert list(Tenant.objects.values_list("slug", flat=True)) == ["acme"]
