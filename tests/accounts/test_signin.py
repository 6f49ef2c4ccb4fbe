"""E-mail + password sign-in is per tenant (allauth, tenant-scoped backend)."""

from django.test import Client

from mamori.audit.models import AuditEvent
from tests.conftest import PASSWORD


def test_sign_in_at_own_tenant(tenant, admin):
    client = Client()
    response = client.post("/t/acme/accounts/login/", {"login": admin.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/t/acme/"
    assert AuditEvent.objects.filter(action="auth.login", actor_id=str(admin.pk)).exists()


def test_credentials_of_tenant_a_never_sign_in_at_tenant_b(tenant, admin, other_tenant):
    client = Client()
    response = client.post("/t/globex/accounts/login/", {"login": admin.email, "password": PASSWORD})
    assert response.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in client.session


def test_same_email_in_two_tenants_is_two_accounts(tenant, other_tenant, user_factory):
    from mamori.access.roles import Role

    a = user_factory(tenant, "same@example.com", Role.EDITOR, password="password-for-acme-1")
    b = user_factory(other_tenant, "same@example.com", Role.EDITOR, password="password-for-globex-2")
    assert a.pk != b.pk
    client = Client()
    bad = client.post("/t/globex/accounts/login/", {"login": "same@example.com", "password": "password-for-acme-1"})
    assert bad.status_code == 200
    good = client.post("/t/globex/accounts/login/", {"login": "same@example.com", "password": "password-for-globex-2"})
    assert good.status_code == 302


def test_session_of_tenant_a_is_anonymous_at_tenant_b(tenant, admin, other_tenant, console_client):
    client = console_client(admin)
    response = client.get("/t/globex/")
    assert response.status_code == 302
    assert response["Location"].startswith("/t/globex/accounts/login/")


def test_unknown_tenant_is_404(db):
    response = Client().get("/t/nope/")
    assert response.status_code == 404


def test_sign_in_writes_nothing_to_allauths_global_email_table(tenant, admin, console_client):
    from allauth.account.models import EmailAddress

    console_client(admin).get("/t/acme/")
    assert EmailAddress.objects.count() == 0


def test_signup_and_email_management_are_not_mounted(tenant):
    client = Client()
    assert client.get("/t/acme/accounts/signup/").status_code == 404
    assert client.get("/t/acme/accounts/email/").status_code == 404
