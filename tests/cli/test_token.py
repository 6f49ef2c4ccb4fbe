"""`mamori token create`: an API token for automation, printed once, audited as from the CLI."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from mamori.access.errors import PermissionDenied
from mamori.accounts.actions import create_api_token
from mamori.accounts.models import ApiToken
from mamori.accounts.secrets import hash_secret
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.tenancy.context import use_tenant
from tests.cli.support import mamori_env, run_mamori


def _create(*args: str) -> dict:
    out = StringIO()
    call_command("token", "create", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_token_is_printed_once_stored_hashed_and_audited(tenant, admin, viewer):
    data = _create("--tenant", "acme", "--email", "VIEWER@acme.example", "--name", "nightly", "--days", "30")
    assert data["tenant"] == "acme" and data["email"] == "viewer@acme.example" and data["name"] == "nightly"
    token = ApiToken.objects.get(prefix=data["prefix"])
    assert token.user == viewer and token.expires_at is not None
    assert data["token"] not in token.secret_hash and data["token"] not in str(token.__dict__)
    event = AuditEvent.objects.get(action="api_token.created")
    assert event.actor_type == "system" and event.actor_label.startswith("cli")
    assert event.after["issued_by"] == "cli" and event.after["user"] == "viewer@acme.example"
    assert data["token"] not in json.dumps(event.after)


def test_token_works_on_the_api(tenant, admin):
    from mamori.accounts.tokens import parse_api_token, verify_api_token

    data = _create("--tenant", "acme", "--email", "admin@acme.example")
    parsed = parse_api_token(data["token"])
    assert parsed is not None and parsed.tenant_id == tenant.pk
    assert verify_api_token(parsed) is not None
    response = Client(HTTP_AUTHORIZATION=f"Bearer {data['token']}").get("/api/v1/me")
    assert response.status_code == 200, response.content[:300]
    assert Client(HTTP_AUTHORIZATION="Bearer mmr_1_000000000000_" + "0" * 64).get("/api/v1/me").status_code == 401


def test_table_output(tenant, admin):
    out = StringIO()
    call_command("token", "create", "--tenant", "acme", "--email", "admin@acme.example", stdout=out)
    text = out.getvalue()
    token = ApiToken.objects.get()
    assert token.prefix in text and "Shown once" in text
    printed = text.strip().splitlines()[-1].strip()
    assert printed.startswith(f"mmr_{tenant.pk}_{token.prefix}_")
    assert hash_secret(printed.rsplit("_", 1)[1]) == token.secret_hash


@pytest.mark.parametrize(("args", "message"), [
    (["--tenant", "nope", "--email", "admin@acme.example"], "No open tenant"),
    (["--tenant", "acme", "--email", "nobody@acme.example"], "No active user"),
    (["--tenant", "acme", "--email", "admin@acme.example", "--days", "0"], "expires_in_days"),
    (["--tenant", "acme", "--email", "admin@acme.example", "--name", "x" * 101], "name"),
])
def test_bad_input_exits_2_and_writes_nothing(tenant, admin, args, message):
    with pytest.raises(CommandError) as excinfo:
        call_command("token", "create", *args, stdout=StringIO())
    assert excinfo.value.returncode == 2 and message in str(excinfo.value)
    assert not ApiToken.objects.exists()
    assert not AuditEvent.objects.filter(action="api_token.created").exists()


def test_a_user_of_another_tenant_is_not_found(tenant, admin, other_tenant, outsider):
    with pytest.raises(CommandError, match="No active user"):
        call_command("token", "create", "--tenant", "acme", "--email", "admin@globex.example",
                     stdout=StringIO())


def test_cli_path_is_refused_to_users(tenant, admin, viewer):
    """Only the system actor may use the CLI path; a user cannot claim it to skip permissions."""
    with pytest.raises(PermissionDenied):
        create_api_token(actor=Actor.for_user(viewer), user=admin, name="x", issued_by_cli=True)
    assert not ApiToken.objects.exists()


def test_system_actor_without_cli_path_is_refused(tenant, admin):
    with pytest.raises(PermissionDenied):
        create_api_token(actor=Actor.system("cli"), user=admin, name="x")


def test_subprocess(sqlite_data_dir):
    env = mamori_env(sqlite_data_dir)
    created = run_mamori("tenant", "create", "acme", "--name", "Acme", "--admin-email", "a@acme.example",
                         env=env)
    assert created.returncode == 0, created.stderr
    result = run_mamori("token", "create", "--tenant", "acme", "--email", "a@acme.example", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["token"].startswith("mmr_")
    missing = run_mamori("token", "create", "--tenant", "acme", "--email", "x@acme.example", env=env)
    assert missing.returncode == 2 and "No active user" in missing.stderr


def test_token_for_deactivated_user_is_refused(tenant, admin, editor):
    with use_tenant(tenant):
        editor.is_active = False
        editor.save()
    with pytest.raises(CommandError, match="No active user"):
        call_command("token", "create", "--tenant", "acme", "--email", "editor@acme.example", stdout=StringIO())
