"""An admin-set initial password stops signing in after MAMORI_INITIAL_PASSWORD_HOURS (ASVS 6.4.1)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from mamori.accounts import actions
from mamori.accounts.backends import initial_password_expired
from mamori.accounts.models import User
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent

INITIAL = "a fresh initial passphrase 42"
LOGIN = "/t/acme/accounts/login/"


@pytest.fixture
def newcomer(tenant, admin):
    return actions.create_user(actor=Actor.for_user(admin), email="new@acme.example", name="New",
                               password=INITIAL)


def _age(user, hours: float) -> None:
    User.objects.filter(pk=user.pk).update(password_changed_at=timezone.now() - timedelta(hours=hours))
    user.refresh_from_db()


def test_a_fresh_initial_password_signs_in_and_must_be_changed(newcomer):
    _age(newcomer, 71)
    response = Client().post(LOGIN, {"login": newcomer.email, "password": INITIAL})
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action="auth.initial_password_expired").exists()


def test_an_expired_initial_password_is_refused_with_its_reason_and_audited(newcomer):
    _age(newcomer, 73)
    assert initial_password_expired(newcomer)
    response = Client().post(LOGIN, {"login": newcomer.email, "password": INITIAL}, HTTP_ACCEPT_LANGUAGE="ja")
    html = response.content.decode()
    assert response.status_code == 200
    assert "初期パスワードの有効期限が切れています" in html
    event = AuditEvent.objects.get(action="auth.initial_password_expired")
    assert event.target_id == str(newcomer.pk) and event.after["reason"] == "initial_password_expired"
    assert "_auth_user_id" not in Client().session


def test_a_wrong_password_gets_the_usual_answer_without_the_reason(newcomer):
    _age(newcomer, 500)
    response = Client().post(LOGIN, {"login": newcomer.email, "password": "not the password at all"},
                             HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert "initial password has expired" not in html and "初期パスワード" not in html
    assert not AuditEvent.objects.filter(action="auth.initial_password_expired").exists()


def test_passwords_chosen_by_the_user_never_expire_this_way(newcomer):
    actions.change_password(actor=Actor.for_user(newcomer), user=newcomer, current_password=INITIAL,
                            password="my own long passphrase 2026")
    _age(newcomer, 10_000)
    assert not initial_password_expired(newcomer)
    response = Client().post(LOGIN, {"login": newcomer.email, "password": "my own long passphrase 2026"})
    assert response.status_code == 302


def test_zero_hours_turns_the_expiry_off(newcomer, settings):
    settings.INITIAL_PASSWORD_MAX_AGE_HOURS = 0
    _age(newcomer, 10_000)
    assert not initial_password_expired(newcomer)
