"""Brute force and enumeration on the sign-in page (issue 4, item 5): growing delays through the
login form, one lockout notice to the owner, identical answers and hasher work for unknown accounts."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import hashers
from django.test import Client

from mamori.accounts.models import ThrottleCounter
from mamori.audit.models import AuditEvent
from tests.accounts.lifecycle_fixtures import deliver
from tests.accounts.signin_support import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

UNKNOWN = "nobody@acme.example"


@pytest.fixture(autouse=True)
def _throttle(settings):
    settings.MAMORI_THROTTLE = {"account": {"lock_after": 3, "forget": 3600},
                                "ip": {"lock_after": 50, "forget": 600}, "base": 30, "max": 900}
    # allauth's own limit (the second layer) out of the way, so these tests see Mamori's throttle.
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "1000/m/ip,1000/5m/key"}


def _normalised(response, email: str) -> str:
    """The page with what legitimately differs removed: the typed address and CSRF tokens."""
    html = response.content.decode()
    html = html.replace(email, "EMAIL")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", html)


def _wait_shown(response) -> int:
    """The seconds the page tells the user to wait (0 when it says nothing of the sort)."""
    match = re.search(r"(\d+) (?:秒|seconds)", response.content.decode())
    return int(match.group(1)) if match else 0


def _age_counters(seconds: float) -> None:
    for row in ThrottleCounter.objects.all():
        if row.blocked_until:
            row.blocked_until -= timedelta(seconds=seconds)
        row.last_failure_at -= timedelta(seconds=seconds)
        row.save()


def test_wrong_password_and_unknown_account_get_the_same_page(tenant, editor):
    known = sign_in(editor.email, "wrong password")
    unknown = sign_in(UNKNOWN, "wrong password")
    assert known.status_code == unknown.status_code == 200
    assert _normalised(known, editor.email) == _normalised(unknown, UNKNOWN)


def test_suspended_account_gets_the_same_page_too(tenant, editor):
    editor.is_active = False
    editor.save(update_fields=["is_active"])
    known = sign_in(editor.email, PASSWORD)
    unknown = sign_in(UNKNOWN, PASSWORD)
    assert known.status_code == unknown.status_code == 200
    assert _normalised(known, editor.email) == _normalised(unknown, UNKNOWN)


def _hasher_work(email: str, password: str = "wrong password") -> int:
    """How many times the password hasher ran for one sign-in attempt."""
    calls = []
    real_encode = hashers.MD5PasswordHasher.encode

    def counting(self, *args, **kwargs):
        calls.append(1)
        return real_encode(self, *args, **kwargs)

    with mock.patch.object(hashers.MD5PasswordHasher, "encode", counting):
        sign_in(email, password)
    return len(calls)


def test_unknown_account_runs_the_hasher_as_often_as_a_known_one(tenant, editor):
    """Coarse timing equivalence: the expensive part (hashing) runs once either way."""
    assert _hasher_work(editor.email) == _hasher_work(UNKNOWN) == 1


def test_unknown_account_runs_argon2_once_as_a_known_one(tenant, user_factory, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    user = user_factory(tenant, "argon@acme.example", "editor")
    assert user.password.startswith("argon2")

    def work(email):
        """Argon2 computations (a hash for the unknown address, a verification for the known one)."""
        hasher = hashers.Argon2PasswordHasher
        with mock.patch.object(hasher, "encode", autospec=True, side_effect=hasher.encode) as encode, \
             mock.patch.object(hasher, "verify", autospec=True, side_effect=hasher.verify) as verify:
            sign_in(email, "wrong password")
        return encode.call_count + verify.call_count

    assert work(user.email) == work(UNKNOWN) == 1


def test_locked_attempts_are_refused_without_checking_the_password(tenant, editor):
    for _ in range(3):
        sign_in(editor.email, "wrong password")
    assert _hasher_work(editor.email, PASSWORD) == 0  # refused before the hasher
    response = sign_in(editor.email, PASSWORD)
    assert response.status_code == 200 and "_auth_user_id" not in response.client.session
    assert 25 <= _wait_shown(response) <= 30  # "try again in 30 seconds"
    # Refused attempts are not failures: the next allowed attempt still gets the same delay step.
    assert ThrottleCounter.objects.get(scope="account").failures == 3
    _age_counters(31)
    response = sign_in(editor.email, PASSWORD)
    assert response.status_code == 302
    assert not ThrottleCounter.objects.filter(scope="account").exists()  # success resets the account


def test_the_throttle_answers_the_same_for_an_unknown_account(tenant, editor):
    for email in (editor.email, UNKNOWN):
        for _ in range(3):
            sign_in(email, "wrong password")
    known, unknown = sign_in(editor.email, "x"), sign_in(UNKNOWN, "x")

    def wait_free(page: str) -> str:  # the seconds left may tick between the two requests
        return re.sub(r"\d+ (秒|seconds)", "N", page)

    assert wait_free(_normalised(known, editor.email)) == wait_free(_normalised(unknown, UNKNOWN))
    assert 25 <= _wait_shown(known) <= 30


def test_delays_grow_with_each_failure(tenant, editor):
    for expected in (30, 60, 120):
        for _ in range(3 if expected == 30 else 1):
            sign_in(editor.email, "wrong password")
        row = ThrottleCounter.objects.get(scope="account")
        assert abs((row.blocked_until - row.last_failure_at).total_seconds() - expected) < 1
        _age_counters(expected + 1)


def test_lockout_mails_the_owner_once_and_is_audited(tenant, editor, mailoutbox,
                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            sign_in(editor.email, "wrong password", ip="198.51.100.8")
        _age_counters(31)
        sign_in(editor.email, "wrong password", ip="198.51.100.8")  # a longer wait, same episode
    deliver()
    assert [m.to for m in mailoutbox] == [[editor.email]]
    assert "198.51.100.8" in mailoutbox[0].body
    [lockout] = AuditEvent.objects.filter(action="auth.lockout")
    assert lockout.target_id == str(editor.pk) and lockout.after["scope"] == ["account"]
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 4


def test_lockout_of_an_unknown_account_mails_nobody(tenant, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            sign_in(UNKNOWN, "wrong password")
    deliver()
    assert mailoutbox == []
    [lockout] = AuditEvent.objects.filter(action="auth.lockout")
    assert lockout.target_id == "" and lockout.target_label == UNKNOWN


def test_per_address_throttle_stops_password_spraying(tenant, editor, settings):
    settings.MAMORI_THROTTLE = {**settings.MAMORI_THROTTLE, "ip": {"lock_after": 4, "forget": 600}}
    for n in range(4):
        sign_in(f"guess{n}@acme.example", "wrong password", ip="198.51.100.66")
    blocked = sign_in(editor.email, PASSWORD, ip="198.51.100.66")
    assert "_auth_user_id" not in blocked.client.session
    elsewhere = sign_in(editor.email, PASSWORD, ip="203.0.113.1")
    assert elsewhere.status_code == 302


def test_forged_forwarded_for_does_not_escape_the_address_throttle(tenant, editor, settings):
    settings.MAMORI_THROTTLE = {**settings.MAMORI_THROTTLE, "ip": {"lock_after": 2, "forget": 600}}
    client = Client()
    for n in range(2):
        client.post("/t/acme/accounts/login/", {"login": f"g{n}@acme.example", "password": "x"},
                    REMOTE_ADDR="198.51.100.70", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    response = client.post("/t/acme/accounts/login/", {"login": editor.email, "password": PASSWORD},
                           REMOTE_ADDR="198.51.100.70", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_reauthentication_is_throttled_too(tenant, editor, console_client):
    client = console_client(editor, reauthenticated=False)
    for _ in range(3):
        client.post("/t/acme/accounts/reauthenticate/", {"password": "wrong password"})
    response = client.post("/t/acme/accounts/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 200 and 25 <= _wait_shown(response) <= 30
    failed = AuditEvent.objects.filter(action="auth.login_failed").first()
    assert failed.after["method"] == "reauthentication"


def test_a_password_reset_lets_the_owner_sign_in_at_once(tenant, editor, mailoutbox):
    for _ in range(3):
        sign_in(editor.email, "wrong password")
    assert sign_in(editor.email, PASSWORD).status_code == 200  # locked
    client = Client()
    client.post("/t/acme/accounts/password/reset/", {"email": editor.email})
    path = re.search(r"(/t/acme/accounts/password/reset/key/\S+/)", mailoutbox[-1].body).group(1)
    page = client.get(path, follow=True)
    action_url = page.redirect_chain[-1][0] if page.redirect_chain else path
    new = "another long passphrase 77"
    assert client.post(action_url, {"password1": new, "password2": new}).status_code == 302
    assert sign_in(editor.email, new).status_code == 302


def test_creating_an_api_token_needs_a_recent_password(tenant, admin, console_client):
    from mamori.accounts.models import ApiToken

    stale = console_client(admin, reauthenticated=False)
    response = stale.post("/t/acme/tokens/new/", {"name": "ci", "expires_in_days": "30"})
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    assert not ApiToken.objects.filter(name="ci").exists()
    fresh = console_client(admin)
    assert fresh.post("/t/acme/tokens/new/", {"name": "ci", "expires_in_days": "30"}).status_code in (200, 302)
    assert ApiToken.objects.filter(name="ci").exists()
