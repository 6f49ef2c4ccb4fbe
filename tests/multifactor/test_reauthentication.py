"""Users without a password (SSO-only) re-authenticate with their second factor."""

import time

from allauth.socialaccount.models import SocialAccount
from django.test import Client

from mamori.accounts.models import User
from mamori.audit.models import AuditEvent
from mamori.tenancy.context import apply_db_tenant, use_tenant
from tests.multifactor.helpers import code, enrol, freeze

PAGE = "/t/acme/settings/password-policy/"


def _restore(tenant):
    apply_db_tenant(tenant.pk)


def test_sso_only_admin_confirms_a_sensitive_change_with_a_totp_code(admin, monkeypatch):
    freeze(monkeypatch)
    secret = enrol(admin)
    with use_tenant(admin.tenant):  # as for a user created by SSO just-in-time
        user = User.objects.get(pk=admin.pk)
        user.set_unusable_password()
        user.save()
        SocialAccount.objects.create(user=user, provider="sso1", uid="https://idp.example#admin")
    client = Client()
    client.force_login(user)
    session = client.session  # signed in by SSO an hour ago: no recent authentication
    session["account_authentication_methods"] = [
        {"method": "socialaccount", "at": time.time() - 3600, "provider": "sso1", "uid": "x"}]
    session.save()
    form = {"min_length": "14", "max_length": "128", "allowed_symbols": "", "class_rule": "none",
            "min_classes": "3", "expiry_days": "0", "history_count": "0", "refuse_common": "on",
            "refuse_similar": "on"}
    response = client.post(PAGE, form)
    _restore(admin.tenant)
    assert response.status_code == 302
    if response["Location"].endswith("/accounts/reauthenticate/"):
        # No password: allauth sends the user on to the second-factor re-authentication.
        response = client.get(response["Location"])
        _restore(admin.tenant)
    assert response.status_code == 302 and "/accounts/2fa/reauthenticate/" in response["Location"]
    response = client.post(response["Location"], {"code": code(secret)})
    _restore(admin.tenant)
    assert response.status_code in (200, 302), response.content[:300]
    with use_tenant(admin.tenant):
        assert AuditEvent.objects.filter(action="security.password_policy_updated").exists()


def test_sso_only_admin_without_a_second_factor_is_sent_to_set_one_up(admin):
    """allauth would wave such a user through; Mamori asks for a second factor first."""
    with use_tenant(admin.tenant):
        user = User.objects.get(pk=admin.pk)
        user.set_unusable_password()
        user.save()
        SocialAccount.objects.create(user=user, provider="sso1", uid="https://idp.example#admin")
    client = Client()
    client.force_login(user)
    response = client.post(PAGE, {"min_length": "14"})
    _restore(admin.tenant)
    assert response.status_code == 302 and response["Location"].endswith("/accounts/2fa/")
    with use_tenant(admin.tenant):
        assert not AuditEvent.objects.filter(action="security.password_policy_updated").exists()
