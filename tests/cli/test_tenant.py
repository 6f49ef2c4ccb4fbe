"""`mamori tenant create|list`."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mamori.accounts.models import LoginLink, User
from mamori.audit.models import AuditEvent, ProviderEvent
from mamori.tenancy.context import use_tenant
from mamori.tenancy.models import Tenant
from tests.cli.support import mamori_env, run_mamori

pytestmark = pytest.mark.django_db


def _call(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_prints_a_working_one_time_link(settings):
    settings.BASE_URL = "http://127.0.0.1:8000"
    out = _call("tenant", "create", "acme", "--name", "Acme 株式会社", "--admin-email", "Owner@Acme.example",
                "--language", "en", "--time-zone", "Europe/Paris", "--region", "eu-west")
    link = re.search(r"http://127\.0\.0\.1:8000/t/acme/welcome/([A-Za-z0-9_-]+)/", out)
    assert link, out
    tenant = Tenant.objects.get(slug="acme")
    assert (tenant.name, tenant.language, tenant.time_zone, tenant.data_region) == (
        "Acme 株式会社", "en", "Europe/Paris", "eu-west")
    with use_tenant(tenant):
        admin = User.objects.get()
        assert admin.email == "Owner@Acme.example" and admin.role == "tenant_admin"
        assert not admin.has_usable_password()
        assert LoginLink.objects.filter(user=admin, used_at__isnull=True).count() == 1
        created = AuditEvent.objects.get(action="tenant.created")
        assert created.actor_type == "system" and created.actor_label.startswith("cli")
    provider_event = ProviderEvent.objects.get(action="tenant.created")
    assert provider_event.tenant_ref == tenant.pk and provider_event.actor_label.startswith("cli")

    # The printed link signs the admin in (GET shows the button, POST uses the link).
    from django.test import Client

    client = Client()
    path = f"/t/acme/welcome/{link.group(1)}/"
    assert client.get(path).status_code == 200
    response = client.post(path)
    assert response.status_code == 302 and response["Location"].endswith("/t/acme/account/set-password/")


def test_create_json(settings):
    out = _call("tenant", "create", "json-co", "--name", "JSON", "--admin-email", "a@json.example", "--json")
    data = json.loads(out)
    assert data["tenant"]["slug"] == "json-co" and data["admin_email"] == "a@json.example"
    assert "/t/json-co/welcome/" in data["login_url"]


@pytest.mark.parametrize(("args", "field"), [
    (["Bad Slug!", "--name", "X", "--admin-email", "a@x.example"], "slug"),
    (["provider", "--name", "X", "--admin-email", "a@x.example"], "slug"),  # reserved
    (["okslug", "--name", "X", "--admin-email", "not-an-email"], "email"),
    (["okslug", "--name", "", "--admin-email", "a@x.example"], "name"),
    (["okslug", "--name", "X", "--admin-email", "a@x.example", "--time-zone", "Mars/Base"], "time_zone"),
])
def test_invalid_input_exits_2_and_writes_nothing(args, field):
    with pytest.raises(CommandError) as excinfo:
        call_command("tenant", "create", *args, stdout=StringIO())
    assert excinfo.value.returncode == 2
    assert field in str(excinfo.value)
    assert not Tenant.objects.exists()
    assert not ProviderEvent.objects.exists()
    assert not AuditEvent.objects_across_tenants.exists()
    assert not User.objects_across_tenants.exists()


def test_duplicate_slug_exits_2():
    _call("tenant", "create", "acme", "--name", "Acme", "--admin-email", "a@acme.example")
    with pytest.raises(CommandError) as excinfo:
        call_command("tenant", "create", "acme", "--name", "Other", "--admin-email", "b@acme.example",
                     stdout=StringIO())
    assert excinfo.value.returncode == 2 and "slug" in str(excinfo.value)
    assert Tenant.objects.count() == 1


def test_list_table_and_json():
    assert "No tenants" in _call("tenant", "list")
    _call("tenant", "create", "beta", "--name", "Beta", "--admin-email", "a@beta.example")
    _call("tenant", "create", "alpha", "--name", "Alpha 株式会社", "--admin-email", "a@alpha.example")
    table = _call("tenant", "list")
    assert table.splitlines()[0].split()[:3] == ["slug", "name", "status"]
    assert "alpha" in table and "Alpha 株式会社" in table
    rows = json.loads(_call("tenant", "list", "--json"))
    assert [r["slug"] for r in rows] == ["alpha", "beta"]
    assert set(rows[0]) >= {"slug", "name", "status", "data_region", "time_zone", "language", "created_at"}
    assert rows[0]["time_zone"] == "Asia/Tokyo" and rows[0]["status"] == "active"


def test_subprocess_exit_codes_and_output(sqlite_data_dir):
    env = mamori_env(sqlite_data_dir, MAMORI_BASE_URL="https://mamori.example.com")
    bad = run_mamori("tenant", "create", "Bad Slug", "--name", "X", "--admin-email", "a@x.example", env=env)
    assert bad.returncode == 2
    assert "slug" in bad.stderr and "Nothing was changed" in bad.stderr
    ok = run_mamori("tenant", "create", "gamma", "--name", "Gamma", "--admin-email", "a@gamma.example",
                    env=env)
    assert ok.returncode == 0, ok.stderr
    assert re.search(r"https://mamori\.example\.com/t/gamma/welcome/[A-Za-z0-9_-]+/", ok.stdout)
    listed = run_mamori("tenant", "list", "--json", env=env)
    assert [t["slug"] for t in json.loads(listed.stdout)] == ["gamma"]
    usage = run_mamori("tenant", "create", "delta", env=env)  # --name and --admin-email missing
    assert usage.returncode == 2
