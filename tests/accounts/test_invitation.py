"""Invitations: one-time, hashed, expiring links; GET never uses them up; reused, expired,
revoked or tampered links are a clear page and change nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from mamori.access.errors import NotFound
from mamori.access.roles import Role
from mamori.accounts import actions
from mamori.accounts.models import Invitation, User
from mamori.accounts.secrets import hash_secret
from mamori.audit.events import Actor
from tests.accounts import lifecycle_fixtures as fixtures
from tests.accounts.lifecycle_fixtures import STRONG, deliver, events, is_signed_in

# Shared fixtures (pytest finds them by name in this module).
org = fixtures.org
unit_admin = fixtures.unit_admin

LINK = re.compile(r"https?://\S+(/t/acme/invitation/([A-Za-z0-9_-]+)/)")


@pytest.fixture
def invite(admin, mailoutbox, django_capture_on_commit_callbacks):
    """Invite someone and return (user, path, secret) parsed out of the delivered mail."""

    def _invite(email="new@acme.example", **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            invitation = actions.invite_user(actor=Actor.for_user(admin), email=email, **kwargs)
        deliver()
        mail = [m for m in mailoutbox if m.to == [email]][-1]
        path, secret = LINK.search(mail.body).groups()
        return invitation.user, path, secret

    return _invite


def register(path, password=STRONG, name="Newcomer", client=None):
    client = client or Client()
    return client, client.post(path, {"name": name, "password1": password, "password2": password})


def test_invite_creates_an_invited_user_and_a_hashed_expiring_link(admin, org, invite, mailoutbox, settings):
    user, path, secret = invite(name="Nina", role=Role.EDITOR, unit_ids=[org["sales"].pk], language="en")
    assert user.is_invited and not user.has_usable_password() and user.role == Role.EDITOR
    assert len(secret) >= 22  # ≥ 128 bits, URL-safe base64
    invitation = Invitation.objects.get(user=user)
    assert invitation.token_hash == hash_secret(secret) and secret not in invitation.token_hash
    hours = (invitation.expires_at - invitation.created_at).total_seconds() / 3600
    assert round(hours) == settings.INVITATION_MAX_AGE_HOURS == 72
    event = events("user.invited")[-1]
    assert event.after["email"] == "new@acme.example" and secret not in str(event.after)
    [mail] = mailoutbox
    assert "invited" in mail.subject and "Acme" in mail.subject
    assert mail.body.count(path) == 1 and "72 hours" in mail.body


def test_mail_language_follows_the_user_else_the_tenant(invite, mailoutbox):
    invite(email="ja@acme.example")  # tenant "acme" is Japanese
    invite(email="en@acme.example", language="en")
    ja, en = mailoutbox
    assert "招待" in ja.subject and "招待" in ja.body
    assert "You are invited" in en.subject


def test_expiry_is_configurable(admin, settings):
    settings.INVITATION_MAX_AGE_HOURS = 5
    invitation = actions.invite_user(actor=Actor.for_user(admin), email="short@acme.example")
    assert timedelta(hours=4.9) < invitation.expires_at - timezone.now() <= timedelta(hours=5)


def test_no_mail_when_the_invitation_fails(admin, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        actions.invite_user(actor=Actor.for_user(admin), email=admin.email)
    deliver()
    assert mailoutbox == []


def test_get_shows_a_form_and_never_uses_the_link(invite):
    user, path, _secret = invite()
    for _ in range(3):
        page = Client().get(path)
        assert page.status_code == 200 and "password1" in page.context["form"].fields
    assert Invitation.objects.get(user=user).is_pending
    assert not events("user.registered")


def test_registration_sets_the_password_signs_in_and_uses_the_link_once(invite):
    user, path, secret = invite()
    client, response = register(path)
    assert response.status_code == 302 and response["Location"] == "/t/acme/"
    assert is_signed_in(client)
    user.refresh_from_db()
    assert user.check_password(STRONG) and user.name == "Newcomer" and not user.is_invited
    assert Invitation.objects.get(user=user).accepted_at is not None
    assert events("user.registered")[-1].actor_id == str(user.pk)
    # Reuse: a clear page, and nothing changes.
    again_client, again = register(path, password="a different passphrase 77")
    assert again.status_code == 404 and "cannot be used" in again.content.decode() or "使用できません" in again.content.decode()
    user.refresh_from_db()
    assert user.check_password(STRONG) and not is_signed_in(again_client)
    with pytest.raises(NotFound):
        actions.accept_invitation(secret=secret, password="a different passphrase 77")


def test_weak_password_is_refused_with_a_field_error_and_the_link_stays(invite):
    user, path, _secret = invite()
    _client, response = register(path, password="short")
    assert response.status_code == 200 and "password1" in response.context["form"].errors
    mismatch = Client().post(path, {"password1": STRONG, "password2": STRONG + "x"})
    assert "password2" in mismatch.context["form"].errors
    assert Invitation.objects.get(user=user).is_pending and User.objects.get(pk=user.pk).is_invited


def test_expired_link_is_a_clear_page_and_changes_nothing(invite):
    user, path, _secret = invite()
    Invitation.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(path).status_code == 404
    _client, response = register(path)
    assert response.status_code == 404
    assert User.objects.get(pk=user.pk).is_invited and not events("user.registered")


@pytest.mark.parametrize("tamper", [
    lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),
    lambda s: s[:-4],
    lambda s: s + "x",
    lambda s: hash_secret(s),  # the stored hash itself is not a key
])
def test_tampered_link_is_a_clear_page_and_changes_nothing(invite, tamper):
    user, path, secret = invite()
    bad = path.replace(secret, tamper(secret))
    assert Client().get(bad).status_code == 404
    _client, response = register(bad)
    assert response.status_code == 404
    assert User.objects.get(pk=user.pk).is_invited and Invitation.objects.get(user=user).is_pending


def test_link_of_tenant_a_is_unknown_at_tenant_b(invite, other_tenant):
    _user, path, _secret = invite()
    assert Client().get(path.replace("/t/acme/", "/t/globex/")).status_code == 404


def test_resend_revokes_earlier_links(admin, invite, mailoutbox, django_capture_on_commit_callbacks):
    user, old_path, _old = invite()
    with django_capture_on_commit_callbacks(execute=True):
        actions.resend_invitation(actor=Actor.for_user(admin), user=user)
    deliver()
    new_path, _new = LINK.search(mailoutbox[-1].body).groups()
    assert new_path != old_path
    assert Client().get(old_path).status_code == 404
    assert register(new_path)[1].status_code == 302
    assert events("user.invitation_resent")[-1].after["revoked"] == 1


def test_cancel_revokes_the_link_and_removes_the_user(admin, invite):
    user, path, _secret = invite()
    actions.cancel_invitation(actor=Actor.for_user(admin), user=user)
    assert not User.objects.filter(pk=user.pk).exists()
    assert Client().get(path).status_code == 404
    assert events("user.invitation_cancelled")[-1].before["email"] == "new@acme.example"


def test_resend_and_cancel_refuse_registered_users(admin, editor):
    for run in (actions.resend_invitation, actions.cancel_invitation):
        with pytest.raises(ValidationError):
            run(actor=Actor.for_user(admin), user=editor)
    assert User.objects.filter(pk=editor.pk).exists()


def test_suspending_an_invited_user_revokes_the_link(admin, invite):
    user, path, _secret = invite()
    actions.suspend_user(actor=Actor.for_user(admin), user=user)
    assert Client().get(path).status_code == 404


def test_unit_admin_invites_only_into_their_units(unit_admin, org, invite):
    from mamori.accounts.actions import invite_user

    invitation = invite_user(actor=Actor.for_user(unit_admin), email="ua-new@acme.example",
                             unit_ids=[org["east"].pk])
    assert invitation.user.role == Role.VIEWER

