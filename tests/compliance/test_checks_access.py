"""Identity, access, segregation, hardening and cryptography checks: each passes on the real system
and fails once the control is broken (9.2.1–9.2.4, 9.4.1, 13.1.3, CLD.9.5.1, CLD.9.5.2, 10.1.1, 18.1.5)."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from mamori.accounts.models import Invitation, User
from mamori.tenancy.context import tenant_context, use_tenant
from tests.compliance.helpers import as_owner, run

pytestmark = pytest.mark.django_db
ARGON2 = ["mamori.accounts.hashers.MamoriArgon2PasswordHasher", "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
PG = "postgres" in os.environ.get("DATABASE_URL", "")


def _invite(tenant, admin, **fields):
    invited = User.objects.create(email="new@acme.example", role="viewer", is_active=False)
    defaults = {"user": invited, "invited_by": admin, "token_hash": "a" * 64,
                "expires_at": timezone.now() + timedelta(hours=72)}
    return Invitation.objects.create(**{**defaults, **fields})


def test_registration_passes_with_hashed_expiring_invitations(tenant, admin):
    _invite(tenant, admin)
    result = run("9.2.1")
    assert result.status == "pass", result.summary
    assert result.evidence["invitations"] == 1 and result.evidence["last_admin_guard"] is True


def test_registration_fails_for_a_token_stored_in_clear(tenant, admin):
    _invite(tenant, admin, token_hash="correct-horse-battery")
    result = run("9.2.1")
    assert result.status == "fail" and "1 stored invitation tokens are not SHA-256 hashes" in result.summary


def test_registration_fails_for_endless_invitations(tenant, admin, settings):
    _invite(tenant, admin, expires_at=timezone.now() + timedelta(days=30))
    settings.INVITATION_MAX_AGE_HOURS = 0
    result = run("9.2.1")
    assert result.status == "fail"
    assert "INVITATION_MAX_AGE_HOURS=0" in result.summary and "1 invitations valid longer" in result.summary


def test_registration_fails_without_the_last_admin_guard(monkeypatch):
    from mamori.accounts import actions

    monkeypatch.delattr(actions, "_guard_last_admin")
    result = run("9.2.1")
    assert result.status == "fail" and "last-admin guard" in result.summary


def test_matrix_passes_and_fails_when_a_viewer_may_grant_admin(tenant, admin, viewer, monkeypatch):
    from mamori.access import roles

    result = run("9.2.2")
    assert result.status == "pass" and result.evidence["cells"] == len(roles.Role) * len(roles.Perm)
    assert result.evidence["users_per_role"]["viewer"] == 1
    monkeypatch.setitem(roles.MATRIX, roles.Role.VIEWER, frozenset({roles.Perm.VIEW_RECORDS, roles.Perm.GRANT_ADMIN}))
    result = run("9.2.2")
    assert result.status == "fail" and "roles other than tenant admin may grant admin: viewer" in result.summary


def test_privileged_access_counts_policies_and_fails_without_enforcement(tenant, admin, other_tenant, settings):
    from mamori.multifactor.models import MfaPolicy

    with tenant_context(tenant):
        MfaPolicy.objects.create(requirement="everyone")
    result = run("9.2.3")
    assert result.status == "pass" and result.evidence["mfa_policy"] == {"everyone": 1, "optional": 1}
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "mamori.access.allowlist.IpAllowlistMiddleware"]
    result = run("9.2.3")
    assert result.status == "fail" and "IpAllowlistMiddleware" in result.summary


def test_hasher_passes_with_argon2id_at_owasp_parameters(settings):
    settings.PASSWORD_HASHERS = ARGON2
    result = run("9.2.4")
    assert result.status == "pass", result.summary
    assert "Argon2id m=19456 KiB t=2 p=1" in result.summary


def test_hasher_parameters_follow_the_settings(settings):
    settings.PASSWORD_HASHERS = ARGON2
    settings.MAMORI_ARGON2 = {"memory_cost": 65536, "time_cost": 3, "parallelism": 2}
    assert "m=65536 KiB t=3 p=2" in run("9.2.4").summary


@pytest.mark.parametrize("hashers, argon, expected", [
    (["django.contrib.auth.hashers.PBKDF2PasswordHasher"], None, "the default hasher is pbkdf2_sha256"),
    (ARGON2, {"memory_cost": 4096, "time_cost": 1, "parallelism": 1}, "memory 4096 KiB below 19456 KiB"),
    (ARGON2, {"memory_cost": 19456, "time_cost": 1, "parallelism": 1}, "time cost 1 below 2"),
])
def test_weak_hashers_fail(settings, hashers, argon, expected):
    settings.PASSWORD_HASHERS = hashers
    if argon:
        settings.MAMORI_ARGON2 = argon
    result = run("9.2.4")
    assert result.status == "fail" and expected in result.summary


def test_user_enumeration_setting_fails_the_check(settings):
    settings.PASSWORD_HASHERS = ARGON2
    settings.ACCOUNT_PREVENT_ENUMERATION = False
    result = run("9.2.4")
    assert result.status == "fail" and "ACCOUNT_PREVENT_ENUMERATION is off" in result.summary


def test_password_policy_passes_and_fails_on_a_clear_text_password(tenant, admin):
    result = run("9.2.4-policy")
    assert result.status == "pass" and result.evidence["default"]["min_length"] == 12
    User.objects.filter(pk=admin.pk).update(password="hunter2hunter2")
    result = run("9.2.4-policy")
    assert result.status == "fail" and "1 stored passwords are not hashes" in result.summary


def test_access_restriction_passes_and_fails_for_an_unauthenticated_endpoint(monkeypatch):
    from mamori.api.main import api

    result = run("9.4.1")
    assert result.status == "pass" and result.evidence["api_operations"] > 50
    _prefix, router = api._routers[1]
    operation = next(iter(router.path_operations.values())).operations[0]
    monkeypatch.setattr(operation, "auth_param", None)
    result = run("9.4.1")
    assert result.status == "fail" and len(result.evidence["unauthenticated"]) == 1


def test_tokens_are_bound_to_tenants():
    result = run("13.1.3")
    assert result.status == "pass" and "accounts.ApiToken" in result.evidence["bound"]


@pytest.mark.skipif(PG, reason="SQLite behaviour")
def test_rls_is_not_applicable_on_sqlite():
    result = run("CLD.9.5.1")
    assert result.status == "not_applicable" and "sqlite" in result.summary


@pytest.mark.postgres
def test_rls_forced_on_every_tenant_table_and_fails_when_unforced(tenant):
    result = run("CLD.9.5.1")
    assert result.status == "pass", result.summary
    n = result.evidence["tables"]
    assert f"RLS forced on {n}/{n} tenant tables" in result.summary and n >= 40
    as_owner('ALTER TABLE "records_label" NO FORCE ROW LEVEL SECURITY')
    result = run("CLD.9.5.1")
    assert result.status == "fail" and f"RLS forced on {n - 1}/{n}" in result.summary
    assert result.evidence["not_protected"] == {"records_label": {"enabled": True, "forced": False, "policy": True}}


@pytest.mark.postgres
def test_rls_fails_when_disabled_on_one_table(tenant):
    as_owner('ALTER TABLE "accounts_apitoken" DISABLE ROW LEVEL SECURITY')
    result = run("CLD.9.5.1")
    assert result.status == "fail" and "accounts_apitoken" in result.summary


def test_deploy_check_is_not_applicable_in_development_and_fails_in_production_with_dev_settings(settings):
    result = run("CLD.9.5.2")
    assert result.status == "not_applicable" and result.evidence["production"] is False
    assert "security.W004" in {i["id"] for i in result.evidence["issues"]}  # what production would refuse
    settings.PRODUCTION = True
    result = run("CLD.9.5.2")
    assert result.status == "fail" and "security.W004" in result.summary


def test_deploy_check_passes_with_production_settings(settings, monkeypatch):
    from mamori.audit import signing
    from mamori.lifecycle import keys

    keys.get_key_provider()  # make sure the development keys exist, then configure them as production's
    signing.key_id()
    monkeypatch.setenv("MAMORI_MASTER_KEY_FILE", str(keys.dev_key_path()))
    monkeypatch.setenv("MAMORI_SIGNING_KEY_FILE", str(signing._dev_key_path()))
    settings.PRODUCTION = True
    settings.DEBUG = False
    settings.PASSWORD_HASHERS = ARGON2
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECRET_KEY = "Mamori-production-secret-key-for-the-deploy-check-test-0123456789abcdef"
    settings.ALLOWED_HOSTS = ["saas.example.com"]
    settings.MAMORI_PROVIDER_MFA = True  # the test suite turns staff MFA off; production keeps it on
    result = run("CLD.9.5.2")
    assert result.status == "pass", result.evidence["issues"]
    assert "HSTS 31536000 s" in result.summary and result.evidence["issues"] == []
    settings.SECURE_HSTS_SECONDS = 3600  # one hardening setting weakened: the control fails naming it
    result = run("CLD.9.5.2")
    assert result.status == "fail" and "mamori.E105" in result.summary


def test_crypto_passes_and_names_every_secret_column(tenant, admin):
    result = run("10.1.1")
    assert result.status == "pass", result.summary
    columns = result.evidence["secret_columns"]
    assert columns["siem.WebhookSubscription.secret"] == "encrypted"
    assert columns["accounts.User.password"] == "hashed"
    assert columns["lifecycle.TenantDataKey.wrapped_key"] == "wrapped"
    assert "unprotected" not in result.evidence["counts"] and result.evidence["master_key_id"]


def test_crypto_fails_on_a_secret_stored_in_clear(tenant, admin):
    from mamori.sso.models import SsoConnection

    with tenant_context(tenant):
        SsoConnection.objects.create(name="Okta", client_secret_encrypted="plain-client-secret")
    result = run("10.1.1")
    assert result.status == "fail"
    assert result.evidence["live_violations"] == {"sso.SsoConnection.client_secret_encrypted": 1}


def test_crypto_fails_on_a_new_secret_column_without_protection(monkeypatch):
    from mamori.lifecycle import walk

    monkeypatch.setitem(walk._EXTRA_SECRET_FIELDS, "records.Workspace", {"name"})
    result = run("10.1.1")
    assert result.status == "fail" and "records.Workspace.name" in result.summary


def test_crypto_fails_when_the_master_key_is_unusable(monkeypatch):
    monkeypatch.setenv("MAMORI_MASTER_KEY", "not a key")
    from mamori.lifecycle import keys

    keys.clear_cache()
    result = run("10.1.1")
    keys.clear_cache()
    assert result.status == "fail" and "master key unavailable" in result.summary


def test_algorithms_listed():
    result = run("18.1.5")
    assert result.status == "pass" and "AES-256-GCM" in result.summary and "Ed25519" in result.summary


def test_checks_see_every_tenant_even_with_one_active(tenant, admin, other_tenant, outsider):
    """The fixtures leave ``tenant`` active; the runner reads every tenant in its own context."""
    with use_tenant(tenant):
        result = run("9.2.2")
    assert result.evidence["users_per_role"]["tenant_admin"] >= 2
    assert connection.vendor in ("sqlite", "postgresql")
