"""Accounts actions and their audit events."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from mamori.access.errors import NotFound
from mamori.access.roles import Role
from mamori.accounts import actions
from mamori.accounts.models import ApiToken, LoginLink, User
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent


def last_event(action):
    return AuditEvent.objects.filter(action=action).order_by("-id").first()


def test_create_user_with_initial_password_must_change(admin):
    user = actions.create_user(actor=Actor.for_user(admin), email="new@acme.example", name="New",
                               role=Role.EDITOR, password="a long initial password 123")
    assert user.must_change_password
    event = last_event("user.created")
    assert event.after["email"] == "new@acme.example" and "password" not in event.after


def test_create_user_refuses_duplicates_and_bad_email(admin):
    with pytest.raises(ValidationError) as exc:
        actions.create_user(actor=Actor.for_user(admin), email="ADMIN@acme.example")
    assert "email" in exc.value.message_dict
    with pytest.raises(ValidationError):
        actions.create_user(actor=Actor.for_user(admin), email="not-an-email")


def test_login_link_is_single_use_and_expires(admin):
    user = actions.create_user(actor=Actor.for_user(admin), email="link@acme.example")
    secret = actions.issue_login_link(actor=Actor.for_user(admin), user=user)
    assert last_event("user.login_link_created").target_id == str(user.pk)
    link = LoginLink.objects.get(user=user)
    assert link.token_hash != secret and len(secret) >= 43  # 256 bits, stored hashed
    assert actions.consume_login_link(secret=secret) == user
    assert last_event("user.login_link_used").actor_id == str(user.pk)
    with pytest.raises(NotFound):
        actions.consume_login_link(secret=secret)
    secret2 = actions.issue_login_link(actor=Actor.for_user(admin), user=user)
    LoginLink.objects.filter(used_at__isnull=True).update(expires_at=timezone.now())
    with pytest.raises(NotFound):
        actions.consume_login_link(secret=secret2)


def test_welcome_link_signs_in_and_requires_password(tenant, admin):
    user = actions.create_user(actor=Actor.for_user(admin), email="first@acme.example")
    secret = actions.issue_login_link(actor=Actor.for_user(admin), user=user)
    client = Client()
    assert client.get(f"/t/acme/welcome/{secret}/").status_code == 200  # GET does not consume
    response = client.post(f"/t/acme/welcome/{secret}/")
    assert response["Location"] == "/t/acme/account/set-password/"
    # Anything else redirects to the password page until one is set.
    assert client.get("/t/acme/")["Location"] == "/t/acme/account/set-password/"
    weak = client.post("/t/acme/account/set-password/", {"password1": "short", "password2": "short"})
    assert weak.status_code == 200 and "password1" in weak.context["form"].errors
    ok = client.post("/t/acme/account/set-password/",
                     {"password1": "a much longer passphrase 42", "password2": "a much longer passphrase 42"})
    assert ok["Location"] == "/t/acme/"
    assert last_event("user.password_set").after == {"password": "[redacted]"}
    assert User.objects.get(pk=user.pk).check_password("a much longer passphrase 42")
    # The used link is now a clear error page, and changes nothing.
    again = Client().post(f"/t/acme/welcome/{secret}/")
    assert again.status_code == 404


def test_welcome_link_of_tenant_a_is_unknown_at_tenant_b(tenant, admin, other_tenant):
    user = actions.create_user(actor=Actor.for_user(admin), email="first@acme.example")
    secret = actions.issue_login_link(actor=Actor.for_user(admin), user=user)
    assert Client().post(f"/t/globex/welcome/{secret}/").status_code == 404


def test_api_token_create_and_revoke(admin, api_client):
    token, raw = actions.create_api_token(actor=Actor.for_user(admin), user=admin, name="ci")
    assert raw.startswith(f"mmr_{admin.tenant_id}_") and token.secret_hash not in raw
    event = last_event("api_token.created")
    assert event.after["prefix"] == token.prefix and raw not in str(event.after)
    actions.revoke_api_token(actor=Actor.for_user(admin), token_id=token.pk)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert last_event("api_token.revoked").target_id == str(token.pk)


def test_api_token_of_other_user_cannot_be_revoked_by_editor(admin, editor):
    token, _raw = actions.create_api_token(actor=Actor.for_user(admin), user=admin, name="ci")
    with pytest.raises(NotFound):
        actions.revoke_api_token(actor=Actor.for_user(editor), token_id=token.pk)


def test_a_viewer_cannot_create_their_own_api_token(tenant, admin, viewer):
    """The matrix gives viewers no api.use: refused (and audited); an admin may still
    issue a read-only token for them."""
    from mamori.access.errors import PermissionDenied
    from mamori.accounts.actions import create_api_token
    from mamori.accounts.models import ApiToken
    from mamori.audit.events import Actor
    from mamori.audit.models import AuditEvent

    with pytest.raises(PermissionDenied):
        create_api_token(actor=Actor.for_user(viewer), user=viewer, name="mine")
    assert not ApiToken.objects.filter(user=viewer).exists()
    assert AuditEvent.objects.filter(action="access.denied", actor_id=str(viewer.pk)).exists()
    token, _raw = create_api_token(actor=Actor.for_user(admin), user=viewer, name="integration")
    assert token.user_id == viewer.pk
